import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { registerWasmConvKernels } from '../../../src/analysis/tf/kernels/wasm/conv';
import {
  setWinogradChunkFloats,
  winogradBackpropFilter,
  winogradBackpropInput,
  winogradConv2D,
  winogradFits,
  winogradPaysForward,
  winogradReady,
} from '../../../src/analysis/tf/kernels/wasm/winograd';
import { GENERATED, generatedSource } from '../../../scripts/gen-winograd-wasm';
import { assertClose, random } from './kernelHelpers';

before(async () => {
  await useBackend('wasm');
  registerWasmConvKernels();
});

type Shape4 = [number, number, number, number];

async function onCpu(f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    const values = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(list);
    return values;
  } finally {
    await tf.setBackend(prev);
  }
}

/** Reference conv (+ bias), input gradient and filter gradient of a 3×3 'same' conv, on the cpu backend. */
async function reference(xs: Shape4, cout: number, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array): Promise<Float32Array[]> {
  const ws: Shape4 = [3, 3, xs[3], cout];
  const ys: Shape4 = [xs[0], xs[1], xs[2], cout];
  return onCpu(() => {
    const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same');
    const [dx, dw] = tf.grads(f)([tf.tensor4d(x, xs), tf.tensor4d(w, ws)], tf.tensor4d(dy, ys));
    return [tf.add(f(tf.tensor4d(x, xs), tf.tensor4d(w, ws)), tf.tensor1d(b)), dx, dw];
  });
}

test("the committed Winograd wasm bytes are what the WebAssembly text compiles to (npm run gen:wasm), and they instantiate on the backend's memory", async () => {
  assert.equal(readFileSync(GENERATED, 'utf8'), await generatedSource());
  assert.equal(winogradReady(tf.backend() as BackendWasm), true);
});

const DIRECT: { x: Shape4; cout: number; chunk?: number }[] = [
  { x: [2, 8, 8, 4], cout: 8 },
  // odd height and width: the last tile row and column are half outside
  { x: [3, 7, 5, 8], cout: 4 },
  { x: [1, 1, 1, 4], cout: 4 },
  // several chunks of images (the last one shorter)
  { x: [5, 6, 6, 8], cout: 12, chunk: 16 * 9 * 12 * 2 },
  { x: [5, 5, 7, 12], cout: 8, chunk: 16 * 12 * 12 * 2 },
];

for (const c of DIRECT) {
  test(`Winograd F(2×2, 3×3) forward, input and filter gradients match cpu: x ${c.x} cout ${c.cout}${c.chunk ? ' in chunks' : ''}`, async () => {
    const backend = tf.backend() as BackendWasm;
    const [nb, h, w, cin] = c.x;
    const xv = random(nb * h * w * cin, 1);
    const wv = random(9 * cin * c.cout, 2);
    const bv = random(c.cout, 3);
    const dyv = random(nb * h * w * c.cout, 4);
    const [ry, rdx, rdw] = await reference(c.x, c.cout, xv, wv, bv, dyv);
    const previous = c.chunk ? setWinogradChunkFloats(c.chunk) : undefined;
    try {
      const x = tf.tensor4d(xv, c.x);
      const f = tf.tensor4d(wv, [3, 3, cin, c.cout]);
      const b = tf.tensor1d(bv);
      const dy = tf.tensor4d(dyv, [nb, h, w, c.cout]);
      const before = tf.memory().numTensors;
      const y = tf.engine().makeTensorFromTensorInfo(winogradConv2D(backend, x, f, b));
      const dx = tf.engine().makeTensorFromTensorInfo(winogradBackpropInput(backend, dy, f));
      const dw = tf.engine().makeTensorFromTensorInfo(winogradBackpropFilter(backend, x, dy));
      assert.deepEqual(y.shape, [nb, h, w, c.cout]);
      assert.deepEqual(dx.shape, c.x);
      assert.deepEqual(dw.shape, [3, 3, cin, c.cout]);
      assertClose(y.dataSync() as Float32Array, ry, 'y', 2e-5);
      assertClose(dx.dataSync() as Float32Array, rdx, 'dx', 2e-5);
      assertClose(dw.dataSync() as Float32Array, rdw, 'dW', 2e-5);
      assert.equal(tf.memory().numTensors, before + 3, 'only the three outputs are left');
      tf.dispose([x, f, b, dy, y, dx, dw]);
    } finally {
      if (previous !== undefined) setWinogradChunkFloats(previous);
    }
  });
}

test('the registered wasm convs take the Winograd path where it fits (bit for bit), and conv + bias and tf.grads agree with cpu', async () => {
  // 32 → 32 channels on 10×9 (odd width; forward and input gradient by Winograd), and 128 → 128 (filter gradient too)
  for (const [xs, cout] of [
    [[3, 10, 9, 32], 32],
    [[2, 9, 8, 128], 128],
  ] as [Shape4, number][]) {
    const cin = xs[3];
    const info = tf.backend_util.computeConv2DInfo(xs, [3, 3, cin, cout], 1, 1, 'same', undefined, false, 'channelsLast');
    assert.ok(winogradFits(info), `a ${cin} → ${cout} 3×3 'same' conv fits`);
    const xv = random(xs[0] * xs[1] * xs[2] * cin, 5);
    const wv = random(9 * cin * cout, 6);
    const bv = random(cout, 7);
    const dyv = random(xs[0] * xs[1] * xs[2] * cout, 8);
    const [ry, rdx, rdw] = await reference(xs, cout, xv, wv, bv, dyv);
    const x = tf.tensor4d(xv, xs);
    const w = tf.tensor4d(wv, [3, 3, cin, cout]);
    const b = tf.tensor1d(bv);
    const dy = tf.tensor4d(dyv, [xs[0], xs[1], xs[2], cout]);
    const y = tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same' });
    assertClose((await y.data()) as Float32Array, ry, `fused conv ${cin} → ${cout}`, 2e-5);
    const plain = tf.add(tf.conv2d(x, w, 1, 'same'), b);
    assertClose((await plain.data()) as Float32Array, ry, `conv ${cin} → ${cout}`, 2e-5);
    const direct = tf.engine().makeTensorFromTensorInfo(winogradConv2D(tf.backend() as BackendWasm, x, w, b));
    assert.deepEqual(await y.data(), await direct.data(), 'the fused conv ran by Winograd');
    direct.dispose();
    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'))([x, w], dy);
    assertClose((await dx.data()) as Float32Array, rdx, `dx ${cin} → ${cout}`, 2e-5);
    assertClose((await dw.data()) as Float32Array, rdw, `dW ${cin} → ${cout}`, 2e-5);
    tf.dispose([x, w, b, dy, y, plain, dx, dw]);
  }
});

test('Winograd is not used where it does not fit (strides, other kernels, padding, channels not a multiple of 4), nor for narrow or small forward convs', () => {
  const info = (xs: Shape4, k: number, cout: number, stride: number, pad: 'same' | 'valid') =>
    tf.backend_util.computeConv2DInfo(xs, [k, k, xs[3], cout], stride, 1, pad, undefined, false, 'channelsLast');
  const fits = (xs: Shape4, k: number, cout: number, stride: number, pad: 'same' | 'valid') => winogradFits(info(xs, k, cout, stride, pad));
  assert.equal(fits([1, 16, 16, 32], 3, 32, 1, 'same'), true);
  assert.equal(fits([1, 16, 16, 32], 3, 32, 2, 'same'), false);
  assert.equal(fits([1, 16, 16, 32], 3, 32, 1, 'valid'), false);
  assert.equal(fits([1, 16, 16, 32], 5, 32, 1, 'same'), false);
  assert.equal(fits([1, 16, 16, 30], 3, 32, 1, 'same'), false);
  assert.equal(fits([1, 16, 16, 8], 3, 8, 1, 'same'), true, 'the filter gradient of a narrow conv');
  assert.equal(winogradPaysForward(info([1, 16, 16, 8], 3, 8, 1, 'same')), false, 'a narrow forward conv');
  assert.equal(winogradPaysForward(info([1, 16, 16, 16], 3, 16, 1, 'same')), true);
  assert.equal(winogradPaysForward(info([1, 16, 16, 4], 3, 64, 1, 'same')), false, 'few input channels');
  assert.equal(winogradPaysForward(info([1, 16, 16, 64], 3, 4, 1, 'same')), true);
  assert.equal(winogradPaysForward(info([1, 7, 7, 32], 3, 32, 1, 'same')), false, 'a 7×7 forward conv');
  assert.equal(winogradPaysForward(info([1, 8, 8, 32], 3, 32, 1, 'same')), true);
});
