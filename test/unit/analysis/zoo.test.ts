import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { layersTeacher } from '../../../src/analysis/teacher/teacher';
import { parseFamily, peersOf, resultsDir, zooModels } from '../../../experiments/zoo/common';
import { familyTeacher } from '../../../experiments/zoo/train-zoo';

before(async () => {
  await useBackend('cpu');
});

test('zoo families: names, depths and peers stay within a family, results folders are apart', () => {
  const cnn = zooModels();
  const gap = zooModels('gap');
  assert.equal(cnn.length, 40);
  assert.equal(gap.length, 20);
  assert.ok(gap.every((m) => m.family === 'gap' && m.depth === 3 && m.name === `gap-d3-n${m.samples}-s${m.seed}`));
  const m = gap.find((x) => x.samples === 500 && x.seed === 4)!;
  assert.deepEqual(
    peersOf(m, 2).map((p) => p.name),
    ['gap-d3-n500-s1', 'gap-d3-n500-s2'],
  );
  assert.notEqual(resultsDir('joint', 'full', 'gap'), resultsDir('joint', 'full', 'cnn'));
  assert.ok(resultsDir('joint', 'full', 'gap').endsWith('results-joint-fullex-gap'));
  assert.throws(() => parseFamily('resnet'), /--family cnn\|gap/);
});

test('a gap teacher is cut before its pooling head at a 7×7×64 feature, with the same initial weights for the same seed', async () => {
  const a = familyTeacher('gap', 3, 2);
  const b = familyTeacher('gap', 3, 2);
  const c = familyTeacher('gap', 3, 3);
  const t = layersTeacher(a, 'tfjs-layers');
  assert.equal(t.targetLayer, 'relu3');
  assert.deepEqual(t.featureShape, [7, 7, 64]);
  const w = (m: typeof a) => m.getWeights().map((x) => Array.from(x.dataSync()));
  assert.deepEqual(w(a), w(b));
  assert.notDeepEqual(w(a)[0], w(c)[0]);
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const f = await t.runTrunk(x);
  assert.deepEqual(f.shape, [2, 7, 7, 64]);
  assert.ok((await tf.min(f).data())[0] >= 0, 'the target feature is a ReLU output');
  tf.dispose([x, f]);
  [a, b, c].forEach((m) => m.dispose());
});
