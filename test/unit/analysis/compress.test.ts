import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { Rng } from '../../../src/analysis/util/random';
import { trainedFixture } from '../../fixtures/variants/smallCnn';
import { compressModel, magnitudeMask, prunableKernels, sensitivityFraction, shareWeights } from '../../../src/analysis/experiments/compress';
import { BadInputError } from '../../../src/analysis/util/errors';
import { loadLayersModel } from '../../../src/analysis/teacher/teacher';

test('magnitude mask zeroes exactly the smallest share, and masks of a growing share are nested', () => {
  const w = Float32Array.from([0.5, -0.1, 0.05, -2, 0.1, 0.3, -0.3, 0.0]);
  const m = magnitudeMask(w, 0.5);
  assert.deepEqual(Array.from(m), [1, 0, 0, 1, 0, 1, 1, 0]);
  const ties = magnitudeMask(Float32Array.from([1, 1, 1, 1]), 0.5);
  assert.equal(
    ties.reduce((a, b) => a + b, 0),
    2,
    'ties are cut to the exact count',
  );
  // Iterative pruning: the zeros of a round are the smallest magnitudes of the next, so they stay zero.
  const rng = new Rng(4);
  let x = Float32Array.from({ length: 1000 }, () => rng.normal());
  let zeros = new Set<number>();
  for (const share of [0.2, 0.4, 0.6]) {
    const mask = magnitudeMask(x, share);
    x = Float32Array.from(x, (v, i) => v * mask[i] + (mask[i] ? 0.01 * rng.normal() : 0));
    const now = new Set([...x.keys()].filter((i) => x[i] === 0));
    for (const i of zeros) assert.ok(now.has(i), 'a pruned weight stays pruned');
    assert.equal(now.size, share * 1000);
    zeros = now;
  }
});

test('Han et al.’s sensitivity: the share of weights under sensitivity · std', () => {
  const rng = new Rng(2);
  const w = Float32Array.from({ length: 20000 }, () => 0.1 * rng.normal());
  // A normal law has 68.3 % of its mass within one standard deviation, 38.3 % within a half.
  assert.ok(Math.abs(sensitivityFraction(w, 1) - 0.683) < 0.01, String(sensitivityFraction(w, 1)));
  assert.ok(Math.abs(sensitivityFraction(w, 0.5) - 0.383) < 0.01, String(sensitivityFraction(w, 0.5)));
  assert.equal(sensitivityFraction(w, 0), 0);
  assert.equal(sensitivityFraction(Float32Array.from([1, -1, 1, -1]), 1.01), 1);
});

test('k-means weight sharing: at most 2^bits shared values, zeros kept, each weight at its nearest centre, centres the means of their weights', () => {
  const rng = new Rng(1);
  const big = Float32Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? 0 : rng.normal()));
  for (const bits of [2, 5, 8]) {
    const s = shareWeights(big, bits);
    const nonZero = new Set(s.values);
    nonZero.delete(0);
    assert.ok(nonZero.size <= 2 ** bits && nonZero.size > 2 ** bits / 2, `${nonZero.size} values at ${bits} bits`);
    assert.ok(s.iterations > 1);
    for (let i = 0; i < big.length; i++) {
      if (big[i] === 0) {
        assert.equal(s.values[i], 0);
        assert.equal(s.assignment[i], -1);
        continue;
      }
      assert.equal(s.values[i], s.centroids[s.assignment[i]]);
      // Lloyd's fixed point: no other centre is nearer (up to float32 rounding of the centres).
      const d = Math.abs(big[i] - s.centroids[s.assignment[i]]);
      for (const c of s.centroids) assert.ok(d <= Math.abs(big[i] - c) + 1e-6);
    }
    for (let j = 0; j < s.centroids.length; j++) {
      const members = [...big.keys()].filter((i) => s.assignment[i] === j).map((i) => big[i]);
      if (members.length) assert.ok(Math.abs(members.reduce((a, b) => a + b, 0) / members.length - s.centroids[j]) < 1e-5);
    }
  }
  // Fewer distinct values than codes: kept exactly.
  const few = Float32Array.from([0, 0.5, -1, 0.5, 2]);
  const s = shareWeights(few, 2);
  assert.deepEqual(Array.from(s.values), Array.from(few));
  assert.equal(s.iterations, 0);
  // Two well separated groups and 1 bit: the two group means (k-means, not a uniform grid).
  const two = Float32Array.from([1, 1.1, 1.2, 5, 5.5, 6, 6.5]);
  assert.deepEqual(
    Array.from(shareWeights(two, 1).centroids).map((v) => Number(v.toFixed(4))),
    [1.1, 5.75],
  );
  assert.throws(() => shareWeights(big, 0), RangeError);
});

test('compress: iterative pruning with retraining and k-means weight sharing give a loadable model of the same architecture', async () => {
  await useBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'fc-compress-'));
  try {
    const { model, data } = await trainedFixture(root);
    const out = join(root, 'compressed');
    const before = tf.memory().numTensors;
    const report = await compressModel(model, data, out, { pruneSteps: 3, epochs: 1, quantEpochs: 1 });
    assert.ok(tf.memory().numTensors - before <= 2, `${tf.memory().numTensors - before} tensors left`);
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'compress.json')));
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'compress.json'), 'utf8')).testAccuracy, report.testAccuracy);
    assert.deepEqual(report.criterion, { kind: 'sensitivity', sensitivity: 1 });
    assert.equal(report.samples, 400, 'retrained on the whole training split');
    assert.equal(report.trainingSamples, 400);
    // The overall zero share grows round by round to Han's target (about 68 % of normal-ish weights at sensitivity 1).
    assert.equal(report.schedule.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(report.schedule[i].sparsity > report.schedule[i - 1].sparsity, JSON.stringify(report.schedule));
    assert.ok(report.sparsity > 0.45 && report.sparsity < 0.85, `final zero share ${report.sparsity}`);
    assert.ok(Math.abs(report.pruningRate - 1 / (1 - report.sparsity)) < 1e-9);
    const orig = await loadLayersModel(model);
    const comp = await loadLayersModel(out);
    try {
      assert.deepEqual(
        comp.layers.map((l) => l.name),
        orig.layers.map((l) => l.name),
      );
      assert.equal(comp.countParams(), orig.countParams());
      const kernels = prunableKernels(comp);
      assert.deepEqual(
        kernels.map((k) => k.kind),
        ['conv', 'conv', 'dense'],
      );
      const origKernels = prunableKernels(orig);
      for (const [i, k] of kernels.entries()) {
        const w = k.kernel.read().dataSync() as Float32Array;
        const w0 = origKernels[i].kernel.read().dataSync() as Float32Array;
        const zeros = w.filter((v) => v === 0).length / w.length;
        // Each kernel reaches its own target: the share of its trained weights under 1 · std.
        assert.ok(Math.abs(zeros - sensitivityFraction(w0, 1)) <= 1 / w.length + 1e-9, `${k.layer.name}: ${zeros} zeros, target ${sensitivityFraction(w0, 1)}`);
        const shared = new Set(w);
        shared.delete(0);
        assert.ok(shared.size <= 2 ** (k.kind === 'conv' ? 8 : 5), `${k.layer.name}: ${shared.size} shared values`);
        assert.equal(report.layers[i].distinct, shared.size);
      }
      // The dense kernel has more non-zero weights than 5-bit codes: it really is shared.
      assert.ok(report.layers[2].distinct <= 32 && (kernels[2].kernel.read().dataSync() as Float32Array).filter((v) => v !== 0).length > 32);
      assert.ok(report.testAccuracy.original > 0.6, `the fixture learned its task: ${report.testAccuracy.original}`);
      assert.ok(report.testAccuracy.fineTuned > report.testAccuracy.original - 0.15, JSON.stringify(report.testAccuracy));
    } finally {
      orig.dispose();
      comp.dispose();
    }
    // A uniform fraction instead of the sensitivity.
    const half = await compressModel(model, data, join(root, 'half'), { sparsity: 0.5, pruneSteps: 2, epochs: 1, quantEpochs: 0 });
    assert.deepEqual(half.criterion, { kind: 'sparsity', sparsity: 0.5 });
    for (const l of half.layers) assert.ok(Math.abs(l.zeros - 0.5) < 0.02, `${l.layer}: ${l.zeros}`);
    assert.equal(half.testAccuracy.fineTuned, half.testAccuracy.quantized, 'no fine-tuning epochs: the shared model is the saved one');
    await assert.rejects(compressModel(join(root, 'nope'), data, join(root, 'x')), BadInputError);
    await assert.rejects(compressModel(model, data, join(root, 'x'), { pruneSteps: 0 }), BadInputError);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
