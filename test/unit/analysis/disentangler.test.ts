import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { Disentangler, blocksPerStage, stageStrides, trainStep, type DisentanglerSpec } from '../../../src/analysis/pipeline/disentangler';

before(async () => {
  await useBackend('cpu');
});

function randomInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomUniform(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

test('blocks are spread evenly up to order 8, deeper orders add theirs to the later stages, and counts only ever grow with the order', () => {
  assert.deepEqual(blocksPerStage(0), [0, 0, 0]);
  assert.deepEqual(blocksPerStage(1), [0, 0, 1]);
  assert.deepEqual(blocksPerStage(4), [1, 1, 2]);
  assert.deepEqual(blocksPerStage(8), [2, 3, 3]);
  assert.deepEqual(blocksPerStage(14), [2, 4, 8]);
  assert.deepEqual(blocksPerStage(32), [2, 9, 21]);
  for (let l = 0; l < 40; l++) {
    const a = blocksPerStage(l);
    const b = blocksPerStage(l + 1);
    assert.equal(
      a.reduce((s, v) => s + v, 0),
      l,
    );
    if (l <= 8) assert.ok(Math.max(...a) - Math.min(...a) <= 1);
    else assert.equal(a[0], 2, "the full-resolution stage keeps order 8's blocks");
    assert.ok(a.every((v, i) => v <= b[i]));
  }
});

test('stage strides reach the target size and downsample late', () => {
  assert.deepEqual(stageStrides(32, 8), [1, 2, 2]);
  assert.deepEqual(stageStrides(28, 7), [1, 2, 2]);
  assert.deepEqual(stageStrides(16, 16), [1, 1, 1]);
  assert.deepEqual(stageStrides(28, 14), [1, 1, 2]);
  assert.throws(() => stageStrides(8, 16));
});

test('output shapes for several orders, inputs and targets', () => {
  const cases: Array<Pick<DisentanglerSpec, 'inputShape' | 'targetShape'>> = [
    { inputShape: [28, 28, 1], targetShape: [7, 7, 32] },
    { inputShape: [32, 32, 3], targetShape: [8, 8, 64] },
    { inputShape: [12, 10, 2], targetShape: [12, 10, 5] },
    { inputShape: [16, 16, 3], targetShape: [2, 2, 4] },
    { inputShape: [9, 9, 1], targetShape: [3, 3, 2] },
  ];
  for (const c of cases) {
    for (const order of [0, 1, 2, 5]) {
      const net = Disentangler.create({ order, width: 4, ...c }, 1);
      const x = randomInput([2, ...c.inputShape], 3);
      const y = net.apply(x);
      assert.deepEqual(y.shape, [2, ...c.targetShape], `order ${order} ${c.inputShape} → ${c.targetShape}`);
      // One kernel and one bias per conv: input, projections of strided stages, blocks, output.
      const strided = [0, 1, 2].filter(
        (i) => stageStrides(c.inputShape[0], c.targetShape[0])[i] > 1 || stageStrides(c.inputShape[1], c.targetShape[1])[i] > 1,
      ).length;
      assert.equal(net.variables.length, 2 * (2 + strided + order));
      x.dispose();
      y.dispose();
      net.dispose();
    }
  }
});

test('order 0 is linear up to its constant offset: Φ(a x1 + b x2) − Φ(0) = a (Φ(x1) − Φ(0)) + b (Φ(x2) − Φ(0))', () => {
  const net = Disentangler.create({ order: 0, width: 6, inputShape: [16, 16, 3], targetShape: [4, 4, 5] }, 7);
  // Nonzero biases, so that the test also covers the affine offset.
  for (const v of net.variables) if (v.shape.length === 1) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 11));
  const x1 = randomInput([3, 16, 16, 3], 1);
  const x2 = randomInput([3, 16, 16, 3], 2);
  const zero = tf.zeros([3, 16, 16, 3]) as tf.Tensor4D;
  const [a, b] = [0.7, -1.3];
  const f0 = net.apply(zero);
  const lhs = tf.sub(net.apply(tf.add(tf.mul(x1, a), tf.mul(x2, b))), f0);
  const rhs = tf.add(tf.mul(tf.sub(net.apply(x1), f0), a), tf.mul(tf.sub(net.apply(x2), f0), b));
  assert.ok(maxAbs(lhs) > 1e-2, 'the map is not trivially zero');
  assert.ok(maxAbsDiff(lhs, rhs) < 1e-4 * Math.max(1, maxAbs(lhs)), `nonlinear by ${maxAbsDiff(lhs, rhs)}`);
  // A net with ReLU blocks is not linear: the same identity fails.
  const deep = Disentangler.create({ order: 3, width: 6, inputShape: [16, 16, 3], targetShape: [4, 4, 5] }, 7);
  const g0 = deep.apply(zero);
  const lhs2 = tf.sub(deep.apply(tf.add(tf.mul(x1, a), tf.mul(x2, b))), g0);
  const rhs2 = tf.add(tf.mul(tf.sub(deep.apply(x1), g0), a), tf.mul(tf.sub(deep.apply(x2), g0), b));
  assert.ok(maxAbsDiff(lhs2, rhs2) > 1e-3);
  net.dispose();
  deep.dispose();
});

test('warm start reproduces the previous order, and the new blocks still train', async () => {
  const shapes = { width: 5, inputShape: [12, 12, 2] as [number, number, number], targetShape: [3, 3, 4] as [number, number, number] };
  const x = randomInput([4, 12, 12, 2], 5);
  let prev = Disentangler.create({ order: 0, ...shapes }, 3);
  for (const order of [1, 2, 4, 7]) {
    const next = Disentangler.create({ order, ...shapes }, 100 + order);
    const before = next.apply(x);
    next.warmStartFrom(prev);
    const want = prev.apply(x);
    const got = next.apply(x);
    assert.ok(maxAbsDiff(before, want) > 1e-3, 'a fresh net differs from the previous order');
    assert.ok(maxAbsDiff(got, want) < 1e-5, `order ${order} after warm start differs by ${maxAbsDiff(got, want)}`);
    tf.dispose([before, want, got]);
    prev.dispose();
    prev = next;
  }
  // Adam steps move the function away from the warm start (zero convs get a gradient).
  const y = randomInput([4, 3, 3, 4], 9);
  const start = prev.apply(x);
  const opt = tf.train.adam(1e-3);
  const l1 = await trainStep(prev, opt, x, y);
  let l2 = l1;
  for (let i = 0; i < 5; i++) l2 = await trainStep(prev, opt, x, y);
  assert.ok(Number.isFinite(l1) && l2 < l1, `loss ${l1} → ${l2}`);
  const after = prev.apply(x);
  assert.ok(maxAbsDiff(start, after) > 1e-4);
  assert.throws(() => Disentangler.create({ order: 1, ...shapes }, 1).warmStartFrom(prev));
  opt.dispose();
  prev.dispose();
});

test('the same seed gives the same weights, another seed other weights', () => {
  const spec: DisentanglerSpec = { order: 4, width: 8, inputShape: [28, 28, 1], targetShape: [7, 7, 3] };
  const a = Disentangler.create(spec, 42);
  const b = Disentangler.create(spec, 42);
  const c = Disentangler.create(spec, 43);
  assert.equal(a.variables.length, b.variables.length);
  let differs = false;
  a.variables.forEach((v, i) => {
    assert.deepEqual(Array.from(v.dataSync()), Array.from(b.variables[i].dataSync()));
    if (v.shape.length === 4 && maxAbsDiff(v, c.variables[i]) > 0) differs = true;
  });
  assert.ok(differs);
  // Variables of two nets never share a name (tf.variable names must be unique).
  const names = new Set([...a.variables, ...b.variables].map((v) => v.name));
  assert.equal(names.size, 2 * a.variables.length);
  a.dispose();
  b.dispose();
  c.dispose();
});

test('creating and disposing a disentangler leaves no tensors behind', () => {
  const before = tf.memory().numTensors;
  const d = Disentangler.create({ order: 4, width: 8, inputShape: [28, 28, 1], targetShape: [7, 7, 8] }, 1);
  assert.ok(tf.memory().numTensors > before);
  d.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('as tfjs-layers layers the net computes the same function, with one ReLU layer per order', () => {
  const cases: Array<Pick<DisentanglerSpec, 'inputShape' | 'targetShape'> & { order: number }> = [
    { order: 0, inputShape: [16, 16, 3], targetShape: [4, 4, 5] },
    { order: 3, inputShape: [16, 16, 3], targetShape: [4, 4, 5] },
    { order: 7, inputShape: [28, 28, 1], targetShape: [7, 7, 6] },
    { order: 2, inputShape: [12, 10, 2], targetShape: [12, 10, 5] },
  ];
  for (const c of cases) {
    const net = Disentangler.create({ width: 6, ...c }, 5);
    // Nonzero biases, so that the copy of every bias is checked too.
    for (const v of net.variables) if (v.shape.length === 1) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 4));
    const input = tfl.input({ shape: c.inputShape });
    const model = tfl.model({ inputs: input, outputs: net.toLayers(input, 'phi_', 'phi_feature') });
    const x = randomInput([3, ...c.inputShape], 8);
    const want = net.apply(x);
    const got = model.predict(x) as tf.Tensor4D;
    assert.deepEqual(got.shape, want.shape);
    assert.ok(maxAbs(want) > 1e-2, 'not trivially zero');
    assert.ok(maxAbsDiff(got, want) < 1e-4 * Math.max(1, maxAbs(want)), `order ${c.order}: differs by ${maxAbsDiff(got, want)}`);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'ReLU').length, c.order, `order ${c.order}`);
    assert.equal(model.layers[model.layers.length - 1].name, 'phi_feature');
    // The layers hold their own copy: the net can go.
    net.dispose();
    const again = model.predict(x) as tf.Tensor4D;
    assert.ok(maxAbsDiff(again, got) === 0);
    tf.dispose([x, want, got, again]);
    model.dispose();
  }
});
