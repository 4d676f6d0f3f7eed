/** Least squares with intercept and repeated-split validation on synthetic data with known answers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossValidate, fitLinear, meanAbsoluteError, predictLinear, rSquared } from '../../../src/analysis/metrics/regression';
import { mulberry32 } from '../../../src/analysis/util/random';

function synthetic(m: number, w: number[], b: number, noise: number, seed: number) {
  const rand = mulberry32(seed);
  const x = Array.from({ length: m }, () => w.map(() => rand()));
  const y = x.map((row) => b + row.reduce((s, v, i) => s + v * w[i], 0) + noise * (rand() - 0.5));
  return { x, y };
}

test('noiseless data: the fit recovers the coefficients and the intercept exactly', () => {
  const w = [0.5, -2, 3, 0, 1.25, -0.75, 4, 0.1];
  const { x, y } = synthetic(25, w, 0.3, 0, 1);
  const model = fitLinear(x, y);
  assert.ok(Math.abs(model.intercept - 0.3) < 1e-9, `intercept ${model.intercept}`);
  model.coefficients.forEach((c, i) => assert.ok(Math.abs(c - w[i]) < 1e-9, `w${i}: ${c} vs ${w[i]}`));
  assert.ok(Math.abs(predictLinear(model, x[3]) - y[3]) < 1e-9);
  assert.ok(
    Math.abs(
      rSquared(
        y,
        x.map((r) => predictLinear(model, r)),
      ) - 1,
    ) < 1e-12,
  );
});

test('noisy data: coefficients close, held-out MAE near the noise level', () => {
  const w = [2, -1, 0.5];
  const { x, y } = synthetic(400, w, 1, 0.2, 2);
  const model = fitLinear(x, y);
  model.coefficients.forEach((c, i) => assert.ok(Math.abs(c - w[i]) < 0.05, `w${i}: ${c}`));
  const cv = crossValidate(x, y, { repeats: 50, seed: 3 });
  // Uniform noise of width 0.2 has mean absolute value 0.05.
  assert.ok(Math.abs(cv.maeTest - 0.05) < 0.01, `MAE ${cv.maeTest}`);
  assert.ok(cv.maeTrain <= cv.maeTest + 1e-3);
  assert.ok(cv.r2Test > 0.95);
  assert.notEqual(crossValidate(x, y, { repeats: 50, seed: 4 }).maeTest, cv.maeTest, 'another seed draws other splits');
});

test('repeated 80/20 splits on noiseless data: MAE ≈ 0, R² = 1, seeded and reproducible', () => {
  const { x, y } = synthetic(25, [1, 2, -3, 0.5, 0, 0, 2, -1], 5, 0, 4);
  const cv = crossValidate(x, y, { repeats: 200, seed: 9 });
  assert.equal(cv.trainSize, 20);
  assert.equal(cv.testSize, 5);
  assert.ok(cv.maeTest < 1e-8, `MAE ${cv.maeTest}`);
  assert.ok(Math.abs(cv.r2Test - 1) < 1e-10);
  assert.deepEqual(crossValidate(x, y, { repeats: 200, seed: 9 }), cv);
  cv.heldOutPrediction.forEach((p, i) => assert.ok(Math.abs(p - y[i]) < 1e-8));
});

test('fewer samples than features, or collinear features, still give the minimum-norm fit', () => {
  // Two identical columns: the weight is shared equally between them.
  const x = [
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4],
  ];
  const y = [2, 4, 6, 8];
  const model = fitLinear(x, y);
  assert.ok(Math.abs(model.coefficients[0] - 1) < 1e-9 && Math.abs(model.coefficients[1] - 1) < 1e-9);
  const wide = fitLinear(
    [
      [1, 0, 0, 2],
      [0, 1, 0, 1],
      [0, 0, 1, 0],
    ],
    [1, 2, 3],
  );
  [
    [1, 0, 0, 2],
    [0, 1, 0, 1],
    [0, 0, 1, 0],
  ].forEach((r, i) => assert.ok(Math.abs(predictLinear(wide, r) - (i + 1)) < 1e-9));
});

test('bad inputs are errors', () => {
  assert.throws(() => fitLinear([[1], [2]], [1]), RangeError);
  assert.throws(() => fitLinear([[1], [NaN]], [1, 2]), RangeError);
  assert.throws(() => crossValidate([[1], [2]], [1, 2]), RangeError);
  assert.equal(meanAbsoluteError([1, 2], [2, 0]), 1.5);
  assert.ok(Number.isNaN(rSquared([1, 1], [1, 2])));
});
