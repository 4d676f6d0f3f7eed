import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { Disentangler, squaredError, trainStep, type DisentanglerSpec } from '../../../src/analysis/pipeline/disentangler';
import { StepPool, applyNet, setThreads, threadsFor } from '../../../src/analysis/pipeline/parallel';
import { adam } from '../../../src/analysis/tf/kernels/adam';
import { headsLoss } from '../../../src/analysis/metrics/reliability';
import { ScaledDisentangler, predictSet } from '../../../src/analysis/pipeline/train';

before(async () => {
  await useBackend('wasm');
});

const spec: DisentanglerSpec = { order: 3, width: 8, inputShape: [12, 12, 2], targetShape: [3, 3, 4] };

function data(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor4D } {
  return {
    x: tf.randomNormal([n, 12, 12, 2], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.randomNormal([n, 3, 3, 4], 0, 1, 'float32', seed + 1) as tf.Tensor4D,
  };
}

function maxRelDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const u = t.dataSync();
    const v = b[i].dataSync();
    let scale = 1e-6;
    for (let k = 0; k < u.length; k++) scale = Math.max(scale, Math.abs(u[k]));
    for (let k = 0; k < u.length; k++) worst = Math.max(worst, Math.abs(u[k] - v[k]) / scale);
  });
  return worst;
}

for (const threads of [2, 3]) {
  test(`a step split over ${threads} threads gives the one-thread step's loss and weights to float tolerance (odd batch, with the offset)`, async () => {
    const one = Disentangler.create(spec, 5);
    const many = Disentangler.create(spec, 5);
    const offOne = tf.variable(tf.randomNormal([1, 3, 3, 4], 0, 0.1, 'float32', 3), true);
    const offMany = tf.variable(offOne.clone(), true);
    const optOne = adam(1e-2);
    const optMany = adam(1e-2);
    const pool = await StepPool.open(threads, 'wasm');
    assert.ok(pool, 'a pool for more than one thread');
    try {
      await pool.bind(many, offMany);
      for (let s = 0; s < 4; s++) {
        const { x, y } = data(7, 10 + s);
        const l1 = await trainStep(one, optOne, x, y, offOne);
        const lN = await pool.step(optMany, x, y, (a, b) => squaredError(many, a, b, offMany));
        assert.ok(Math.abs(l1 - lN) <= 1e-5 * Math.abs(l1), `step ${s}: loss ${l1} vs ${lN}`);
        tf.dispose([x, y]);
      }
      const diff = maxRelDiff([...one.variables, offOne], [...many.variables, offMany]);
      assert.ok(diff < 1e-4, `weights after 4 steps differ by ${diff} of their scale`);
    } finally {
      await pool.close();
      one.dispose();
      many.dispose();
      tf.dispose([offOne, offMany]);
      optOne.dispose();
      optMany.dispose();
    }
  });
}

test('one thread opens no pool; the thread count is the configured one on the CPU backends and 1 on a GPU backend', async () => {
  assert.equal(await StepPool.open(1, 'wasm'), undefined);
  assert.equal(await StepPool.open(4, 'webgpu'), undefined);
  setThreads(3);
  try {
    assert.equal(threadsFor('wasm'), 3);
    assert.equal(threadsFor('cpu'), 3);
    assert.equal(threadsFor('webgpu'), 1);
    assert.equal(threadsFor('tensorflow'), 1);
  } finally {
    setThreads(undefined);
  }
  assert.throws(() => setThreads(0), /positive integer/);
});

test("a forward pass split over the threads gives the net's own output, and applyNet uses the pool only for the net it has bound", async () => {
  const net = Disentangler.create(spec, 9);
  const other = Disentangler.create(spec, 10);
  const pool = await StepPool.open(2, 'wasm');
  assert.ok(pool);
  const { x } = data(9, 40);
  try {
    await pool.bind(net);
    const direct = net.apply(x);
    const split = await pool.forward(x);
    assert.deepEqual(split.shape, direct.shape);
    assert.ok(maxRelDiff([direct], [split]) < 1e-5);
    pool.activate();
    assert.equal(pool.isBound(net), true);
    assert.equal(pool.isBound(other), false);
    const viaApply = await applyNet(net, x);
    const otherOut = await applyNet(other, x);
    assert.ok(maxRelDiff([direct], [viaApply]) < 1e-5);
    assert.ok(maxRelDiff([other.apply(x)], [otherOut]) < 1e-6);
    tf.dispose([direct, split, viaApply, otherOut]);
  } finally {
    await pool.close();
    tf.dispose(x);
    net.dispose();
    other.dispose();
  }
});

test('a whole evaluation set predicted through the pool (one part per thread, in rounds) gives the one-thread prediction, in sample order', async () => {
  const net = Disentangler.create(spec, 11);
  const count = 400;
  const images = tf.randomNormal([count, 12, 12, 2], 0.5, 2, 'float32', 80).dataSync() as Float32Array;
  const split = { images, labels: new Int32Array(count), count, height: 12, width: 12, channels: 2 };
  // 301 samples out of order: with batch 16 on 2 threads a round is 256, so two rounds of unequal parts.
  const indices = Int32Array.from({ length: 301 }, (_, i) => (i * 7 + 3) % count);
  const set = { split, indices, features: new Float32Array(0), featureShape: [3, 3, 4] as [number, number, number] };
  const std = {
    inMean: Float32Array.of(0.3, -0.2),
    inStd: Float32Array.of(1.5, 2.5),
    outMean: Float32Array.from({ length: 36 }, (_, i) => i / 10),
    outScale: 1.7,
  };
  const phi = new ScaledDisentangler(net, std);
  const alone = await predictSet(phi, set, 16);
  const pool = await StepPool.open(2, 'wasm');
  assert.ok(pool);
  try {
    await pool.bind(net);
    pool.activate();
    const shared = await predictSet(phi, set, 16);
    assert.equal(shared.length, 301 * 36);
    assert.ok(maxRelDiff([tf.tensor1d(alone)], [tf.tensor1d(shared)]) < 1e-5);
    // Row i is sample indices[i]: the net's own output on that one image.
    const one = tf.tidy(() => phi.apply(tf.tensor4d(images.subarray(indices[200] * 288, (indices[200] + 1) * 288), [1, 12, 12, 2])));
    assert.ok(maxRelDiff([tf.tensor1d(one.dataSync())], [tf.tensor1d(shared.subarray(200 * 36, 201 * 36))]) < 1e-5);
    one.dispose();
  } finally {
    await pool.close();
    net.dispose();
  }
});

test("the reliability stage's joint step (K linear heads) split over 2 threads gives the one-thread step", async () => {
  const mk = (seed: number) => ({
    net: Disentangler.create(spec, seed),
    heads: [
      tf.variable(tf.randomNormal([4, 3], 0, 0.5, 'float32', 21), true) as tf.Variable<tf.Rank.R2>,
      tf.variable(tf.randomNormal([4, 5], 0, 0.5, 'float32', 22), true) as tf.Variable<tf.Rank.R2>,
    ],
  });
  const one = mk(6);
  const many = mk(6);
  const optOne = tf.train.adam(1e-2);
  const optMany = tf.train.adam(1e-2);
  const pool = await StepPool.open(2, 'wasm');
  assert.ok(pool);
  try {
    await pool.bind(many.net, { heads: many.heads });
    for (let s = 0; s < 3; s++) {
      const x = tf.randomNormal([7, 12, 12, 2], 0, 1, 'float32', 50 + s) as tf.Tensor4D;
      const ys = [tf.randomNormal([7, 3, 3, 3], 0, 1, 'float32', 60 + s), tf.randomNormal([7, 3, 3, 5], 0, 1, 'float32', 70 + s)];
      const l1 = optOne.minimize(() => headsLoss(one.net.apply(x), one.heads, ys), true, [...one.net.variables, ...one.heads])!;
      const y = tf.concat(ys, 3) as tf.Tensor4D;
      const lN = await pool.step(optMany, x, y, (a, b) => headsLoss(many.net.apply(a), many.heads, tf.split(b, [3, 5], 3)));
      const v1 = (await l1.data())[0];
      assert.ok(Math.abs(v1 - lN) <= 1e-5 * Math.abs(v1), `step ${s}: loss ${v1} vs ${lN}`);
      tf.dispose([x, y, l1, ...ys]);
    }
    const diff = maxRelDiff([...one.net.variables, ...one.heads], [...many.net.variables, ...many.heads]);
    assert.ok(diff < 1e-4, `weights after 3 steps differ by ${diff} of their scale`);
  } finally {
    await pool.close();
    for (const m of [one, many]) {
      m.net.dispose();
      tf.dispose(m.heads);
    }
    optOne.dispose();
    optMany.dispose();
  }
});
