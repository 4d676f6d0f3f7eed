/**
 * ONNX and PyTorch teachers against the reference outputs PyTorch computed when it exported the
 * fixtures (scripts/make-fixtures.py): logits, accuracy, the cut into trunk and head, errors.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { BadInputError } from '../../../src/analysis/util/errors';
import { loadOnnxTeacher, readOnnx } from '../../../src/analysis/teacher/onnx';
import { exportTorchToOnnx } from '../../../src/analysis/teacher/pytorch';
import { checkTeacherFits, loadTeacher, teacherStats } from '../../../src/analysis/teacher/teacher';

const F = join(__dirname, '..', '..', 'fixtures', 'formats');
const ref = JSON.parse(readFileSync(join(F, 'torch_ref.json'), 'utf8')) as {
  testAccuracy: number;
  testLogits: number[][];
  featureShapeNCHW: number[];
  testFeatureSum: number[];
};
const isBad = (re: RegExp) => (e: unknown) => e instanceof BadInputError && re.test(e.message);

function maxDiff(a: number[][], b: number[][]): number {
  let d = 0;
  a.forEach((row, i) => row.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

function testImages(n: number): { x: tf.Tensor4D; data: ReturnType<typeof loadDataset> } {
  const data = loadDataset(join(F, 'data.npz'));
  const size = 8 * 8 * 3;
  return { x: tf.tensor4d(data.test.images.subarray(0, n * size), [n, 8, 8, 3]), data };
}

test('onnx: outputs, accuracy and the default cut match PyTorch', async () => {
  await useBackend('cpu');
  const t = await loadTeacher(join(F, 'cnn.onnx'));
  try {
    assert.equal(t.format, 'onnx');
    assert.equal(t.layout, 'NCHW');
    assert.deepEqual(t.inputShape, [8, 8, 3]);
    // The last 4-d tensor before GlobalAveragePool: the second ReLU.
    assert.equal(t.targetLayer, '/Relu_1_output_0');
    const [c, h, w] = ref.featureShapeNCHW;
    assert.deepEqual(t.featureShape, [h, w, c]);
    assert.ok(t.layers.some((l) => l.name === '/conv1/Conv_output_0' && l.outputShape.join(',') === ',8,8,8'));
    const { x, data } = testImages(8);
    const y = await t.runModel(x);
    const d = maxDiff(y.arraySync() as number[][], ref.testLogits);
    assert.ok(d <= 1e-4, `ONNX logits differ from PyTorch by ${d}`);
    const f = await t.runTrunk(x);
    const sums = (tf.sum(f, [1, 2, 3]).arraySync() as number[]).map((v, i) => Math.abs(v - ref.testFeatureSum[i]));
    assert.ok(Math.max(...sums) <= 1e-3, `feature sums differ by ${Math.max(...sums)}`);
    const y2 = await t.runHead(f);
    assert.ok(tf.max(tf.abs(tf.sub(y, y2))).dataSync()[0] <= 1e-5, 'head(trunk(x)) ≠ model(x)');
    // The head takes a modified feature.
    const z = await t.runHead(tf.zerosLike(f));
    assert.deepEqual(z.shape, [8, 4]);
    const idx = Int32Array.from({ length: data.test.count }, (_, i) => i);
    const stats = await teacherStats(t, data.test, idx, 16);
    assert.ok(Math.abs(stats.accuracy - ref.testAccuracy) < 1e-6, `accuracy ${stats.accuracy} vs PyTorch ${ref.testAccuracy}`);
    await checkTeacherFits(t, data);
    await assert.rejects(t.runHead(tf.zeros([1, 2, 2, 8]) as tf.Tensor4D), isBad(/head takes 4×4×8/));
    await assert.rejects(t.runModel(tf.zeros([1, 9, 9, 3]) as tf.Tensor4D), isBad(/expects 8×8×3/));
    tf.dispose([x, y, f, y2, z]);
  } finally {
    await t.dispose();
  }
});

test('onnx: cut at another tensor; bad layer names and non-feature tensors are refused', async () => {
  await useBackend('cpu');
  const t = await loadOnnxTeacher(join(F, 'cnn.onnx'), '/Relu_output_0');
  const { x } = testImages(4);
  const f = await t.runTrunk(x);
  assert.deepEqual(f.shape, [4, 8, 8, 8]);
  const d = tf.max(tf.abs(tf.sub(await t.runHead(f), await t.runModel(x)))).dataSync()[0];
  assert.ok(d <= 1e-5);
  await t.dispose();
  await assert.rejects(loadOnnxTeacher(join(F, 'cnn.onnx'), 'nope'), isBad(/no tensor named 'nope'.*\/Relu_1_output_0/));
  await assert.rejects(loadOnnxTeacher(join(F, 'cnn.onnx'), '/Flatten_output_0'), isBad(/needs a float N×C×H×W/));
  await assert.rejects(loadOnnxTeacher(join(F, 'cnn.onnx'), 'logits'), isBad(/needs a float N×C×H×W|model's output/));
});

test('onnx: corrupt files, NaN weights and dataset mismatches give BadInputError', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-onnx-'));
  try {
    const buf = readFileSync(join(F, 'cnn.onnx'));
    writeFileSync(join(dir, 'trunc.onnx'), buf.subarray(0, 1000));
    await assert.rejects(loadTeacher(join(dir, 'trunc.onnx')), isBad(/trunc\.onnx/));
    writeFileSync(join(dir, 'empty.onnx'), Buffer.alloc(0));
    await assert.rejects(loadTeacher(join(dir, 'empty.onnx')), isBad(/empty file/));
    writeFileSync(join(dir, 'text.onnx'), 'this is not a model');
    await assert.rejects(loadTeacher(join(dir, 'text.onnx')), isBad(/text\.onnx/));
    // A NaN in conv1's weights.
    const m = readOnnx(join(F, 'cnn.onnx'));
    const w = m.graph?.initializer?.find((t) => t.name === 'conv1.weight') as onnx.TensorProto;
    const raw = new Float32Array(Uint8Array.from(w.rawData).buffer);
    raw[5] = NaN;
    w.rawData = new Uint8Array(raw.buffer);
    writeFileSync(join(dir, 'nan.onnx'), onnx.ModelProto.encode(m).finish());
    await assert.rejects(loadTeacher(join(dir, 'nan.onnx')), isBad(/conv1\.weight.*NaN/));
    // 10 classes in the data, 4 outputs in the model.
    const t = await loadTeacher(join(F, 'cnn.onnx'));
    const data = loadDataset(join(F, 'data.npz'));
    data.numClasses = 10;
    await assert.rejects(checkTeacherFits(t, data), isBad(/4 outputs/));
    await t.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The Python with torch: $FC_PYTHON, else Debian's /usr/bin/python3; undefined when none has it. */
function torchPython(): string | undefined {
  for (const p of [process.env.FC_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!p) continue;
    const r = spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60000 });
    if (r.status === 0) return p;
  }
  return undefined;
}

const python = torchPython();
const noTorch = python ? false : 'no Python with torch found ($FC_PYTHON, /usr/bin/python3, python3): install python3-torch to run the PyTorch export test';

test('pytorch: TorchScript and state dict checkpoints export to ONNX and match PyTorch', { skip: noTorch, timeout: 240000 }, async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-torch-'));
  try {
    for (const f of ['cnn.torchscript.pt', 'cnn_state.pth', 'tiny_cnn.py']) copyFileSync(join(F, f), join(dir, f));
    const { x } = testImages(8);
    const cacheDir = join(dir, 'cache');
    const opts = { python, inputShape: [8, 8, 3], cacheDir };
    const ts = await loadTeacher(join(dir, 'cnn.torchscript.pt'), undefined, opts);
    assert.equal(ts.format, 'pytorch');
    assert.equal(ts.layout, 'NCHW');
    const d1 = maxDiff((await ts.runModel(x)).arraySync() as number[][], ref.testLogits);
    assert.ok(d1 <= 1e-4, `TorchScript export differs by ${d1}`);
    await ts.dispose();
    // The export is cached: a second load does not run Python again.
    const onnxPath = await exportTorchToOnnx(join(dir, 'cnn.torchscript.pt'), { ...opts, python: '/nonexistent/python' });
    assert.ok(existsSync(onnxPath) && onnxPath.startsWith(cacheDir));

    await assert.rejects(loadTeacher(join(dir, 'cnn_state.pth'), undefined, opts), isBad(/--model-class/));
    const sd = await loadTeacher(join(dir, 'cnn_state.pth'), undefined, { ...opts, modelClass: 'tiny_cnn:TinyCnn' });
    const d2 = maxDiff((await sd.runModel(x)).arraySync() as number[][], ref.testLogits);
    assert.ok(d2 <= 1e-4, `state-dict export differs by ${d2}`);
    await sd.dispose();
    await assert.rejects(loadTeacher(join(dir, 'cnn_state.pth'), undefined, { ...opts, modelClass: 'tiny_cnn:Nope' }), isBad(/cannot import tiny_cnn:Nope/));
    await assert.rejects(
      loadTeacher(join(dir, 'cnn_state.pth'), undefined, { inputShape: [8, 8, 3], cacheDir: join(dir, 'c2'), python: '/nonexistent/python' }),
      isBad(/not found/),
    );
    await assert.rejects(loadTeacher(join(dir, 'cnn_state.pth'), undefined, { python, cacheDir: join(dir, 'c3') }), isBad(/input image size/));
    writeFileSync(join(dir, 'junk.pt'), 'not a checkpoint');
    await assert.rejects(
      loadTeacher(join(dir, 'junk.pt'), undefined, { ...opts, modelClass: 'tiny_cnn:TinyCnn' }),
      isBad(/junk\.pt: PyTorch export to ONNX with '.*' failed/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('onnx: an NHWC-input graph (Transposes inside) gives the same logits and features', async () => {
  await useBackend('cpu');
  const t = await loadTeacher(join(F, 'cnn_nhwc.onnx'));
  const nchw = await loadTeacher(join(F, 'cnn.onnx'));
  try {
    assert.equal(t.layout, 'NHWC');
    // The ReLU after the Transpose back to NHWC, before ReduceMean.
    assert.equal(t.targetLayer, '/Relu_2_output_0');
    assert.deepEqual(t.featureShape, [4, 4, 8]);
    const { x } = testImages(8);
    const d = maxDiff((await t.runModel(x)).arraySync() as number[][], ref.testLogits);
    assert.ok(d <= 1e-4, `NHWC export differs from PyTorch by ${d}`);
    const f = await t.runTrunk(x);
    const g = await nchw.runTrunk(x);
    assert.ok(tf.max(tf.abs(tf.sub(f, g))).dataSync()[0] <= 1e-5, 'NHWC and NCHW graphs give different features');
    assert.ok(tf.max(tf.abs(tf.sub(await t.runHead(f), await t.runModel(x)))).dataSync()[0] <= 1e-5);
    // An NCHW tensor inside the same graph.
    const inner = await loadOnnxTeacher(join(F, 'cnn_nhwc.onnx'), '/Relu_1_output_0');
    const fi = await inner.runTrunk(x);
    assert.ok(tf.max(tf.abs(tf.sub(fi, g))).dataSync()[0] <= 1e-5);
    assert.ok(tf.max(tf.abs(tf.sub(await inner.runHead(fi), await t.runModel(x)))).dataSync()[0] <= 1e-5);
    await inner.dispose();
  } finally {
    await t.dispose();
    await nchw.dispose();
  }
});

test('onnx: a model exported with a fixed batch of 1 runs batches one sample at a time', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-onnx1-'));
  try {
    const m = readOnnx(join(F, 'cnn.onnx'));
    for (const v of [...(m.graph?.input ?? []), ...(m.graph?.output ?? [])]) {
      const d0 = v.type?.tensorType?.shape?.dim?.[0];
      if (d0) {
        d0.dimParam = '';
        d0.dimValue = 1;
      }
    }
    writeFileSync(join(dir, 'b1.onnx'), onnx.ModelProto.encode(m).finish());
    const t = await loadTeacher(join(dir, 'b1.onnx'));
    const { x } = testImages(5);
    const d = maxDiff((await t.runModel(x)).arraySync() as number[][], ref.testLogits.slice(0, 5));
    assert.ok(d <= 1e-4, `batch-1 model differs by ${d}`);
    const f = await t.runTrunk(x);
    assert.deepEqual(f.shape, [5, 4, 4, 8]);
    assert.deepEqual((await t.runHead(f)).shape, [5, 4]);
    await t.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: analyze model.pt --python P runs P, not the first python3 on PATH, which has no torch', { skip: noTorch, timeout: 240000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-torch-cli-'));
  try {
    // A python3 first on PATH without torch, as on a machine whose default Python is not the one with it.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'python3'), '#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n', { mode: 0o755 });
    copyFileSync(join(F, 'cnn.torchscript.pt'), join(dir, 'cnn.torchscript.pt'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    delete env.FC_PYTHON;
    const args = ['--import', 'tsx', join(__dirname, '..', '..', '..', 'src', 'analysis', 'main.ts'), 'analyze', join(dir, 'cnn.torchscript.pt')];
    const rest = ['--data', join(F, 'data.npz'), '--orders', '0', '--budget', 'quick', '--threads', '1', '--out', join(dir, 'r.json')];
    const without = spawnSync(process.execPath, [...args, ...rest], { env, encoding: 'utf8', timeout: 200000 });
    assert.equal(without.status, 2, without.stderr);
    assert.match(without.stderr, /with 'python3' failed: .*No module named 'torch'.*--python PATH/);
    const withPython = spawnSync(process.execPath, [...args, ...rest, '--python', python!], { env, encoding: 'utf8', timeout: 200000 });
    assert.equal(withPython.status, 0, withPython.stderr);
    const r = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { checkpoint: { format?: string }; components: unknown[] };
    assert.equal(r.components.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
