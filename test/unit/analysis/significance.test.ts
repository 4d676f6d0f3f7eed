import { test } from 'node:test';
import assert from 'node:assert/strict';
import { components, SignificanceAccumulator, variance } from '../../../src/analysis/metrics/significance';
import { Rng } from '../../../src/analysis/util/random';

function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

test('components and residue sum exactly to f', () => {
  const rng = new Rng(1);
  const n = 7;
  const dim = 5;
  const f = randomArray(rng, n * dim);
  const phis = [randomArray(rng, n * dim), randomArray(rng, n * dim), randomArray(rng, n * dim)];
  const { components: c, residue } = components(f, phis);
  assert.equal(c.length, 3);
  for (let i = 0; i < f.length; i++) {
    const sum = c[0][i] + c[1][i] + c[2][i] + residue[i];
    assert.ok(Math.abs(sum - f[i]) < 1e-5, `sample ${i}: ${sum} vs ${f[i]}`);
  }
  // The first component is Φ of the first order itself, the next ones are differences.
  assert.equal(c[0][3], phis[0][3]);
  assert.ok(Math.abs(c[2][4] - (phis[2][4] - phis[1][4])) < 1e-6);
});

test('variance sums over dimensions: E‖z − E z‖²', () => {
  // Two samples, two dims: z = (1, 2), (3, 6) → per-dim variances 1 and 4.
  assert.ok(Math.abs(variance([1, 2, 3, 6], 2, 2) - 5) < 1e-12);
});

test('significance: ρ of known components, streamed in batches', () => {
  const rng = new Rng(7);
  const n = 4000;
  const dim = 3;
  // f = a + b + r with independent parts of variance 4, 1, 0.25 per dimension.
  const a = randomArray(rng, n * dim, 2);
  const b = randomArray(rng, n * dim, 1);
  const r = randomArray(rng, n * dim, 0.5);
  const f = a.map((v, i) => v + b[i] + r[i] + 10);
  const phi0 = a.map((v) => v + 10);
  const phi1 = a.map((v, i) => v + b[i] + 10);
  const acc = new SignificanceAccumulator([0, 4], dim);
  for (let s = 0; s < n; s += 1000)
    acc.add(f.subarray(s * dim, (s + 1000) * dim), [phi0.subarray(s * dim, (s + 1000) * dim), phi1.subarray(s * dim, (s + 1000) * dim)]);
  const res = acc.result();
  assert.equal(res.samples, n);
  const total = 3 * (4 + 1 + 0.25);
  assert.ok(Math.abs(res.featureVariance - total) / total < 0.06, `Var[f] ${res.featureVariance}`);
  assert.ok(Math.abs(res.components[0].rho - 4 / 5.25) < 0.04, `ρ0 ${res.components[0].rho}`);
  assert.ok(Math.abs(res.components[1].rho - 1 / 5.25) < 0.02, `ρ4 ${res.components[1].rho}`);
  assert.ok(Math.abs(res.residue.rho - 0.25 / 5.25) < 0.01, `residue ${res.residue.rho}`);
  assert.ok(Math.abs(res.components[0].variance - variance(phi0, n, dim)) < 1e-6 * total);
});
