import assert from 'node:assert/strict';

/** Shared helpers of the kernel tests. */

/** n deterministic values in [−1, 1) from a linear congruential generator: the same on every backend and run. */
export function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Every value of `got` within `tolerance` × max |want| of `want` (and `want` not all zero). */
export function assertClose(got: Float32Array, want: Float32Array, what: string, tolerance = 1e-4): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 0, `${what}: reference is all zero`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tolerance * scale, `${what}: max error ${worst} vs scale ${scale}`);
}
