import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { BUDGETS, budgetSpec, converged, learningRate, stepLearningRate } from '../../../src/analysis/pipeline/budget';
import { Rng } from '../../../src/analysis/util/random';
import type { Split } from '../../../src/analysis/data/dataset';
import { BadInputError } from '../../../src/analysis/util/errors';
import { predictSet, trainOrders, type FeatureSet } from '../../../src/analysis/pipeline/train';

test('learning rate is log-spaced from lrStart to lrEnd', () => {
  const b = BUDGETS.reference;
  assert.equal(learningRate(b, 0), 1e-3);
  assert.ok(Math.abs(learningRate(b, b.maxEpochs - 1) - 1e-5) < 1e-12);
  const mid = learningRate(b, (b.maxEpochs - 1) / 2);
  assert.ok(Math.abs(mid - 1e-4) < 1e-9, `midpoint ${mid}`);
  assert.throws(() => budgetSpec('fast'), BadInputError);
});

test('a warm-started order ramps its learning rate up from zero at the warm factor; a cold one follows the schedule', () => {
  const b = BUDGETS.quick;
  assert.equal(stepLearningRate(b, 3, 100, false), learningRate(b, 3));
  assert.equal(stepLearningRate(b, 0, 0, true), (learningRate(b, 0) * b.warmFactor) / b.warmupSteps);
  assert.ok(stepLearningRate(b, 0, 5, true) > stepLearningRate(b, 0, 4, true));
  assert.equal(stepLearningRate(b, 2, b.warmupSteps, true), learningRate(b, 2) * b.warmFactor);
});

test('stopping rule: flat ρ stops after minEpochs; a slow log-linear drift does not; reference never stops early', () => {
  const b = BUDGETS.quick;
  const flat = Array.from({ length: 12 }, (_, i) => ({ epoch: 2 * i + 1, rho: 0.3, fit: 0.8 }));
  assert.equal(converged(b, flat.slice(0, 2)), false, 'not before minEpochs');
  assert.equal(converged(b, flat), true);
  // ρ creeping up like 0.1·ln(epoch): each step is tiny, but over the look-back it moved > tolerance.
  const drift = Array.from({ length: 12 }, (_, i) => ({ epoch: 2 * i + 1, rho: 0.3 + 0.1 * Math.log(2 * i + 2), fit: 0.8 }));
  assert.ok(Math.abs(drift[11].rho - drift[10].rho) < b.tolerance, 'consecutive evaluations look converged');
  assert.equal(converged(b, drift), false);
  assert.equal(
    converged(
      BUDGETS.reference,
      Array.from({ length: 30 }, (_, i) => ({ epoch: 25 * i + 24, rho: 0.3, fit: 0.8 })),
    ),
    false,
  );
});

test('trainOrders: warm-started orders, deterministic, no tensors accumulate across epochs, cancel keeps finished orders', async () => {
  await useBackend('wasm');
  const rng = new Rng(5);
  const n = 160;
  const split: Split = {
    images: Float32Array.from({ length: n * 6 * 6 }, () => rng.next()),
    labels: new Int32Array(n),
    count: n,
    height: 6,
    width: 6,
    channels: 1,
  };
  // A nonlinear target: |x| summed over 2×2 blocks, so order 0 cannot explain all of it.
  const features = new Float32Array(n * 3 * 3 * 2);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) {
        let s = 0;
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) s += split.images[i * 36 + (2 * y + dy) * 6 + 2 * x + dx];
        features[((i * 3 + y) * 3 + x) * 2] = s;
        features[((i * 3 + y) * 3 + x) * 2 + 1] = Math.abs(s - 2) * 2;
      }
    }
  }
  const all: FeatureSet = { split, indices: Int32Array.from({ length: n }, (_, i) => i), features, featureShape: [3, 3, 2] };
  const monitor: FeatureSet = { ...all, indices: all.indices.slice(0, 32), features: features.slice(0, 32 * 18) };
  const budget = { ...BUDGETS.quick, maxEpochs: 6, minEpochs: 6 };
  const counts = new Map<number, number[]>();
  const run = (isCancelled?: () => boolean) =>
    trainOrders(
      { train: all, monitor, inputShape: [6, 6, 1], orders: [0, 2], width: 4, budget, seed: 9 },
      {
        progress: (p) => {
          if (p.order === undefined) return;
          counts.set(p.order, [...(counts.get(p.order) ?? []), tf.memory().numTensors]);
        },
        isCancelled,
      },
    );
  const a = await run();
  assert.equal(a.complete, true);
  assert.deepEqual(
    a.orders.map((o) => o.order),
    [0, 2],
  );
  // Order 0 is solved by least squares (one loss point, no epochs); order 2 trains its 6 epochs.
  assert.equal(a.orders[0].solver, 'closed-form');
  assert.deepEqual([a.orders[0].epochs, a.orders[0].lossCurve.length], [0, 1]);
  assert.equal(a.orders[1].lossCurve.length, 6);
  // A deeper order never keeps a worse fit than the one it starts from.
  assert.ok(a.orders[1].fit >= a.orders[0].fit - 1e-4, `order 2 fit ${a.orders[1].fit} vs order 0 ${a.orders[0].fit}`);
  for (const [order, c] of counts)
    assert.ok(
      c.slice(1).every((v) => v === c[1]),
      `order ${order}: tensors per epoch ${c.join(',')}`,
    );
  const b = await run();
  const pa = await predictSet(a.orders[1].phi, monitor);
  const pb = await predictSet(b.orders[1].phi, monitor);
  assert.deepEqual(Array.from(pa), Array.from(pb), 'same seed, same backend, same Φ');
  let steps = 0;
  // Cancelled during order 2's training (order 0 takes no gradient steps).
  const c = await run(() => ++steps > 3);
  assert.equal(c.complete, false);
  assert.deepEqual(
    c.orders.map((o) => o.order),
    [0],
  );
  for (const r of [a, b, c]) for (const o of r.orders) o.phi.net.dispose();
});

test('trainOrders: a deeper order whose training makes the fit worse keeps its warm start (the component is zero), and says so', async () => {
  await useBackend('wasm');
  const rng = new Rng(6);
  const n = 96;
  const split: Split = {
    images: Float32Array.from({ length: n * 6 * 6 }, () => rng.next()),
    labels: new Int32Array(n),
    count: n,
    height: 6,
    width: 6,
    channels: 1,
  };
  // A linear target: order 0 solves it exactly, so any training of order 2 can only make it worse.
  const features = new Float32Array(n * 3 * 3);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 3; x++)
        features[(i * 3 + y) * 3 + x] = split.images[i * 36 + 2 * y * 6 + 2 * x] - 0.5 * split.images[i * 36 + (2 * y + 1) * 6 + 2 * x + 1];
  const all: FeatureSet = { split, indices: Int32Array.from({ length: n }, (_, i) => i), features, featureShape: [3, 3, 1] };
  const monitor: FeatureSet = { ...all, indices: all.indices.slice(0, 32), features: features.slice(0, 32 * 9) };
  // A learning rate far too high for order 2: Adam wrecks the warm start.
  const budget = { ...BUDGETS.quick, maxEpochs: 3, minEpochs: 3, lrStart: 5, lrEnd: 5, warmFactor: 1, warmupSteps: 0 };
  const r = await trainOrders({ train: all, monitor, inputShape: [6, 6, 1], orders: [0, 2], width: 4, budget, seed: 3 });
  try {
    assert.equal(r.orders[0].solver, 'closed-form');
    assert.ok(r.orders[0].fit > 0.99, `order 0 fit ${r.orders[0].fit}`);
    assert.equal(r.orders[1].restored, true);
    assert.ok(Math.abs(r.orders[1].fit - r.orders[0].fit) < 1e-6, `kept warm start: ${r.orders[1].fit} vs ${r.orders[0].fit}`);
    const [p0, p2] = [await predictSet(r.orders[0].phi, monitor), await predictSet(r.orders[1].phi, monitor)];
    assert.ok(
      p0.every((v, i) => Math.abs(v - p2[i]) < 1e-4),
      'Φ⁽²⁾ = Φ⁽⁰⁾: the component of order 2 is zero',
    );
  } finally {
    for (const o of r.orders) o.phi.net.dispose();
  }
});

test('trainOrders: a plateau at a high learning rate cuts the rate tenfold (at most twice) before the stop; at a low rate it stops at once', async () => {
  await useBackend('wasm');
  const rng = new Rng(7);
  const n = 64;
  const split: Split = {
    images: Float32Array.from({ length: n * 4 * 4 }, () => rng.next()),
    labels: new Int32Array(n),
    count: n,
    height: 4,
    width: 4,
    channels: 1,
  };
  const features = Float32Array.from({ length: n * 2 * 2 }, (_, i) => Math.abs(split.images[4 * i] - 0.5));
  const all: FeatureSet = { split, indices: Int32Array.from({ length: n }, (_, i) => i), features, featureShape: [2, 2, 1] };
  const monitor: FeatureSet = { ...all, indices: all.indices.slice(0, 16), features: features.slice(0, 16 * 4) };
  // A tolerance so loose that every check looks like a plateau.
  const loose = { ...BUDGETS.quick, samplesPerEpoch: 32, batchSize: 16, minEpochs: 1, maxEpochs: 40, evalEvery: 1, window: 1, tolerance: 10 };
  const run = async (lrStart: number, lrEnd: number) => {
    const r = await trainOrders({ train: all, monitor, inputShape: [4, 4, 1], orders: [2], width: 4, budget: { ...loose, lrStart, lrEnd }, seed: 1 });
    const o = r.orders[0];
    o.phi.net.dispose();
    return o;
  };
  // The rate starts 100× above the last one: the first two plateaus cut it, the third stops.
  const high = await run(1e-2, 1e-4);
  assert.equal(high.lrDecays, 2);
  assert.equal(high.converged, true);
  // Three plateaus, each needing a look-back past the last cut: more epochs than one plateau takes.
  const low = await run(2e-4, 1e-4);
  assert.equal(low.lrDecays, undefined);
  assert.equal(low.converged, true);
  assert.ok(high.epochs > low.epochs, `epochs with cuts ${high.epochs}, without ${low.epochs}`);
});
