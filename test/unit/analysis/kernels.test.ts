import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { registerWasmConvKernels } from '../../../src/analysis/tf/kernels/wasm/conv';
import { Disentangler, trainStep } from '../../../src/analysis/pipeline/disentangler';
import { assertClose, random } from './kernelHelpers';

before(async () => {
  await useBackend('wasm');
  registerWasmConvKernels();
});

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 8, 8, 5], k: [3, 3], cout: 7, strides: [1, 1], pad: 'same' },
  { x: [2, 8, 8, 5], k: [3, 3], cout: 7, strides: [1, 1], pad: 'valid' },
  { x: [3, 9, 7, 4], k: [3, 3], cout: 6, strides: [2, 2], pad: 'same' },
  { x: [3, 9, 7, 4], k: [3, 3], cout: 6, strides: [2, 2], pad: 'valid' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [2, 2], pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [2, 2], pad: 'valid' },
  { x: [1, 11, 10, 2], k: [4, 4], cout: 3, strides: [4, 4], pad: 'same' },
  { x: [2, 6, 10, 3], k: [1, 1], cout: 5, strides: [1, 1], pad: 'same' },
  { x: [2, 10, 6, 3], k: [5, 3], cout: 4, strides: [1, 2], pad: 'same' },
  { x: [2, 7, 7, 2], k: [2, 2], cout: 3, strides: [1, 1], pad: 'same' },
  {
    x: [2, 7, 7, 2],
    k: [3, 3],
    cout: 3,
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  },
  {
    x: [2, 9, 9, 2],
    k: [3, 3],
    cout: 3,
    strides: [2, 2],
    pad: [
      [0, 0],
      [1, 0],
      [0, 2],
      [0, 0],
    ],
  },
  { x: [4, 16, 16, 32], k: [3, 3], cout: 32, strides: [2, 2], pad: 'same' },
  // Kernel smaller than the stride: some phases of dx get no tap at all.
  { x: [2, 8, 8, 3], k: [1, 1], cout: 4, strides: [2, 2], pad: 'same' },
  { x: [2, 9, 9, 3], k: [2, 2], cout: 4, strides: [3, 3], pad: 'valid' },
  // dy over 2^20 floats: the filter gradient takes the im2col path instead of the conv.
  { x: [1, 128, 129, 2], k: [3, 3], cout: 64, strides: [1, 1], pad: 'same' },
  // 16 or more input channels: the filter gradient runs as one conv (dy dilated by the stride).
  { x: [3, 7, 6, 16], k: [3, 3], cout: 5, strides: [1, 1], pad: 'same' },
  { x: [3, 7, 6, 16], k: [3, 3], cout: 5, strides: [1, 1], pad: 'valid' },
  { x: [2, 9, 8, 17], k: [3, 3], cout: 4, strides: [2, 2], pad: 'same' },
  { x: [2, 9, 7, 16], k: [3, 3], cout: 4, strides: [2, 2], pad: 'valid' },
  // Here the conv would need negative padding (x's last row unused): im2col path.
  { x: [2, 8, 8, 16], k: [3, 3], cout: 4, strides: [2, 2], pad: 'valid' },
  { x: [2, 10, 6, 16], k: [5, 3], cout: 3, strides: [1, 2], pad: 'same' },
  { x: [2, 6, 5, 16], k: [1, 1], cout: 6, strides: [1, 1], pad: 'same' },
  {
    x: [2, 7, 7, 16],
    k: [3, 3],
    cout: 3,
    strides: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  },
];

function outShape(c: Case): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, [...c.k, c.x[3], c.cout], c.strides, 1, c.pad as 'same', undefined, false, 'channelsLast');
  return info.outShape as [number, number, number, number];
}

async function onBackend(name: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<Float32Array> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    const t = f();
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  } finally {
    await tf.setBackend(prev);
  }
}

const name = (c: Case): string => `x ${c.x} k ${c.k} cout ${c.cout} strides ${c.strides} pad ${JSON.stringify(c.pad)}`;

for (const [idx, c] of CASES.entries()) {
  test(`Conv2DBackpropFilter matches cpu: ${name(c)}`, async () => {
    const xs = random(
      c.x.reduce((a, b) => a * b),
      10 + idx,
    );
    const ys = outShape(c);
    const dys = random(
      ys.reduce((a, b) => a * b),
      50 + idx,
    );
    const filterShape: [number, number, number, number] = [...c.k, c.x[3], c.cout];
    const run = () =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor4d(xs, c.x), dy: tf.tensor4d(dys, ys) }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const want = await onBackend('cpu', () => tf.tidy(run));
    const got = await onBackend('wasm', () => tf.tidy(run));
    assertClose(got, want, 'dW');
  });

  test(`Conv2DBackpropInput matches cpu: ${name(c)}`, async () => {
    const ws = random(c.k[0] * c.k[1] * c.x[3] * c.cout, 20 + idx);
    const ys = outShape(c);
    const dys = random(
      ys.reduce((a, b) => a * b),
      70 + idx,
    );
    const run = () =>
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor4d(dys, ys), filter: tf.tensor4d(ws, [...c.k, c.x[3], c.cout]) }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        inputShape: c.x,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const want = await onBackend('cpu', () => tf.tidy(run));
    const got = await onBackend('wasm', () => tf.tidy(run));
    assertClose(got, want, 'dx');
  });
}

test('gradients of a strided conv net through tf.grads agree with cpu, and no tensor leaks', async () => {
  const xs = random(2 * 12 * 12 * 3, 1);
  const w1s = random(3 * 3 * 3 * 8, 2);
  const w2s = random(3 * 3 * 8 * 4, 3);
  const f = (x: tf.Tensor4D, w1: tf.Tensor4D, w2: tf.Tensor4D) => tf.sum(tf.square(tf.conv2d(tf.relu(tf.conv2d(x, w1, 1, 'same')), w2, 2, 'same')));
  const grads = () => {
    const [gx, g1, g2] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([
      tf.tensor4d(xs, [2, 12, 12, 3]),
      tf.tensor4d(w1s, [3, 3, 3, 8]),
      tf.tensor4d(w2s, [3, 3, 8, 4]),
    ]);
    return tf.concat([gx, g1, g2].map((g) => tf.reshape(g, [-1])));
  };
  const want = await onBackend('cpu', () => tf.tidy(grads));
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const got = await onBackend('wasm', () => tf.tidy(grads));
  assert.equal(tf.memory().numTensors, before);
  assertClose(got, want, 'grads');
});

test('Sum over the leading axes (bias gradients) and the reductions it leaves to the stock kernel match cpu', async () => {
  const xs = random(3 * 5 * 4 * 6, 99);
  const cases: Array<[number[] | number, boolean]> = [
    [[0, 1, 2], false],
    [[2, 0, 1], true],
    [[0, 1], false],
    [[3], false],
    [-1, true],
    [[1, 2], false],
  ];
  for (const [axis, keepDims] of cases) {
    const run = () => tf.sum(tf.tensor4d(xs, [3, 5, 4, 6]), axis, keepDims);
    const want = await onBackend('cpu', () => tf.tidy(run));
    const got = await onBackend('wasm', () => tf.tidy(run));
    assertClose(got, want, `sum axis ${axis} keepDims ${keepDims}`);
    const shape = await onBackend('wasm', () => tf.tidy(() => tf.tensor1d(run().shape)));
    const cpuShape = await onBackend('cpu', () => tf.tidy(() => tf.tensor1d(run().shape)));
    assert.deepEqual(Array.from(shape), Array.from(cpuShape));
  }
  // 90 rows: not a multiple of the four rows the fast path takes per pass.
  const odd = () => tf.sum(tf.tensor4d(xs, [5, 3, 6, 4]), [0, 1, 2]);
  assertClose(await onBackend('wasm', () => tf.tidy(odd)), await onBackend('cpu', () => tf.tidy(odd)), 'sum of 90 rows');
  const ints = await onBackend('wasm', () => tf.tidy(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0)));
  assert.deepEqual(Array.from(ints), [4, 6]);
});

test('Adam steps of a strided disentangler give the same losses and weights on wasm as on cpu', async () => {
  const run = async (backend: 'cpu' | 'wasm') => {
    await tf.setBackend(backend);
    const net = Disentangler.create({ order: 4, width: 8, inputShape: [16, 16, 3], targetShape: [4, 4, 6] }, 5);
    const opt = tf.train.adam(1e-2);
    const x = tf.tensor4d(random(4 * 16 * 16 * 3, 7), [4, 16, 16, 3]);
    const y = tf.tensor4d(random(4 * 4 * 4 * 6, 8), [4, 4, 4, 6]);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) losses.push(await trainStep(net, opt, x, y));
    // Adam's moments are created on the first step; after that a step must not leak tensors.
    const after = tf.memory().numTensors;
    await trainStep(net, opt, x, y);
    assert.equal(tf.memory().numTensors, after, `${backend} leaks tensors per step`);
    assert.ok(after > before);
    const weights = Float32Array.from(net.variables.flatMap((v) => Array.from(v.dataSync())));
    tf.dispose([x, y]);
    opt.dispose();
    net.dispose();
    return { losses, weights };
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  for (let i = 0; i < cpu.losses.length; i++)
    assert.ok(Math.abs(cpu.losses[i] - wasm.losses[i]) <= 1e-4 * Math.abs(cpu.losses[i]), `loss ${i}: ${cpu.losses[i]} vs ${wasm.losses[i]}`);
  assert.ok(cpu.losses[3] < cpu.losses[0]);
  assertClose(wasm.weights, cpu.weights, 'weights after 5 steps');
});

test('Cast on wasm: same dtype shares the values, other dtypes still convert', async () => {
  const same = await onBackend('wasm', () => tf.tidy(() => tf.cast(tf.tensor1d([1.5, -2, 0]), 'float32')));
  assert.deepEqual(Array.from(same), [1.5, -2, 0]);
  const toInt = await onBackend('wasm', () => tf.tidy(() => tf.cast(tf.tensor1d([1.5, -2.7, 0]), 'int32')));
  assert.deepEqual(Array.from(toInt), [1, -2, 0]);
  const fromBool = await onBackend('wasm', () => tf.tidy(() => tf.cast(tf.tensor1d([1, 0, 1], 'bool'), 'float32')));
  assert.deepEqual(Array.from(fromBool), [1, 0, 1]);
});

test('registering twice is harmless', () => {
  registerWasmConvKernels();
  assert.ok(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'));
});
