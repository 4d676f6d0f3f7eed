import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, useBackend } from '../../src/analysis/backend';
import { Rng } from '../../src/analysis/data/rng';
import { trainedFixture } from '../fixtures/variants/smallCnn';
import { compressModel, magnitudeMask, prunableKernels, quantize } from '../../src/analysis/compress';
import { BadInputError } from '../../src/analysis/errors';
import { loadLayersModel } from '../../src/analysis/teacher';

test('magnitude mask zeroes exactly the smallest share; quantisation keeps at most 2^bits values and zeros', () => {
  const w = Float32Array.from([0.5, -0.1, 0.05, -2, 0.1, 0.3, -0.3, 0.0]);
  const m = magnitudeMask(w, 0.5);
  assert.deepEqual(Array.from(m), [1, 0, 0, 1, 0, 1, 1, 0]);
  const ties = magnitudeMask(Float32Array.from([1, 1, 1, 1]), 0.5);
  assert.equal(ties.reduce((a, b) => a + b, 0), 2, 'ties are cut to the exact count');
  const rng = new Rng(1);
  const big = Float32Array.from({ length: 5000 }, () => rng.normal());
  for (const bits of [5, 8]) {
    const q = quantize(big, bits);
    assert.ok(new Set(q).size <= 2 ** bits - 1, `${new Set(q).size} values at ${bits} bits`);
    const max = Math.max(...big.map(Math.abs));
    for (let i = 0; i < big.length; i++) assert.ok(Math.abs(q[i] - big[i]) <= max / (2 ** (bits - 1) - 1) / 2 + 1e-6);
  }
  assert.deepEqual(Array.from(quantize(Float32Array.from([0, 0.5, -1]), 2)), [0, 1, -1]);
  assert.throws(() => quantize(big, 1), RangeError);
});

test('compress: a loadable model of the same architecture, half its kernels zero, 8-bit conv and 5-bit dense values', async () => {
  await useBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'fc-compress-'));
  try {
    const { model, data } = await trainedFixture(root);
    const out = join(root, 'compressed');
    const before = tf.memory().numTensors;
    const report = await compressModel(model, data, out, { epochs: 2 });
    assert.ok(tf.memory().numTensors - before <= 2, `${tf.memory().numTensors - before} tensors left`);
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'compress.json')));
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'compress.json'), 'utf8')).testAccuracy, report.testAccuracy);
    const orig = await loadLayersModel(model);
    const comp = await loadLayersModel(out);
    try {
      assert.deepEqual(comp.layers.map((l) => l.name), orig.layers.map((l) => l.name));
      assert.equal(comp.countParams(), orig.countParams());
      const kernels = prunableKernels(comp);
      assert.deepEqual(kernels.map((k) => k.kind), ['conv', 'conv', 'dense']);
      for (const k of kernels) {
        const w = k.kernel.read().dataSync() as Float32Array;
        const zeros = w.filter((v) => v === 0).length / w.length;
        assert.ok(zeros >= 0.5 - 1 / w.length, `${k.layer.name}: ${zeros} zeros`);
        assert.ok(new Set(w).size <= 2 ** (k.kind === 'conv' ? 8 : 5), `${k.layer.name}: ${new Set(w).size} distinct values`);
      }
      assert.ok(report.testAccuracy.original > 0.6, `the fixture learned its task: ${report.testAccuracy.original}`);
      assert.ok(report.testAccuracy.quantized > report.testAccuracy.original - 0.15, JSON.stringify(report.testAccuracy));
    } finally {
      orig.dispose();
      comp.dispose();
    }
    await assert.rejects(compressModel(join(root, 'nope'), data, join(root, 'x')), BadInputError);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
