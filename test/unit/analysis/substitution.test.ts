import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { headScore, substitution } from '../../../src/analysis/metrics/substitution';

/** A linear head on 2-d features: logits = [x0, x1, 0]. */
const head = async (f: tf.Tensor) => tf.tidy(() => tf.concat([tf.reshape(f, [f.shape[0], 2]), tf.zeros([f.shape[0], 1])], 1));

test('head score: accuracy and mean cross-entropy in batches', async () => {
  await useBackend('cpu');
  const feats = tf.tensor2d([
    [5, 0],
    [0, 5],
    [0, 0],
    [-5, -5],
    [3, 1],
  ]);
  const labels = [0, 1, 2, 2, 1];
  const s = await headScore(feats, labels, head, 2);
  assert.equal(s.accuracy, 3 / 5, 'samples 0, 1, 3 right; 2 is a tie (argmax picks 0); 4 is wrong');
  const logits = [
    [5, 0, 0],
    [0, 5, 0],
    [0, 0, 0],
    [-5, -5, 0],
    [3, 1, 0],
  ];
  const ce = logits.map((l, i) => Math.log(l.reduce((a, v) => a + Math.exp(v), 0)) - l[labels[i]]);
  assert.ok(Math.abs(s.loss - ce.reduce((a, b) => a + b) / 5) < 1e-5);
  await assert.rejects(headScore(feats, [0, 1], head), RangeError);
  feats.dispose();
});

test('substitution: one entry per order, each Φ scored and disposed', async () => {
  await useBackend('cpu');
  const labels = [0, 1, 0, 1];
  const good = [
    [4, 0],
    [0, 4],
    [4, 0],
    [0, 4],
  ];
  const bad = [
    [0, 4],
    [4, 0],
    [0, 4],
    [4, 0],
  ];
  const made: tf.Tensor[] = [];
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const out = await substitution(
    [0, 3],
    (k) => {
      const t = tf.tensor2d(k === 0 ? bad : good);
      made.push(t);
      return t;
    },
    labels,
    head,
    (k) => seen.push(k),
  );
  assert.deepEqual(
    out.map((e) => e.order),
    [0, 3],
  );
  assert.equal(out[0].testAccuracy, 0);
  assert.equal(out[1].testAccuracy, 1);
  assert.ok(out[1].testLoss < out[0].testLoss);
  assert.deepEqual(seen, [0, 1]);
  assert.ok(made.every((t) => t.isDisposed));
  assert.equal(tf.memory().numTensors, before);
});
