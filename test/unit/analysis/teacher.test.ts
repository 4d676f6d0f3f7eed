import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { BadInputError } from '../../../src/analysis/util/errors';
import { cutModel, defaultTargetLayer, listLayers, loadLayersModel, loadTeacher, saveLayersModel } from '../../../src/analysis/teacher/teacher';
import { checkpointHash } from '../../../src/analysis/teacher/tfjsFiles';

function smallCnn(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  return m;
}

function residualCnn(): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 6, 2], name: 'img' });
  const a = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }).apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'b' }).apply(a) as tfl.SymbolicTensor;
  const s = tfl.layers.add({ name: 'sum' }).apply([a, b]) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(s) as tfl.SymbolicTensor;
  const o = tfl.layers.dense({ units: 2, name: 'logits' }).apply(g) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: o });
}

test('teacher: save, load, list layers, cut; head(trunk(x)) equals the model output', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-teacher-'));
  try {
    const m = smallCnn();
    await saveLayersModel(m, dir);
    const loaded = await loadLayersModel(dir);
    const layers = listLayers(loaded);
    assert.deepEqual(
      layers.map((l) => l.name),
      ['conv1', 'pool1', 'conv2', 'flat', 'out'],
    );
    assert.deepEqual(layers[2].outputShape, [null, 4, 4, 6]);
    assert.equal(defaultTargetLayer(loaded), 'conv2');
    const x = tf.randomUniform([5, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const ref = m.predict(x) as tf.Tensor;
    for (const name of ['conv1', 'pool1', 'conv2']) {
      const { trunk, head, featureShape } = cutModel(loaded, name);
      const f = trunk.predict(x) as tf.Tensor;
      assert.deepEqual(f.shape.slice(1), featureShape);
      const y = head.predict(f) as tf.Tensor;
      const diff = tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0];
      assert.ok(diff < 1e-5, `head(trunk(x)) differs from f(x) by ${diff} at ${name}`);
      // The head takes a modified feature, not only the trunk's own output.
      const y2 = head.predict(tf.zerosLike(f)) as tf.Tensor;
      assert.deepEqual(y2.shape, ref.shape);
    }
    const t = await loadTeacher(dir);
    assert.equal(t.targetLayer, 'conv2');
    assert.equal(t.probabilities, true);
    assert.match(t.hash, /^[0-9a-f]{64}$/);
    assert.equal(t.hash, checkpointHash(join(dir, 'model.json')));
    await assert.rejects(loadTeacher(dir, 'nope'), (e: unknown) => e instanceof BadInputError && /conv1, pool1, conv2, flat, out/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('teacher: functional model with a skip connection', async () => {
  await useBackend('cpu');
  const m = residualCnn();
  assert.equal(defaultTargetLayer(m), 'sum');
  const x = tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
  const ref = m.predict(x) as tf.Tensor;
  const { trunk, head } = cutModel(m, 'sum');
  const diff = tf.max(tf.abs(tf.sub(head.predict(trunk.predict(x) as tf.Tensor) as tf.Tensor, ref))).dataSync()[0];
  assert.ok(diff < 1e-5);
  // 'a' feeds both 'b' and the sum: cutting after 'b' alone leaves a path around it.
  assert.throws(
    () => cutModel(m, 'b'),
    (e: unknown) => e instanceof BadInputError && /does not separate/.test(e.message),
  );
});

test('teacher: missing and corrupt checkpoints give clear errors', async () => {
  await useBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'fc-teacher-'));
  try {
    await assert.rejects(loadLayersModel(join(dir, 'none')), (e: unknown) => e instanceof BadInputError && /does not exist/.test(e.message));
    await assert.rejects(loadLayersModel(dir), (e: unknown) => e instanceof BadInputError && /no model.json/.test(e.message));
    await saveLayersModel(smallCnn(), dir);
    const json = readFileSync(join(dir, 'model.json'), 'utf8');
    truncateSync(join(dir, 'weights.bin'), 10);
    await assert.rejects(loadLayersModel(dir), (e: unknown) => e instanceof BadInputError && /truncated/.test(e.message));
    rmSync(join(dir, 'weights.bin'));
    await assert.rejects(loadLayersModel(dir), (e: unknown) => e instanceof BadInputError && /missing weight shard weights.bin/.test(e.message));
    writeFileSync(join(dir, 'model.json'), json.slice(0, 50));
    await assert.rejects(loadLayersModel(dir), (e: unknown) => e instanceof BadInputError && /not a readable JSON/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
