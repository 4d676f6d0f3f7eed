import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../../src/analysis/backend';
import { distillModel, studentStride } from '../../src/analysis/distill';
import { BadInputError } from '../../src/analysis/errors';
import { defaultTargetLayer, loadLayersModel, loadTeacher } from '../../src/analysis/teacher';
import { trainedFixture } from '../fixtures/variants/smallCnn';

test('student stride: the input size over the feature size', () => {
  assert.equal(studentStride(28, 7), 4);
  assert.equal(studentStride(8, 8), 1);
  assert.throws(() => studentStride(28, 5), BadInputError);
});

test('distill: a loadable, shallower model with the original head that mimics the target feature', async () => {
  await useBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'fc-distill-'));
  try {
    const { model, data } = await trainedFixture(root);
    const out = join(root, 'distilled');
    const report = await distillModel(model, data, out, { epochs: 30, width: 16, learningRate: 1e-2 });
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'distill.json')));
    assert.equal(report.targetLayer, 'conv2');
    assert.equal(report.head, 'original, frozen');
    assert.deepEqual(report.reluLayers, { original: 2, student: 1 });
    const m = await loadLayersModel(out);
    try {
      // 8×8 → 4×4: one stride-2 5×5 conv (one ReLU layer, the original has two) and the 1×1 feature conv, then the original flatten + dense.
      assert.deepEqual(m.layers.map((l) => l.name), ['image', 'student_conv', 'student_feature', 'flat', 'out']);
      assert.equal(defaultTargetLayer(m), 'student_feature');
      assert.deepEqual(m.getLayer('student_feature').outputShape, [null, 4, 4, 8]);
      const orig = await loadLayersModel(model);
      try {
        const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
        assert.ok(same(Array.from(m.getLayer('out').getWeights()[0].dataSync()), Array.from(orig.getLayer('out').getWeights()[0].dataSync())), 'the head is the original one');
      } finally {
        orig.dispose();
      }
    } finally {
      m.dispose();
    }
    assert.ok(report.featureFit > 0.5, `feature fit ${report.featureFit}`);
    assert.ok(report.testAccuracy.distilled > 0.5, JSON.stringify(report.testAccuracy));
    // The distilled model is a teacher like any other.
    const t = await loadTeacher(out);
    assert.equal(t.targetLayer, 'student_feature');
    await t.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
