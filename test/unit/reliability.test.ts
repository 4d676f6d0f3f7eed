/**
 * Reliability on a constructed case: K linear "networks" whose features share one latent and
 * each carry a private one. The cycle must keep the shared part and drop the private parts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { tf, useBackend } from '../../src/analysis/backend';
import { BadInputError } from '../../src/analysis/errors';
import {
  applyLinear,
  checkCompatible,
  cycleOperator,
  fitLinearHeads,
  headResidualVariance,
  reliabilityForOrder,
  reliabilitySplit,
  sampleVariance,
} from '../../src/analysis/metrics/reliability';
import { seededRandom } from '../../src/analysis/metrics/shapley';
import { BUDGETS } from '../../src/analysis/budget';
import type { Split } from '../../src/analysis/data/dataset';
import { jointFeatures, jointScales, standardFeatures, trainJoint, type JointSet } from '../../src/analysis/reliabilityTrain';

before(async () => {
  await useBackend('cpu');
});

function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function randomMatrix(r: number, c: number, g: () => number): Matrix {
  return new Matrix(Array.from({ length: r }, () => Array.from({ length: c }, g)));
}

/** Latent rows [positions, d] → tensor [N, S, S, d]. */
function toTensor(m: Matrix, N: number, S: number): tf.Tensor {
  return tf.tensor(m.to1DArray(), [N, S, S, m.columns]);
}

async function correlation(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const x = await a.data();
  const y = await b.data();
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.length;
  my /= y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * K = 3 networks: f_k = s S_k + p_k P_k + noise, s shared (2 dims), p_k private (2 dims).
 * The shared disentangler output h is an invertible mix of [s, p_1, p_2, p_3].
 */
function constructedCase(seed: number) {
  const g = gaussian(seededRandom(seed));
  const N = 48;
  const S = 4;
  const M = N * S * S;
  const s = randomMatrix(M, 2, g);
  const p = [0, 1, 2].map(() => randomMatrix(M, 2, g));
  const outChannels = [6, 5, 4];
  const fks = outChannels.map((c, k) => {
    const shared = s.mmul(randomMatrix(2, c, g));
    const priv = p[k].mmul(randomMatrix(2, c, g));
    const noise = randomMatrix(M, c, () => 0.05 * g());
    return { shared, priv, f: shared.clone().add(priv).add(noise) };
  });
  const latents = new Matrix(M, 8);
  latents.setSubMatrix(s, 0, 0);
  p.forEach((pk, k) => latents.setSubMatrix(pk, 0, 2 + 2 * k));
  const h = latents.mmul(randomMatrix(8, 8, g));
  return {
    h: toTensor(h, N, S),
    fks: fks.map((x) => toTensor(x.f, N, S)),
    shared: toTensor(fks[0].shared, N, S),
    priv: toTensor(fks[0].priv, N, S),
  };
}

test('the reliable feature recovers the shared component; the private one goes to the unreliable share', async () => {
  const c = constructedCase(1);
  const { heads, maps, reliable } = await reliabilityForOrder(c.h, c.fks);
  assert.deepEqual(reliable.shape, c.fks[0].shape);
  assert.equal(heads.length, 3);
  assert.deepEqual([heads[1].rows, heads[1].columns], [8, 5]);
  assert.deepEqual([maps[2].rows, maps[2].columns], [4, 8]);

  const rShared = await correlation(reliable, c.shared);
  assert.ok(rShared > 0.95, `corr(reliable, shared) = ${rShared}`);
  const unreliable = tf.sub(c.fks[0], reliable);
  const rPrivate = await correlation(unreliable, c.priv);
  assert.ok(rPrivate > 0.95, `corr(unreliable, private) = ${rPrivate}`);

  // One order whose component is the whole target feature: ρ_reliable ≈ Var[shared] / Var[f].
  const vf = await sampleVariance(c.fks[0]);
  const [entry] = await reliabilitySplit({ orders: [0], components: [c.fks[0]], reliableFeatures: [reliable], featureVariance: vf });
  const want = (await sampleVariance(c.shared)) / vf;
  assert.ok(Math.abs(entry.reliableRho - want) < 0.05, `ρ_reliable ${entry.reliableRho} vs ${want}`);
  assert.ok(Math.abs(entry.reliableVariance - want) < 0.05);
  const wantPrivate = (await sampleVariance(c.priv)) / vf;
  assert.ok(Math.abs(entry.unreliableVariance - wantPrivate) < 0.05, `unreliable ${entry.unreliableVariance} vs ${wantPrivate}`);

  // Without cycles (T = 0) the private part stays in: the cycle is what filters it.
  const { reliable: raw } = await reliabilityForOrder(c.h, c.fks, { rounds: 0 });
  const [noCycle] = await reliabilitySplit({ orders: [0], components: [c.fks[0]], reliableFeatures: [raw], featureVariance: vf });
  assert.ok(noCycle.reliableRho > 0.97, `T=0 keeps nearly all of f: ${noCycle.reliableRho}`);
  tf.dispose([unreliable, reliable, raw, c.h, c.shared, c.priv, ...c.fks]);
});

test('the cycle operator keeps the shared directions (eigenvalue 1) and shrinks private ones by about 1/K', async () => {
  const c = constructedCase(2);
  const { heads, maps, reliable } = await reliabilityForOrder(c.h, c.fks);
  const eig = new (await import('ml-matrix')).EigenvalueDecomposition(cycleOperator(heads, maps)).realEigenvalues.sort((a, b) => b - a);
  assert.ok(eig[0] > 0.98 && eig[1] > 0.98, `shared eigenvalues ${eig.slice(0, 2)}`);
  // A private direction is either averaged (1/K) or cut from the back map of its own network (below 1/K).
  for (const e of eig.slice(2)) assert.ok(e < 1 / 3 + 0.05, `private eigenvalue ${e}`);
  tf.dispose([reliable, c.h, c.shared, c.priv, ...c.fks]);
});

test('least-squares heads reproduce a known 1×1 convolution', async () => {
  const g = gaussian(seededRandom(4));
  const w = randomMatrix(5, 3, g);
  const h = tf.tensor(Array.from({ length: 10 * 3 * 3 * 5 }, g), [10, 3, 3, 5]);
  const f = applyLinear(h, w);
  const [a] = await fitLinearHeads(h, [f], { rowsPerChunk: 7 });
  for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(a.get(i, j) - w.get(i, j)) < 1e-3);
  tf.dispose([h, f]);
});

test('reliable components are differences of consecutive reliable features', async () => {
  const g = gaussian(seededRandom(8));
  const t = (scale: number) => tf.tensor(Array.from({ length: 30 * 4 }, () => scale * g()), [30, 4]);
  const r0 = t(1);
  const delta = t(0.5);
  const r1 = tf.add(r0, delta);
  const c0 = tf.add(r0, t(0.3));
  const c1 = tf.add(delta, t(0.2));
  const vf = 10;
  const out = await reliabilitySplit({ orders: [0, 2], components: [c0, c1], reliableFeatures: [r0, r1], featureVariance: vf });
  assert.deepEqual(
    out.map((e) => e.order),
    [0, 2],
  );
  const vDelta = await sampleVariance(delta);
  const vc1 = await sampleVariance(c1);
  const u1 = tf.sub(c1, delta);
  assert.ok(Math.abs(out[1].reliableVariance - vDelta / vf) < 1e-4);
  assert.ok(Math.abs(out[1].reliableRho - vDelta / vc1) < 1e-4);
  assert.ok(Math.abs(out[1].unreliableVariance - (await sampleVariance(u1)) / vf) < 1e-4);
  assert.ok(Math.abs(out[0].reliableVariance - (await sampleVariance(r0)) / vf) < 1e-4);
  tf.dispose([r0, delta, r1, c0, c1, u1]);
});

test('an exemplar with a different spatial size is a BadInputError naming it', () => {
  const h = tf.zeros([4, 8, 8, 16]);
  const ok = tf.zeros([4, 8, 8, 32]);
  const bad = tf.zeros([4, 4, 4, 32]);
  assert.doesNotThrow(() => checkCompatible(h, [ok, ok]));
  assert.throws(
    () => checkCompatible(h, [ok, bad], ['target', 'resnet-b']),
    (e: unknown) => e instanceof BadInputError && /resnet-b/.test(e.message) && /4×4/.test(e.message) && /8×8/.test(e.message),
  );
  assert.throws(() => checkCompatible(h, [tf.zeros([5, 8, 8, 2])]), BadInputError);
  tf.dispose([h, ok, bad]);
});

/**
 * Joint training (METHOD.md §3, reliabilityTrain.ts): images whose pixels carry a shared latent
 * and one private latent per network; network k sees the shared latent and its own private one
 * through a 1×1 map. A linear (order 0) Φ trained jointly with the K heads must explain every
 * network's feature, so it carries the exemplars' private latents too; the cycle must then keep
 * only the shared part in the target's reliable feature.
 */
function jointCase(seed: number) {
  const g = gaussian(seededRandom(seed));
  const N = 96;
  const S = 4;
  const M = N * S * S;
  // Pixel channels: shared (2), private of network 1, 2, 3 (1 each), and one channel no network uses.
  const latents = randomMatrix(M, 6, g);
  const images = Float32Array.from(latents.to1DArray());
  const split: Split = { images, labels: new Int32Array(N), count: N, height: S, width: S, channels: 6 };
  const shared = latents.subMatrix(0, M - 1, 0, 1);
  const outChannels = [5, 4, 6];
  const nets = outChannels.map((c, k) => {
    const s = shared.mmul(randomMatrix(2, c, g));
    const p = latents.subMatrix(0, M - 1, 2 + k, 2 + k).mmul(randomMatrix(1, c, g));
    const f = s.clone().add(p).add(randomMatrix(M, c, () => 0.05 * g()));
    return { shared: s, priv: p, f };
  });
  return { split, N, S, nets };
}

test('joint training: a shared Φ with K heads explains every network, and the cycle keeps only the shared part of the target', async () => {
  const c = jointCase(11);
  const { N, S } = c;
  const indices = Int32Array.from({ length: N }, (_, i) => i);
  const set: JointSet = { split: c.split, indices, networks: c.nets.map((n) => ({ features: Float32Array.from(n.f.to1DArray()), shape: [S, S, n.f.columns] as [number, number, number] })) };
  const scales = jointScales(set);
  const budget = { ...BUDGETS.quick, maxEpochs: 25, samplesPerEpoch: 256, batchSize: 32 };
  const losses: number[][] = [];
  const fits: number[][] = [];
  let reliable: tf.Tensor | undefined;
  const finished = await trainJoint({
    train: set,
    scales,
    orders: [0, 1],
    width: 8,
    budget,
    seed: 3,
    // Order 1 only checks the warm start (heads carried over); a few epochs do.
    epochs: [25, 2],
    onOrderDone: async (o) => {
      losses.push(o.lossCurve);
      assert.equal(o.heads.length, 3);
      assert.deepEqual(o.heads[2].shape, [5, 6], 'A_k maps Φ (shaped like the target, 5 channels) to network k');
      const h = await jointFeatures(o.net, c.split, indices, scales.input);
      const fks = set.networks.map((f, k) => standardFeatures(f, scales.outputs[k], indices));
      const r = await reliabilityForOrder(h, fks);
      const residual = await headResidualVariance(h, r.heads, fks);
      // Standardised features have a variance of 1 per dimension: the residual per position over the channels is the unexplained share.
      fits.push(residual.map((v, k) => 1 - v / set.networks[k].shape[2]));
      if (o.order === 0) reliable = r.reliable;
      else r.reliable.dispose();
      tf.dispose([h, ...fks]);
    },
  });
  assert.ok(finished);
  // Training lowers the joint loss (3 = nothing explained in standardised units).
  assert.ok(losses[0][losses[0].length - 1] < 0.2 * losses[0][0], `joint loss ${losses[0][0]} → ${losses[0][losses[0].length - 1]}`);
  for (const [k, fit] of fits[0].entries()) assert.ok(fit > 0.95, `order 0: A_${k + 1} Φ explains ${fit} of network ${k + 1}`);
  // The target's reliable feature, back in its own units, follows the shared part and leaves the private one.
  const t = scales.outputs[0];
  const toF = (x: Matrix) => toTensor(x, N, S);
  const rel = tf.tidy(() => tf.add(tf.mul(reliable!, t.scale), tf.tensor4d(t.mean, [1, S, S, 5])));
  const f = toF(c.nets[0].f);
  const shared = toF(c.nets[0].shared);
  const priv = toF(c.nets[0].priv);
  const unreliable = tf.sub(f, rel);
  const rShared = await correlation(rel, shared);
  const rPrivate = await correlation(unreliable, priv);
  assert.ok(rShared > 0.95, `corr(reliable, shared) = ${rShared}`);
  assert.ok(rPrivate > 0.9, `corr(unreliable, private) = ${rPrivate}`);
  const vf = await sampleVariance(f);
  const [entry] = await reliabilitySplit({ orders: [0], components: [f], reliableFeatures: [rel], featureVariance: vf });
  const want = (await sampleVariance(shared)) / vf;
  assert.ok(Math.abs(entry.reliableVariance - want) < 0.08, `Var[reliable]/Var[f] ${entry.reliableVariance} vs shared ${want}`);
  tf.dispose([reliable!, rel, f, shared, priv, unreliable]);
});
