/**
 * Keras .h5 / .keras checkpoints rebuilt as TF.js models, against the outputs of the TF.js model
 * they were written from (scripts/make-fixtures.ts), and the errors for what cannot be loaded.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { BadInputError } from '../../../src/analysis/util/errors';
import { h5wasm, keras3ToKeras2, loadKerasModel } from '../../../src/analysis/teacher/keras';
import { loadTeacher, teacherStats } from '../../../src/analysis/teacher/teacher';

const F = join(__dirname, '..', '..', 'fixtures', 'formats');
const ref = JSON.parse(readFileSync(join(F, 'keras_ref.json'), 'utf8')) as {
  testAccuracy: number;
  testOutputs: number[][];
  defaultLayer: string;
  featureShape: number[];
};
const isBad = (re: RegExp) => (e: unknown) => e instanceof BadInputError && re.test(e.message);

for (const file of ['keras_cnn.h5', 'keras_cnn.keras']) {
  test(`keras: ${file} gives the source model's outputs and accuracy`, async () => {
    await useBackend('cpu');
    const t = await loadTeacher(join(F, file));
    assert.equal(t.format, file.endsWith('.h5') ? 'keras-h5' : 'keras');
    assert.equal(t.layout, 'NHWC');
    assert.equal(t.targetLayer, ref.defaultLayer);
    assert.deepEqual(t.featureShape, ref.featureShape);
    assert.equal(t.probabilities, true);
    assert.deepEqual(
      t.layers.map((l) => l.name),
      ['image', 'conv1', 'bn1', 'conv2', 'pool', 'out'],
    );
    const data = loadDataset(join(F, 'data.npz'));
    const x = tf.tensor4d(data.test.images.subarray(0, 8 * 192), [8, 8, 8, 3]);
    const y = (await t.runModel(x)).arraySync() as number[][];
    let d = 0;
    y.forEach((row, i) => row.forEach((v, j) => (d = Math.max(d, Math.abs(v - ref.testOutputs[i][j])))));
    assert.ok(d <= 1e-4, `${file}: outputs differ from the source model by ${d}`);
    const f = await t.runTrunk(x);
    const d2 = tf.max(tf.abs(tf.sub(await t.runHead(f), await t.runModel(x)))).dataSync()[0];
    assert.ok(d2 <= 1e-6);
    const stats = await teacherStats(
      t,
      data.test,
      Int32Array.from({ length: data.test.count }, (_, i) => i),
    );
    assert.ok(Math.abs(stats.accuracy - ref.testAccuracy) < 1e-6, `accuracy ${stats.accuracy} vs ${ref.testAccuracy}`);
    await assert.rejects(loadTeacher(join(F, file), 'nope'), isBad(/no layer named 'nope'/));
    await t.dispose();
  });
}

test('keras: Keras 3 serialisation is rewritten to the Keras 2 form', () => {
  const k3 = {
    module: 'keras.layers',
    class_name: 'Dense',
    config: { name: 'd', units: 2, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null } },
    registered_name: null,
    build_config: { input_shape: [null, 3] },
    name: 'd',
    inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { shape: [null, 3], dtype: 'float32', keras_history: ['inp', 0, 0] } }], kwargs: {} }],
  };
  assert.deepEqual(keras3ToKeras2(k3), {
    class_name: 'Dense',
    config: { name: 'd', units: 2, dtype: 'float32' },
    name: 'd',
    inbound_nodes: [[['inp', 0, 0, {}]]],
  });
});

test('keras: unsupported layers, weights-only files, NaN and misshapen weights are named', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-keras-'));
  try {
    // A custom layer class in the config.
    const zip = unzipSync(new Uint8Array(readFileSync(join(F, 'keras_cnn.keras'))));
    const cfg = JSON.parse(Buffer.from(zip['config.json']).toString('utf8'));
    cfg.config.layers[2].class_name = 'MyCustomNorm';
    writeFileSync(join(dir, 'custom.keras'), zipSync({ ...zip, 'config.json': strToU8(JSON.stringify(cfg)) }));
    await assert.rejects(loadKerasModel(join(dir, 'custom.keras')), isBad(/MyCustomNorm are not supported by TF\.js/));
    const noWeights = { ...zip };
    delete noWeights['model.weights.h5'];
    writeFileSync(join(dir, 'noweights.keras'), zipSync(noWeights));
    await assert.rejects(loadKerasModel(join(dir, 'noweights.keras')), isBad(/no model\.weights\.h5/));

    const h5 = await h5wasm();
    // save_weights() output: layer_names at the root, no model_config.
    const f = new h5.File(join(dir, 'weights_only.h5'), 'w');
    f.create_attribute('layer_names', ['conv1']);
    f.close();
    await assert.rejects(loadKerasModel(join(dir, 'weights_only.h5')), isBad(/weights only/));

    // The fixture with one NaN and, separately, one wrong shape.
    const src = new h5.File(join(F, 'keras_cnn.h5'), 'r');
    const config = src.attrs['model_config'].value as string;
    const kernel = (src.get('model_weights/conv1/conv1/kernel:0') as unknown as { value: Float32Array }).value;
    src.close();
    const write = (name: string, conv1Kernel: Float32Array, shape: number[]) => {
      const out = new h5.File(join(dir, name), 'w');
      out.create_attribute('model_config', config);
      const mw = out.create_group('model_weights');
      const g = mw.create_group('conv1');
      g.create_attribute('weight_names', ['conv1/kernel:0', 'conv1/bias:0']);
      const s = g.create_group('conv1');
      s.create_dataset({ name: 'kernel:0', data: conv1Kernel, shape, dtype: '<f' });
      s.create_dataset({ name: 'bias:0', data: new Float32Array(8), shape: [8], dtype: '<f' });
      out.close();
    };
    const nan = Float32Array.from(kernel);
    nan[3] = NaN;
    write('nan.h5', nan, [3, 3, 3, 8]);
    await assert.rejects(loadKerasModel(join(dir, 'nan.h5')), isBad(/conv1\/kernel:0.*NaN/));
    write('shape.h5', kernel.subarray(0, 3 * 3 * 3 * 4), [3, 3, 3, 4]);
    await assert.rejects(loadKerasModel(join(dir, 'shape.h5')), isBad(/shape \[3, 3, 3, 4\].*needs \[3, 3, 3, 8\]/));

    writeFileSync(join(dir, 'fake.h5'), 'not hdf5');
    await assert.rejects(loadTeacher(join(dir, 'fake.h5')), isBad(/not an HDF5 file/));
    writeFileSync(join(dir, 'fake.keras'), 'not a zip');
    await assert.rejects(loadTeacher(join(dir, 'fake.keras')), isBad(/not a zip archive/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keras: augmentation layers (identity at inference) are kept as linear layers', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-keras-aug-'));
  try {
    const zip = unzipSync(new Uint8Array(readFileSync(join(F, 'keras_cnn.keras'))));
    const cfg = JSON.parse(Buffer.from(zip['config.json']).toString('utf8'));
    const layers = cfg.config.layers as { name: string; inbound_nodes: { args: { config: { keras_history: unknown[] } }[] }[] }[];
    const conv1 = layers.find((l) => l.name === 'conv1') as (typeof layers)[number];
    const aug = {
      module: 'keras.layers',
      class_name: 'RandomFlip',
      config: { name: 'augment', trainable: true, dtype: 'float32', mode: 'horizontal', seed: null },
      registered_name: null,
      name: 'augment',
      inbound_nodes: JSON.parse(JSON.stringify(conv1.inbound_nodes)),
    };
    conv1.inbound_nodes[0].args[0].config.keras_history = ['augment', 0, 0];
    layers.splice(1, 0, aug);
    writeFileSync(join(dir, 'aug.keras'), zipSync({ ...zip, 'config.json': strToU8(JSON.stringify(cfg)) }));
    const t = await loadTeacher(join(dir, 'aug.keras'));
    assert.ok(t.layers.some((l) => l.name === 'augment' && l.className === 'Activation'));
    const data = loadDataset(join(F, 'data.npz'));
    const y = (await t.runModel(tf.tensor4d(data.test.images.subarray(0, 8 * 192), [8, 8, 8, 3]))).arraySync() as number[][];
    let d = 0;
    y.forEach((row, i) => row.forEach((v, j) => (d = Math.max(d, Math.abs(v - ref.testOutputs[i][j])))));
    assert.ok(d <= 1e-4, `outputs differ by ${d}`);
    await t.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
