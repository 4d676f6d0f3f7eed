import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { channelStandardizer, distillModel, STUDENT_ORDER, studentStrides } from '../../../src/analysis/experiments/distill';
import { BadInputError } from '../../../src/analysis/util/errors';
import { cutModel, defaultTargetLayer, loadLayersModel, loadTeacher } from '../../../src/analysis/teacher/teacher';
import { trainedFixture } from '../../fixtures/variants/smallCnn';

test('student strides: per stage, downsampling late; a feature larger than the input is refused', () => {
  assert.deepEqual(studentStrides([28, 28], [7, 7]), [
    [1, 1],
    [2, 2],
    [2, 2],
  ]);
  assert.deepEqual(studentStrides([8, 8], [8, 8]), [
    [1, 1],
    [1, 1],
    [1, 1],
  ]);
  assert.throws(() => studentStrides([8, 8], [16, 16]), BadInputError);
});

test('the channel standardiser shifts by the per-channel mean, so the shift folds into a 1×1 conv', () => {
  // 2 samples of a 1×2×2 feature; channel 0 has means 1 and 3 at its two positions, channel 1 has 10 and 20.
  const features = Float32Array.from([0, 10, 2, 20, 2, 10, 4, 20]);
  const split = { images: new Float32Array(2 * 4), labels: new Int32Array(2), count: 2, height: 2, width: 2, channels: 1 };
  const s = channelStandardizer({ split, indices: Int32Array.from([0, 1]), features, featureShape: [1, 2, 2] });
  assert.deepEqual(Array.from(s.outMean), [2, 15, 2, 15]);
});

test('distill: the paper’s student (the disentangler with 7 ReLU layers) under the original head, saved so that it computes the trained Φ', async () => {
  await useBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'fc-distill-'));
  try {
    const { model, data } = await trainedFixture(root);
    const out = join(root, 'distilled');
    const report = await distillModel(model, data, out, { width: 8, budget: 'quick' });
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'distill.json')));
    assert.equal(report.targetLayer, 'conv2');
    assert.equal(report.head, 'original, frozen');
    assert.equal(STUDENT_ORDER, 7);
    assert.deepEqual(report.student, {
      architecture: 'disentangler',
      order: 7,
      width: 8,
      blocks: [2, 2, 3],
      strides: [
        [1, 1],
        [1, 1],
        [2, 2],
      ],
    });
    assert.deepEqual(report.reluLayers, { original: 2, student: 7 });
    const m = await loadLayersModel(out);
    try {
      const names = m.layers.map((l) => l.name);
      assert.deepEqual(names.slice(0, 3), ['image', 'student_standardize', 'student_in']);
      assert.deepEqual(names.slice(-3), ['student_feature', 'flat', 'out']);
      assert.equal(m.layers.filter((l) => l.getClassName() === 'ReLU').length, 7);
      assert.equal(defaultTargetLayer(m), 'student_feature');
      assert.deepEqual(m.getLayer('student_feature').outputShape, [null, 4, 4, 8]);
      const orig = await loadLayersModel(model);
      try {
        const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
        assert.ok(
          same(Array.from(m.getLayer('out').getWeights()[0].dataSync()), Array.from(orig.getLayer('out').getWeights()[0].dataSync())),
          'the head is the original one',
        );
        // The saved student's feature fits the original's as well as the trained Φ did: the export is exact.
        const d = loadDataset(data);
        const x = tf.tensor4d(d.train.images, [d.train.count, d.train.height, d.train.width, 1]);
        const f = cutModel(orig, 'conv2').trunk.predict(x) as tf.Tensor;
        const g = cutModel(m, 'student_feature').trunk.predict(x) as tf.Tensor;
        const fit = tf.tidy(() => 1 - tf.sum(tf.squaredDifference(f, g)).dataSync()[0] / tf.sum(tf.squaredDifference(f, tf.mean(f, 0))).dataSync()[0]);
        tf.dispose([x, f, g]);
        assert.ok(Math.abs(fit - report.featureFit) < 2e-3, `saved model fit ${fit}, trained Φ ${report.featureFit}`);
      } finally {
        orig.dispose();
      }
    } finally {
      m.dispose();
    }
    assert.ok(report.featureFit > 0.5 && report.featureFitTest > 0.5, `feature fit ${report.featureFit} / test ${report.featureFitTest}`);
    assert.ok(report.testAccuracy.distilled > 0.5, JSON.stringify(report.testAccuracy));
    // The distilled model is a teacher like any other.
    const t = await loadTeacher(out);
    assert.equal(t.targetLayer, 'student_feature');
    await t.dispose();
    await assert.rejects(distillModel(model, data, join(root, 'x'), { layer: 'nope' }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
