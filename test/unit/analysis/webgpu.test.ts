/**
 * The webgpu backend against the cpu backend's numbers.
 *
 * Runs on a software WebGPU adapter where no GPU exists: Chromium's SwiftShader Vulkan driver
 * (Debian's `chromium` package ships it; the Vulkan loader comes from `libvulkan1`), named to Dawn
 * through FEATURE_COMPLEXITY_VULKAN_ICD. Set that variable to another ICD file to run these tests
 * on a GPU. Without an adapter the WebGPU tests are skipped with the reason.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { WEBGPU_ICD_ENV, initWebgpu, probeBackends, softwareAdapterName, tf, useBackend } from '../../../src/analysis/tf/backend';
import { ADAM_UPDATE, adam } from '../../../src/analysis/tf/kernels/adam';
import { countGpuWork } from '../../../src/analysis/tf/kernels/webgpu/util';
import { Disentangler, trainStep } from '../../../src/analysis/pipeline/disentangler';
import { random } from './kernelHelpers';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env[WEBGPU_ICD_ENV] && existsSync(SWIFTSHADER_ICD)) process.env[WEBGPU_ICD_ENV] = SWIFTSHADER_ICD;

let skip: string | false = false;
let adapterSoftware: string | undefined;

before(async () => {
  try {
    adapterSoftware = (await initWebgpu()).software;
    await useBackend('webgpu');
  } catch (e) {
    skip = `no WebGPU adapter (${e instanceof Error ? e.message : String(e)}); install chromium and libvulkan1, or set ${WEBGPU_ICD_ENV} to a Vulkan ICD file`;
    console.log(`# webgpu tests skipped: ${skip}`);
  }
});

/** |a − b| ≤ atol + rtol·|b| everywhere; returns the worst element's excess for the message. */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const tol = atol + rtol * Math.abs(b[i]);
    if (!(Math.abs(a[i] - b[i]) <= tol)) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (tolerance ${tol})`);
  }
}

test('software adapters are recognised by their name or flags, hardware ones are not', () => {
  assert.equal(softwareAdapterName({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }), 'SwiftShader');
  assert.equal(softwareAdapterName({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }), 'llvmpipe');
  assert.equal(softwareAdapterName({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }), 'WARP');
  assert.equal(softwareAdapterName({ vendor: 'x', isFallbackAdapter: true }), 'fallback adapter');
  assert.equal(softwareAdapterName({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }), undefined);
  assert.equal(softwareAdapterName({ vendor: 'amd', architecture: 'rdna-3', type: 'discrete GPU' }), undefined);
});

test('auto never picks a software adapter; capabilities says why, an explicit webgpu choice uses it', async (t) => {
  if (skip) return t.skip(skip);
  if (!adapterSoftware) return t.skip('the adapter is a hardware GPU');
  const probed = await probeBackends();
  const webgpu = probed.find((b) => b.name === 'webgpu')!;
  assert.equal(webgpu.available, false);
  assert.match(webgpu.detail, /software adapter \(SwiftShader\), not used by auto/);
  assert.notEqual(await useBackend('auto'), 'webgpu');
  assert.equal(await useBackend('webgpu'), 'webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
});

/** Three Adam steps of a small disentangler: the losses, then weights and Adam's moments. */
async function train(backend: 'cpu' | 'webgpu', makeOptimizer: () => tf.AdamOptimizer): Promise<{ losses: number[]; state: Float32Array[] }> {
  await useBackend(backend);
  const net = Disentangler.create({ order: 3, width: 6, inputShape: [12, 12, 2], targetShape: [3, 3, 4] }, 11);
  const opt = makeOptimizer();
  const x = tf.tensor4d(random(4 * 12 * 12 * 2, 3), [4, 12, 12, 2]);
  const y = tf.tensor4d(random(4 * 3 * 3 * 4, 4), [4, 3, 3, 4]);
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    (opt as unknown as { learningRate: number }).learningRate = 1e-2 / (i + 1);
    losses.push(await trainStep(net, opt, x, y));
  }
  const weights = await opt.getWeights();
  const state = await Promise.all([...net.variables, ...weights.map((w) => w.tensor)].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return { losses, state };
}

test('a disentangler training step on webgpu gives the cpu backend’s losses, weights and moments', async (t) => {
  if (skip) return t.skip(skip);
  const cpu = await train('cpu', () => tf.train.adam(1e-2));
  const gpu = await train('webgpu', () => adam(1e-2));
  const gpuStock = await train('webgpu', () => tf.train.adam(1e-2));
  assert.ok(tf.getKernel(ADAM_UPDATE, 'webgpu'), 'the fused Adam kernel is registered for webgpu');
  assertClose(gpu.losses, cpu.losses, 1e-4, 1e-6, 'loss (fused Adam)');
  assertClose(gpuStock.losses, cpu.losses, 1e-4, 1e-6, 'loss (tf.train.adam)');
  assert.equal(gpu.state.length, cpu.state.length);
  // Weights move by ~lr per step; convolution sums in another order differ by float rounding.
  for (let i = 0; i < cpu.state.length; i++) assertClose(gpu.state[i], cpu.state[i], 1e-3, 1e-5, `tensor ${i}`);
  assert.ok(cpu.losses[2] < cpu.losses[0], 'training lowered the loss');
});

test('the fused Adam update matches tf.train.adam on cpu for odd sizes and several steps', async (t) => {
  if (skip) return t.skip(skip);
  // 1, a size below one workgroup, one just above, and one over several hundred workgroups.
  const shapes = [[1], [3, 3, 4, 5], [257], [300, 401]];
  const run = async (backend: 'cpu' | 'webgpu') => {
    await useBackend(backend);
    const vars = shapes.map((s, i) => tf.variable(tf.tensor(random(tf.util.sizeFromShape(s), 10 + i), s), true, `adamcheck_${backend}_${i}`));
    const opt = backend === 'cpu' ? tf.train.adam(3e-3, 0.8, 0.99) : adam(3e-3, 0.8, 0.99);
    for (let step = 0; step < 4; step++) {
      const grads = vars.map((v, i) => ({
        name: v.name,
        tensor: tf.tensor(
          random(v.size, 100 * step + i).map((g) => g * (step + 1)),
          v.shape,
        ),
      }));
      opt.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
    }
    const weights = await opt.getWeights();
    const out = await Promise.all([...vars, ...weights.map((w) => w.tensor)].map(async (v) => (await v.data()) as Float32Array));
    opt.dispose();
    tf.dispose(vars);
    return out;
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  assert.equal(gpu.length, cpu.length);
  for (let i = 0; i < cpu.length; i++) assertClose(gpu[i], cpu[i], 1e-6, 1e-7, `tensor ${i}`);
});

test('the fused Adam update takes one dispatch per variable (stock: about ten) and leaks no tensors', async (t) => {
  if (skip) return t.skip(skip);
  await useBackend('webgpu');
  const read = countGpuWork(tf.backend());
  const count = async (opt: tf.AdamOptimizer) => {
    const net = Disentangler.create({ order: 2, width: 4, inputShape: [8, 8, 1], targetShape: [2, 2, 3] }, 1);
    const x = tf.tensor4d(random(2 * 8 * 8, 5), [2, 8, 8, 1]);
    const y = tf.tensor4d(random(2 * 2 * 2 * 3, 6), [2, 2, 2, 3]);
    const grads = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(net.apply(x), y)) as tf.Scalar, net.variables);
      return { value, grads: Object.entries(grads).map(([name, tensor]) => ({ name, tensor })) };
    };
    // First step creates the moments (a fill per moment); the second is a steady-state step.
    let g = grads();
    opt.applyGradients(g.grads);
    tf.dispose([g.value, ...g.grads.map((n) => n.tensor)]);
    g = grads();
    const tensors = tf.memory().numTensors;
    read();
    opt.applyGradients(g.grads);
    const work = read();
    tf.dispose([g.value, ...g.grads.map((n) => n.tensor)]);
    await net.variables[0].data();
    const leaked = tf.memory().numTensors - tensors + g.grads.length + 1;
    const n = net.variables.length;
    tf.dispose([x, y]);
    opt.dispose();
    net.dispose();
    return { dispatches: work.dispatches, variables: n, leaked };
  };
  const fused = await count(adam(1e-3));
  const stock = await count(tf.train.adam(1e-3));
  assert.equal(fused.dispatches, fused.variables);
  assert.ok(stock.dispatches >= 8 * stock.variables, `stock Adam: ${stock.dispatches} dispatches for ${stock.variables} variables`);
  assert.equal(fused.leaked, 0);
});
