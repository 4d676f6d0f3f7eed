/**
 * The webgpu convolution kernels (src/analysis/tf/kernels/webgpu/conv.ts) against the cpu backend,
 * on Chromium's SwiftShader adapter when no GPU exists (see webgpu.test.ts); skipped with the
 * reason when there is no WebGPU adapter at all.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { WEBGPU_ICD_ENV, initWebgpu, tf, useBackend } from '../../../src/analysis/tf/backend';
import { planSplits } from '../../../src/analysis/tf/kernels/webgpu/conv';
import { planColumnSum } from '../../../src/analysis/tf/kernels/webgpu/sum';
import { RELU_GRAD } from '../../../src/analysis/tf/kernels/webgpu/relu';
import { random } from './kernelHelpers';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env[WEBGPU_ICD_ENV] && existsSync(SWIFTSHADER_ICD)) process.env[WEBGPU_ICD_ENV] = SWIFTSHADER_ICD;

let skip: string | false = false;

before(async () => {
  try {
    await initWebgpu();
    await useBackend('webgpu');
  } catch (e) {
    skip = `no WebGPU adapter (${e instanceof Error ? e.message : String(e)}); install chromium and libvulkan1, or set ${WEBGPU_ICD_ENV} to a Vulkan ICD file`;
    console.log(`# webgpu conv tests skipped: ${skip}`);
  }
});

type Pad = 'same' | 'valid';
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  stride: number;
  pad: Pad;
}

/** dW of Σ (conv2d(x, w) ⊙ dy) on one backend. */
async function filterGrad(backend: 'cpu' | 'webgpu', c: Case): Promise<Float32Array> {
  await useBackend(backend);
  const x = tf.tensor4d(
    random(
      c.x.reduce((a, b) => a * b),
      1,
    ),
    c.x,
  );
  const convOut = tf.conv2d(x, tf.zeros([c.k[0], c.k[1], c.x[3], c.co]), c.stride, c.pad);
  const dy = tf.tensor4d(random(convOut.size, 2), convOut.shape);
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.k[0], c.k[1], c.x[3], c.co] };
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const out = (await dw.data()) as Float32Array;
  tf.dispose([x, convOut, dy, dw]);
  return out;
}

const CASES: Case[] = [
  { x: [2, 6, 6, 3], k: [3, 3], co: 5, stride: 1, pad: 'same' },
  { x: [3, 9, 7, 4], k: [3, 3], co: 8, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 6], k: [3, 3], co: 7, stride: 2, pad: 'valid' },
  { x: [1, 5, 5, 70], k: [1, 1], co: 65, stride: 1, pad: 'same' },
  // Long reduction (m = 4·24·24 = 2304 rows): split over several workgroups, then summed.
  { x: [4, 24, 24, 16], k: [3, 3], co: 16, stride: 1, pad: 'same' },
];

test('the m range is split so that every split has work and the splits cover it', () => {
  for (const [m, r, co] of [
    [131072, 1152, 128],
    [2304, 144, 16],
    [100, 27, 8],
    [1, 9, 1],
    [4096, 4608, 512],
  ]) {
    const { splits, chunk } = planSplits(m, r, co);
    assert.ok(splits >= 1 && chunk % 16 === 0, `${m}: ${splits} × ${chunk}`);
    assert.ok(splits * chunk >= m && (splits - 1) * chunk < m, `${m}: ${splits} × ${chunk}`);
  }
  assert.ok(planSplits(131072, 1152, 128).splits > 8, 'a long reduction over a small filter is split');
});

test('the conv filter gradient on webgpu matches the cpu backend', async (t) => {
  if (skip) return t.skip(skip);
  assert.ok(planSplits(4 * 24 * 24, 144, 16).splits > 1, 'the last case takes the split path');
  for (const c of CASES) {
    const cpu = await filterGrad('cpu', c);
    const gpu = await filterGrad('webgpu', c);
    assert.equal(gpu.length, cpu.length);
    const scale = Math.max(...cpu.map(Math.abs));
    for (let i = 0; i < cpu.length; i++) {
      if (!(Math.abs(gpu[i] - cpu[i]) <= 1e-5 * scale + 1e-5 * Math.abs(cpu[i]))) assert.fail(`${JSON.stringify(c)} dW[${i}]: ${gpu[i]} vs ${cpu[i]}`);
    }
  }
});

/** dx of Σ (conv2d(x, w) ⊙ dy) on one backend. */
async function inputGrad(backend: 'cpu' | 'webgpu', c: Case): Promise<Float32Array> {
  await useBackend(backend);
  const w = tf.tensor4d(random(c.k[0] * c.k[1] * c.x[3] * c.co, 3), [c.k[0], c.k[1], c.x[3], c.co]);
  const convOut = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, w, c.stride, c.pad);
  const dy = tf.tensor4d(random(convOut.size, 4), convOut.shape);
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const out = (await dx.data()) as Float32Array;
  tf.dispose([w, convOut, dy, dx]);
  return out;
}

test('the conv input gradient on webgpu (tiled matrix-product program) matches the cpu backend', async (t) => {
  if (skip) return t.skip(skip);
  assert.equal(tf.env().getBool('WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE'), false, 'the tiled program is selected');
  for (const c of [...CASES, { x: [2, 8, 8, 8], k: [3, 3], co: 12, stride: 2, pad: 'same' } as Case]) {
    const cpu = await inputGrad('cpu', c);
    const gpu = await inputGrad('webgpu', c);
    assert.equal(gpu.length, cpu.length);
    const scale = Math.max(...cpu.map(Math.abs));
    for (let i = 0; i < cpu.length; i++) {
      if (!(Math.abs(gpu[i] - cpu[i]) <= 1e-5 * scale + 1e-5 * Math.abs(cpu[i]))) assert.fail(`${JSON.stringify(c)} dx[${i}]: ${gpu[i]} vs ${cpu[i]}`);
    }
  }
});

test('the filter gradient inside a training step: dW of a strided conv net agrees with cpu', async (t) => {
  if (skip) return t.skip(skip);
  const grads = async (backend: 'cpu' | 'webgpu') => {
    await useBackend(backend);
    const x = tf.tensor4d(random(2 * 10 * 10 * 3, 7), [2, 10, 10, 3]);
    const w1 = tf.variable(tf.tensor4d(random(3 * 3 * 3 * 8, 8), [3, 3, 3, 8]), true, `w1_${backend}`);
    const w2 = tf.variable(tf.tensor4d(random(3 * 3 * 8 * 8, 9), [3, 3, 8, 8]), true, `w2_${backend}`);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.conv2d(tf.relu(tf.conv2d(x, w1, 1, 'same')), w2, 2, 'same'))) as tf.Scalar, [w1, w2]);
    const out = await Promise.all([value, grads[w1.name], grads[w2.name]].map(async (g) => (await g.data()) as Float32Array));
    tf.dispose([x, w1, w2, value, ...Object.values(grads)]);
    return out;
  };
  const cpu = await grads('cpu');
  const gpu = await grads('webgpu');
  for (let k = 0; k < cpu.length; k++) {
    const scale = Math.max(...cpu[k].map(Math.abs));
    for (let i = 0; i < cpu[k].length; i++) {
      if (!(Math.abs(gpu[k][i] - cpu[k][i]) <= 1e-4 * scale)) assert.fail(`tensor ${k}[${i}]: ${gpu[k][i]} vs ${cpu[k][i]}`);
    }
  }
});

test('the bias-gradient sum (all axes but the last) on webgpu matches the cpu backend', async (t) => {
  if (skip) return t.skip(skip);
  assert.ok(planColumnSum(4 * 24 * 24).chunks > 1, 'the long column takes the two-pass path');
  const cases: Array<{ shape: number[]; axis: number[]; keepDims?: boolean }> = [
    { shape: [2, 3, 4, 5], axis: [0, 1, 2] },
    { shape: [4, 24, 24, 16], axis: [0, 1, 2] },
    { shape: [4, 24, 24, 16], axis: [2, 0, 1], keepDims: true },
    { shape: [300, 7], axis: [0] },
    // Not all-but-last: the stock kernel.
    { shape: [3, 4, 5], axis: [2] },
    { shape: [3, 4, 5], axis: [0, 2] },
  ];
  const run = async (backend: 'cpu' | 'webgpu', c: (typeof cases)[number]) => {
    await useBackend(backend);
    const x = tf.tensor(
      random(
        c.shape.reduce((a, b) => a * b),
        21,
      ),
      c.shape,
    );
    const s = tf.sum(x, c.axis, c.keepDims);
    const out = { shape: s.shape, data: (await s.data()) as Float32Array };
    tf.dispose([x, s]);
    return out;
  };
  for (const c of cases) {
    const cpu = await run('cpu', c);
    const gpu = await run('webgpu', c);
    assert.deepEqual(gpu.shape, cpu.shape, JSON.stringify(c));
    for (let i = 0; i < cpu.data.length; i++) {
      if (!(Math.abs(gpu.data[i] - cpu.data[i]) <= 1e-4 + 1e-5 * Math.abs(cpu.data[i])))
        assert.fail(`${JSON.stringify(c)} [${i}]: ${gpu.data[i]} vs ${cpu.data[i]}`);
    }
  }
});

test('the ReLU gradient on webgpu is one kernel and matches the cpu backend', async (t) => {
  if (skip) return t.skip(skip);
  const n = 3 * 7 * 7 * 5;
  // Exact zeros and negatives among the inputs: the gradient is 0 there, dy where x > 0.
  const xs = random(n, 31).map((v, i) => (i % 7 === 0 ? 0 : v));
  const ws = random(n, 32);
  const run = async (backend: 'cpu' | 'webgpu') => {
    await useBackend(backend);
    const x = tf.tensor4d(xs, [3, 7, 7, 5]);
    const w = tf.tensor4d(ws, [3, 7, 7, 5]);
    let g!: tf.Tensor;
    const profile = await tf.profile(() => {
      g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w)))(x);
      return g;
    });
    const out = (await g.data()) as Float32Array;
    tf.dispose([x, w, g]);
    return { out, kernels: profile.kernelNames };
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  assert.ok(gpu.kernels.includes(RELU_GRAD), `webgpu kernels: ${gpu.kernels.join(', ')}`);
  assert.ok(!gpu.kernels.includes('Step'), 'no separate step kernel on webgpu');
  assert.ok(cpu.kernels.includes('Step'), 'the cpu backend keeps tfjs’s gradient');
  assert.deepEqual(Array.from(gpu.out), Array.from(cpu.out));
});
