/**
 * Checkpoint detection and TF.js graph models: the graph executor's outputs against the TF.js
 * layers model the graph was written from; the cut at a node; the dataset-fit checks.
 */
import { strict as assert } from 'node:assert';
import { closeSync, cpSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { BadInputError } from '../../../src/analysis/util/errors';
import { detectCheckpointFormat } from '../../../src/analysis/teacher/teacherSource';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkTeacherFits, loadExemplar, loadTeacher, saveLayersModel, teacherStats } from '../../../src/analysis/teacher/teacher';
import { checkpointHash } from '../../../src/analysis/teacher/tfjsFiles';

const F = join(__dirname, '..', '..', 'fixtures', 'formats');
const ref = JSON.parse(readFileSync(join(F, 'keras_ref.json'), 'utf8')) as { testAccuracy: number; testOutputs: number[][] };
const isBad = (re: RegExp) => (e: unknown) => e instanceof BadInputError && re.test(e.message);

test('formats: detection by name and magic bytes', () => {
  assert.equal(detectCheckpointFormat(join(F, 'graph')), 'tfjs-graph');
  assert.equal(detectCheckpointFormat(join(F, 'graph', 'model.json')), 'tfjs-graph');
  assert.equal(detectCheckpointFormat(join(F, 'keras_cnn.h5')), 'keras-h5');
  assert.equal(detectCheckpointFormat(join(F, 'keras_cnn.keras')), 'keras');
  assert.equal(detectCheckpointFormat(join(F, 'cnn.onnx')), 'onnx');
  assert.equal(detectCheckpointFormat(join(F, 'cnn_state.pth')), 'pytorch');
  assert.throws(() => detectCheckpointFormat(join(F, 'data.npz')), isBad(/unknown checkpoint type '\.npz'/));
  assert.throws(() => detectCheckpointFormat(join(F, 'missing.onnx')), isBad(/does not exist/));
  assert.throws(() => detectCheckpointFormat(join(F, 'cifar')), isBad(/has no model\.json/));
  assert.match(checkpointHash(join(F, 'cnn.onnx')), /^[0-9a-f]{64}$/);
  assert.notEqual(checkpointHash(join(F, 'graph')), checkpointHash(join(F, 'keras_cnn.h5')));
});

test('tfjs graph model: outputs, accuracy and the cut at a node', async () => {
  await useBackend('cpu');
  const t = await loadTeacher(join(F, 'graph'));
  assert.equal(t.format, 'tfjs-graph');
  assert.equal(t.targetLayer, 'conv2/Relu');
  assert.deepEqual(t.featureShape, [4, 4, 8]);
  assert.equal(t.probabilities, true);
  const data = loadDataset(join(F, 'data.npz'));
  const x = tf.tensor4d(data.test.images.subarray(0, 8 * 192), [8, 8, 8, 3]);
  const y = (await t.runModel(x)).arraySync() as number[][];
  let d = 0;
  y.forEach((row, i) => row.forEach((v, j) => (d = Math.max(d, Math.abs(v - ref.testOutputs[i][j])))));
  assert.ok(d <= 1e-4, `graph model outputs differ from the layers model by ${d}`);
  const f = await t.runTrunk(x);
  const d2 = tf.max(tf.abs(tf.sub(await t.runHead(f), await t.runModel(x)))).dataSync()[0];
  assert.ok(d2 <= 1e-6);
  const stats = await teacherStats(
    t,
    data.test,
    Int32Array.from({ length: data.test.count }, (_, i) => i),
  );
  assert.ok(Math.abs(stats.accuracy - ref.testAccuracy) < 1e-6);
  await t.dispose();

  const early = await loadTeacher(join(F, 'graph'), 'bn1/FusedBatchNormV3');
  assert.deepEqual(early.featureShape, [8, 8, 8]);
  const fe = await early.runTrunk(x);
  const d3 = tf.max(tf.abs(tf.sub(await early.runHead(fe), await early.runModel(x)))).dataSync()[0];
  assert.ok(d3 <= 1e-6);
  await early.dispose();
  await assert.rejects(loadTeacher(join(F, 'graph'), 'nope'), isBad(/no node named 'nope'.*conv2\/Relu/));
  await assert.rejects(loadTeacher(join(F, 'graph'), 'pool/Mean'), isBad(/needs a float N×H×W×C/));
});

test('formats: a dataset that does not fit the teacher is refused', async () => {
  await useBackend('cpu');
  const t = await loadTeacher(join(F, 'keras_cnn.h5'));
  await assert.rejects(checkTeacherFits(t, loadDataset(join(F, 'cifar'))), isBad(/expects 8×8×3 images, the dataset has 32×32×3/));
  const data = loadDataset(join(F, 'data.npz'));
  data.numClasses = 7;
  await assert.rejects(checkTeacherFits(t, data), isBad(/labels go up to 6.*4 outputs/));
  await t.dispose();
});

test('tfjs graph model: missing shards, NaN weights', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-graph-'));
  try {
    mkdirSync(join(dir, 'g'));
    cpSync(join(F, 'graph', 'model.json'), join(dir, 'g', 'model.json'));
    await assert.rejects(loadTeacher(join(dir, 'g')), isBad(/missing weight shard/));
    const bin = readFileSync(join(F, 'graph', 'group1-shard1of1.bin'));
    const floats = new Float32Array(Uint8Array.from(bin).buffer);
    floats[2] = Infinity;
    writeFileSync(join(dir, 'g', 'group1-shard1of1.bin'), Buffer.from(floats.buffer));
    await assert.rejects(loadTeacher(join(dir, 'g')), isBad(/conv1\/kernel.*Infinity/));
    writeFileSync(join(dir, 'g', 'group1-shard1of1.bin'), bin.subarray(0, 100));
    await assert.rejects(loadTeacher(join(dir, 'g')), isBad(/truncated or wrong shard/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('formats: huge files are refused before they are read', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-huge-'));
  try {
    // Sparse files: 3 GiB on paper, nothing on disk.
    for (const name of ['huge.onnx', 'huge.keras', 'huge.npz', 'huge.pt']) {
      const fd = openSync(join(dir, name), 'w');
      ftruncateSync(fd, 3 * 2 ** 30);
      closeSync(fd);
    }
    for (const name of ['huge.onnx', 'huge.pt'])
      await assert.rejects(
        loadTeacher(join(dir, name), undefined, { inputShape: [8, 8, 3], python: '/nonexistent' }),
        isBad(new RegExp(`${name}: 3\\.0 GiB is larger than`)),
      );
    // The .keras magic check reads only the first bytes: zeros are not a zip.
    await assert.rejects(loadTeacher(join(dir, 'huge.keras')), isBad(/huge\.keras: not a zip archive/));
    assert.throws(() => loadDataset(join(dir, 'huge.npz')), isBad(/huge\.npz: 3\.0 GiB is more than an \.npz/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exemplars: any format, layer chosen by the target feature size, mismatches named', async () => {
  await useBackend('cpu');
  const target = await loadTeacher(join(F, 'cnn.onnx'));
  // Both cut after their second conv: 4×4 positions.
  const ex = await loadExemplar(join(F, 'keras_cnn.h5'), target);
  assert.equal(ex.targetLayer, 'conv2');
  await ex.dispose();
  await target.dispose();
  // An 8×8 target feature: the exemplar's last 8×8 layer is used.
  const early = await loadTeacher(join(F, 'cnn.onnx'), '/Relu_output_0');
  const ex2 = await loadExemplar(join(F, 'graph'), early);
  assert.equal(ex2.targetLayer, 'bn1/FusedBatchNormV3');
  await ex2.dispose();
  await assert.rejects(
    loadExemplar(join(F, 'keras_cnn.keras'), early, { layer: 'conv2' }),
    isBad(/exemplar .*keras_cnn\.keras: its feature at 'conv2' is 4×4×8, the target's is 8×8×8/),
  );
  await early.dispose();
  // A target with 2×2 positions: no layer of the exemplar fits.
  const dir = mkdtempSync(join(tmpdir(), 'fc-ex-'));
  try {
    const input = tfl.input({ shape: [8, 8, 3] });
    const f = tfl.layers.conv2d({ filters: 4, kernelSize: 4, strides: 4, name: 'coarse' }).apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, name: 'out' }).apply(tfl.layers.flatten().apply(f)) as tfl.SymbolicTensor;
    await saveLayersModel(tfl.model({ inputs: input, outputs: out }), dir);
    const coarse = await loadTeacher(dir);
    assert.deepEqual(coarse.featureShape, [2, 2, 4]);
    await assert.rejects(loadExemplar(join(F, 'cnn.onnx'), coarse), isBad(/exemplar .*cnn\.onnx: .*no layer of it has the target feature's 2×2 positions/));
    await coarse.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
