/**
 * The linear-teacher self-test (issue: "a teacher with no nonlinearity at all, in each padding
 * convention, must come out with ρ⁽⁰⁾ ≥ 0.98"): the probed geometry plus the closed-form linear
 * order reproduce a linear 3-conv trunk (biases, zero padding at every stage) on new images.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { Disentangler } from '../../../src/analysis/pipeline/disentangler';
import { solveLinearOrder } from '../../../src/analysis/pipeline/closedForm';
import { StepPool } from '../../../src/analysis/pipeline/parallel';
import { probeGeometry } from '../../../src/analysis/pipeline/geometry';
import { Rng } from '../../../src/analysis/util/random';
import { convTrunk, type Convention } from './geometryCases';

before(async () => {
  await useBackend('wasm');
});

/** Smooth random images (a blurred noise field), so neighbouring pixels correlate as in real data. */
function images(n: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tidy(() => {
    const raw = tf.tensor4d(
      Float32Array.from({ length: n * 28 * 28 }, () => rng.next()),
      [n, 28, 28, 1],
    );
    return tf.avgPool(raw, 3, 1, 'same') as tf.Tensor4D;
  });
}

/** 1 − Var[f − Φ] / Var[f]: the error's variance about each position's mean (train.ts fits the mean apart). */
async function fitOf(net: Disentangler, x: tf.Tensor4D, y: tf.Tensor4D): Promise<number> {
  const r = tf.tidy(() => {
    const e = tf.sub(net.apply(x), y);
    const mse = tf.sum(tf.square(tf.sub(e, tf.mean(e, 0, true))));
    const v = tf.mul(tf.sum(tf.moments(y, 0).variance), y.shape[0]);
    return tf.sub(1, tf.div(mse, v));
  });
  const out = (await r.data())[0];
  r.dispose();
  return out;
}

for (const convention of ['tf-same', 'torch', 'valid', 'pool'] as Convention[]) {
  test(`linear teacher, ${convention}: the closed-form order 0 on the probed geometry explains ≥ 0.98 of the feature on new images`, async () => {
    const teacher = convTrunk(convention, false, 3);
    const run = async (x: tf.Tensor4D) => tf.tidy(() => teacher.predict(x) as tf.Tensor4D);
    const probe = await probeGeometry(run, [28, 28, 1]);
    assert.ok(probe.geometry);
    const xTrain = images(256, 1);
    const xTest = images(64, 2);
    const [yTrain, yTest] = [await run(xTrain), await run(xTest)];
    const [, th, tw, tc] = yTrain.shape;
    const net = Disentangler.create(
      { order: 0, width: convention === 'pool' ? 16 : 32, inputShape: [28, 28, 1], targetShape: [th, tw, tc], geometry: probe.geometry },
      5,
    );
    try {
      const solved = await solveLinearOrder(net.linearChain()!, async (visit) => {
        for (let s = 0; s < 256; s += 64) {
          const [x, y] = [tf.slice(xTrain, [s], [64]), tf.slice(yTrain, [s], [64])];
          await visit(x, y);
          tf.dispose([x, y]);
        }
      });
      assert.ok(solved.fit > 0.99, `in-sample fit ${solved.fit}`);
      const fit = await fitOf(net, xTest, yTest);
      assert.ok(fit >= 0.98, `${convention}: order 0 explains ${fit} of a linear teacher on new images`);
      process.stdout.write(`# ${convention}: fit ${solved.fit.toFixed(4)} in sample, ${fit.toFixed(4)} on new images\n`);
    } finally {
      net.dispose();
      teacher.dispose();
      tf.dispose([xTrain, xTest, yTrain, yTest]);
    }
  });
}

test("without the geometry (every conv 'same') the linear order of a PyTorch-padded linear teacher is out of reach: the grid is shifted", async () => {
  const teacher = convTrunk('torch', false, 3);
  const run = async (x: tf.Tensor4D) => tf.tidy(() => teacher.predict(x) as tf.Tensor4D);
  const xTrain = images(256, 1);
  const xTest = images(64, 2);
  const [yTrain, yTest] = [await run(xTrain), await run(xTest)];
  const net = Disentangler.create({ order: 0, width: 32, inputShape: [28, 28, 1], targetShape: [7, 7, 8] }, 5);
  try {
    await solveLinearOrder(net.linearChain()!, async (visit) => visit(xTrain, yTrain));
    const fit = await fitOf(net, xTest, yTest);
    process.stdout.write(`# torch teacher, 'same' disentangler: ${fit.toFixed(4)} on new images\n`);
    assert.ok(fit < 0.95, `a shifted grid should not fit a linear teacher: ${fit}`);
  } finally {
    net.dispose();
    teacher.dispose();
    tf.dispose([xTrain, xTest, yTrain, yTest]);
  }
});

test('the least squares with its samples shared among 2 threads on whole batches (each summing its moments) gives the one-thread solution', async () => {
  // A ReLU teacher: no linear map fits it exactly, so leaving a share of the samples out changes the solution.
  const teacher = convTrunk('torch', true, 3);
  const run = async (x: tf.Tensor4D) => tf.tidy(() => teacher.predict(x) as tf.Tensor4D);
  const probe = await probeGeometry(run, [28, 28, 1]);
  const n = 200;
  const x = images(n, 3);
  const y = await run(x);
  const [, th, tw, tc] = y.shape;
  const spec = {
    order: 0,
    width: 32,
    inputShape: [28, 28, 1] as [number, number, number],
    targetShape: [th, tw, tc] as [number, number, number],
    geometry: probe.geometry!,
  };
  const nets = [0, 1, 2].map(() => Disentangler.create(spec, 5));
  const [one, two, half] = nets;
  const pool = await StepPool.open(2, 'wasm');
  assert.ok(pool);
  // The identity standardiser: the worker standardises its raw share, this thread passes its share as it is.
  const std = { inMean: new Float32Array(1), inStd: Float32Array.of(1), outMean: new Float32Array(th * tw * tc), outScale: 1 };
  const xs = x.dataSync() as Float32Array;
  const ys = y.dataSync() as Float32Array;
  const source = (to: number) => async (visit: (x: tf.Tensor4D, y: tf.Tensor4D) => Promise<void>) => {
    for (let s = 0; s < to; s += 64) {
      const k = Math.min(64, to - s);
      const [a, b] = [tf.slice(x, [s], [k]), tf.slice(y, [s], [k])];
      await visit(a, b);
      tf.dispose([a, b]);
    }
  };
  // Outputs about each position's mean (train.ts fits the mean apart), as a fraction of the one-thread output's largest.
  const differ = (a: Disentangler, b: Disentangler) =>
    tf.tidy(() => {
      const centred = (net: Disentangler) => {
        const o = net.apply(x);
        return tf.sub(o, tf.mean(o, 0, true));
      };
      const [u, v] = [centred(a), centred(b)];
      return tf.max(tf.abs(tf.sub(u, v))).dataSync()[0] / tf.max(tf.abs(u)).dataSync()[0];
    });
  try {
    const alone = await solveLinearOrder(one.linearChain()!, source(n));
    await pool.bind(two);
    const own = await pool.shareSolve(n, [28, 28, 1], [th, tw, tc], std, 64, (from, to) => ({
      x: xs.slice(from * 784, to * 784),
      y: ys.slice(from * th * tw * tc, to * th * tw * tc),
    }));
    // 200 samples in batches of 64: four batches, two to a thread.
    assert.equal(own, 128);
    const shared = await solveLinearOrder(two.linearChain()!, source(own), (index, withTargets) => pool.moments(index, withTargets));
    // This thread's share alone: what a lost worker share would give.
    const partial = await solveLinearOrder(half.linearChain()!, source(own));
    process.stdout.write(`# fit: one thread ${alone.fit}, shared ${shared.fit}, this thread's share only ${partial.fit}\n`);
    assert.ok(Math.abs(shared.fit - alone.fit) < 1e-8, `fit ${shared.fit} vs ${alone.fit}`);
    assert.ok(Math.abs(partial.fit - alone.fit) > 2e-4, `half the samples: fit ${partial.fit} vs ${alone.fit}`);
    const d = differ(one, two);
    const dHalf = differ(one, half);
    process.stdout.write(`# outputs differ: shared ${d}, this thread's share only ${dHalf}\n`);
    assert.ok(d < 1e-5, `shared: outputs differ by ${d} of their scale`);
    assert.ok(dHalf > 5e-3, `half the samples: outputs differ by ${dHalf}`);
  } finally {
    await pool.close();
    for (const net of nets) net.dispose();
    teacher.dispose();
    tf.dispose([x, y]);
  }
});
