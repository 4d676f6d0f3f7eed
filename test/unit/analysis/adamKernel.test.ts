import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { ADAM_UPDATE, FusedAdam, adam } from '../../../src/analysis/tf/kernels/adam';
import { Disentangler, trainStep } from '../../../src/analysis/pipeline/disentangler';
import { random } from './kernelHelpers';
import { wasmAdam } from '../../../src/analysis/tf/kernels/wasm/winograd';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

before(async () => {
  await useBackend('wasm');
});

/** Five Adam steps of a small disentangler; weights and Adam's state (moments, β powers) after them. */
async function train(backend: 'cpu' | 'wasm', makeOptimizer: () => tf.AdamOptimizer): Promise<{ losses: number[]; state: Float32Array[] }> {
  await tf.setBackend(backend);
  const net = Disentangler.create({ order: 3, width: 6, inputShape: [12, 12, 2], targetShape: [3, 3, 4] }, 11);
  const opt = makeOptimizer();
  const x = tf.tensor4d(random(4 * 12 * 12 * 2, 3), [4, 12, 12, 2]);
  const y = tf.tensor4d(random(4 * 3 * 3 * 4, 4), [4, 3, 3, 4]);
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    // A changing learning rate, as the training schedule sets it between steps.
    (opt as unknown as { learningRate: number }).learningRate = 1e-2 / (i + 1);
    losses.push(await trainStep(net, opt, x, y));
  }
  const weights = await opt.getWeights();
  const state = [...net.variables, ...weights.map((w) => w.tensor)].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return { losses, state };
}

test('the fused Adam update gives bit-identical weights, moments and losses to tf.train.adam on wasm', async () => {
  const stock = await train('wasm', () => tf.train.adam(1e-2));
  const fused = await train('wasm', () => adam(1e-2));
  assert.ok(tf.getKernel(ADAM_UPDATE, 'wasm'), 'fused kernel registered with the wasm backend');
  assert.ok(wasmAdam(tf.backend() as BackendWasm), "the update ran as the engine's wasm module's adam (4 floats at a time), not the JS loop");
  assert.deepEqual(fused.losses, stock.losses);
  assert.equal(fused.state.length, stock.state.length);
  for (let i = 0; i < stock.state.length; i++) assert.deepEqual(Array.from(fused.state[i]), Array.from(stock.state[i]), `tensor ${i}`);
  // The update moved the weights (a test that cannot pass with a no-op update).
  assert.ok(stock.losses[4] < stock.losses[0]);
});

test('the fused Adam update matches the cpu backend and falls back to the stock update there', async () => {
  const cpu = await train('cpu', () => new FusedAdam(1e-2, 0.9, 0.999));
  const cpuStock = await train('cpu', () => tf.train.adam(1e-2));
  assert.deepEqual(cpu.losses, cpuStock.losses);
  const wasm = await train('wasm', () => adam(1e-2));
  for (let i = 0; i < cpu.losses.length; i++)
    assert.ok(Math.abs(cpu.losses[i] - wasm.losses[i]) <= 1e-4 * Math.abs(cpu.losses[i]), `loss ${i}: ${cpu.losses[i]} vs ${wasm.losses[i]}`);
  await tf.setBackend('wasm');
});

test('the fused Adam step leaks no tensors', async () => {
  await tf.setBackend('wasm');
  const net = Disentangler.create({ order: 2, width: 4, inputShape: [8, 8, 1], targetShape: [2, 2, 3] }, 1);
  const opt = adam(1e-3);
  const x = tf.tensor4d(random(2 * 8 * 8, 5), [2, 8, 8, 1]);
  const y = tf.tensor4d(random(2 * 2 * 2 * 3, 6), [2, 2, 2, 3]);
  await trainStep(net, opt, x, y);
  const after = tf.memory().numTensors;
  await trainStep(net, opt, x, y);
  await trainStep(net, opt, x, y);
  assert.equal(tf.memory().numTensors, after);
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
});
