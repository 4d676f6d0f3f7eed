/** PCA on hand-checked examples, and the regressor's plane in PCA coordinates. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pca, projectPca, regressionPlaneInPca } from '../../../src/analysis/metrics/pca';
import { fitLinear, predictLinear } from '../../../src/analysis/metrics/regression';
import { mulberry32 } from '../../../src/analysis/util/random';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('points on a line: the first component explains 100% and points along the line', () => {
  const dir = [1, 2, 2].map((v) => v / 3);
  const ts = [-2, -0.5, 0, 1, 3.5];
  const x = ts.map((t) => dir.map((d, i) => 10 * i + t * d));
  const p = pca(x, 2);
  close(p.explainedVarianceRatio[0], 1);
  close(p.explainedVarianceRatio[1], 0);
  p.components[0].forEach((c, i) => close(c, dir[i]));
  const mt = ts.reduce((s, t) => s + t, 0) / ts.length;
  p.scores.forEach((s, i) => close(s[0], ts[i] - mt));
  close(p.explainedVariance[0], ts.reduce((s, t) => s + (t - mt) ** 2, 0) / (ts.length - 1));
});

test('a cross of points: variances 8/3 and 2/3, ratios 0.8 and 0.2, axes as directions', () => {
  const p = pca(
    [
      [2, 0],
      [-2, 0],
      [0, 1],
      [0, -1],
    ],
    2,
  );
  close(p.explainedVariance[0], 8 / 3);
  close(p.explainedVariance[1], 2 / 3);
  close(p.explainedVarianceRatio[0], 0.8);
  close(Math.abs(p.components[0][0]), 1);
  close(Math.abs(p.components[1][1]), 1);
  close(p.mean[0], 0);
});

test('fewer points than dimensions (8-d vectors of 5 models) works', () => {
  const rand = mulberry32(2);
  const x = Array.from({ length: 5 }, () => Array.from({ length: 8 }, () => rand()));
  const p = pca(x, 2);
  assert.equal(p.components.length, 2);
  assert.equal(p.components[0].length, 8);
  close(
    p.components[0].reduce((s, c) => s + c * c, 0),
    1,
  );
  close(
    p.components[0].reduce((s, c, i) => s + c * p.components[1][i], 0),
    0,
  );
  assert.ok(p.explainedVarianceRatio[0] >= p.explainedVarianceRatio[1]);
  p.scores.forEach((s, i) => projectPca(p, x[i]).forEach((v, j) => close(v, s[j])));
});

test('the regressor plane in PCA space reproduces predictions for points in that plane', () => {
  const rand = mulberry32(5);
  // Points that lie exactly in a 2-d affine subspace of R^4.
  const a = [1, 0, 2, -1];
  const b = [0, 1, -1, 3];
  const x = Array.from({ length: 12 }, () => {
    const s = rand() * 4 - 2;
    const t = rand() * 4 - 2;
    return a.map((ai, i) => 0.5 + s * ai + t * b[i]);
  });
  const model = { intercept: 0.7, coefficients: [0.2, -0.4, 1, 0.3] };
  const p = pca(x, 2);
  const plane = regressionPlaneInPca(model, p);
  x.forEach((row, i) => close(plane.intercept + plane.slopes[0] * p.scores[i][0] + plane.slopes[1] * p.scores[i][1], predictLinear(model, row), 1e-8));
  const fitted = fitLinear(
    x,
    x.map((r) => predictLinear(model, r)),
  );
  assert.equal(fitted.coefficients.length, 4);
});
