/** Effectiveness and over-fitting ratios from Shapley values and component variances. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveness } from '../../../src/analysis/metrics/effectiveness';
import { overfitting } from '../../../src/analysis/metrics/overfitting';

test('α_effective = φ_train / sqrt(Var[c]) per order; the residue player is ignored', () => {
  const out = effectiveness([0, 2, 4], [0.6, 0.2, -0.05, 0.01], [9, 0.25, 0.01, 4]);
  assert.deepEqual(
    out.map((e) => e.order),
    [0, 2, 4],
  );
  assert.ok(Math.abs((out[0].alpha ?? NaN) - 0.2) < 1e-12);
  assert.ok(Math.abs((out[1].alpha ?? NaN) - 0.4) < 1e-12);
  assert.ok(Math.abs((out[2].alpha ?? NaN) + 0.5) < 1e-12);
  assert.equal(out[1].phiTrain, 0.2);
});

test('a component without variance has no effectiveness (null, not NaN or Infinity)', () => {
  const out = effectiveness([0], [0.3], [0]);
  assert.equal(out[0].alpha, null);
  assert.equal(JSON.parse(JSON.stringify(out))[0].alpha, null);
});

test('α_overfit = φ_gap / φ_train per order, null where φ_train = 0', () => {
  const out = overfitting([0, 8], [0.02, 0.1], [0.5, 0]);
  assert.ok(Math.abs((out[0].alpha ?? NaN) - 0.04) < 1e-12);
  assert.equal(out[0].phiGap, 0.02);
  assert.equal(out[1].alpha, null);
});

test('too few values for the orders is an error', () => {
  assert.throws(() => effectiveness([0, 2], [0.1], [1, 1]), RangeError);
  assert.throws(() => overfitting([0, 2], [0.1, 0.2], [1]), RangeError);
  assert.throws(() => effectiveness([0], [0.1], [-1]), RangeError);
});
