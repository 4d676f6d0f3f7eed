/**
 * Reliability on a constructed case: K linear "networks" whose features share one latent and
 * each carry a private one. The cycle must keep the shared part and drop the private parts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { BadInputError } from '../../../src/analysis/util/errors';
import {
  applyLinear,
  checkCompatible,
  cycleOperator,
  fitLinearHeads,
  headResidualVariance,
  reliabilityForOrder,
  reliabilitySplit,
  sampleVariance,
} from '../../../src/analysis/metrics/reliability';
import { mulberry32 } from '../../../src/analysis/util/random';
import { gaussian, knownCase, randomMatrix, toTensor } from './reliabilityKnown';
import { BUDGETS } from '../../../src/analysis/pipeline/budget';
import type { Split } from '../../../src/analysis/data/dataset';
import { jointFeatures, jointScales, standardFeatures, trainJoint, type JointSet } from '../../../src/analysis/pipeline/reliabilityTrain';

before(async () => {
  await useBackend('cpu');
});

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
 * The known answer (reliabilityKnown.ts): the target shares a latent with two exemplars and has
 * a private one, of which each exemplar carries a trace ε below its own noise. The measured share
 * must be the true one at every evaluation size: the earlier rule (back maps fitted on A_k h with
 * a noise floor) gave 0.45 / 0.65 / 0.85 at 256 / 4 096 / 32 000 positions for ε = 0.02.
 */
for (const h of ['target', 'joint'] as const) {
  test(`known answer (${h === 'target' ? "the target's Φ" : 'a joint Φ carrying every latent'}): the reliable share is the true shared share at 256–32 000 positions and cross-loadings 0–0.1`, async () => {
    const seen: string[] = [];
    for (const crossLoading of [0, 0.02, 0.1]) {
      for (const positions of [256, 4096, 32000]) {
        const c = knownCase({ positions, crossLoading, seed: 7, h });
        const r = await reliabilityForOrder(c.h, c.fks);
        const vf = await sampleVariance(c.fks[0]);
        const [e] = await reliabilitySplit({ orders: [0], components: [c.fks[0]], reliableFeatures: [r.reliable], featureVariance: vf });
        seen.push(`ε ${crossLoading} at ${positions}: ${e.reliableRho.toFixed(3)} vs ${c.truth.toFixed(3)}`);
        assert.ok(Math.abs(e.reliableRho - c.truth) < 0.05, seen.join('; '));
        // One order whose component is f: the two shares of Var f add up to 1.
        assert.ok(Math.abs(e.reliableVariance + e.unreliableVariance - 1) < 1e-4, `${e.reliableVariance} + ${e.unreliableVariance}`);
        if (positions === 4096) {
          // The reliable feature follows the shared part of f_1.
          const corr = await correlation(r.reliable, c.shared);
          assert.ok(corr > 0.97, `corr(reliable, shared) = ${corr}`);
        }
        tf.dispose([c.h, c.shared, r.reliable, ...c.fks]);
      }
    }
  });
}

test('the cycle is what filters: at T = 0 the whole target feature counts as reliable, at T = 10 only its shared part', async () => {
  const c = knownCase({ positions: 4096, crossLoading: 0.02, seed: 3, h: 'target' });
  const vf = await sampleVariance(c.fks[0]);
  const share = async (rounds: number) => {
    const r = await reliabilityForOrder(c.h, c.fks, { rounds });
    const [e] = await reliabilitySplit({ orders: [0], components: [c.fks[0]], reliableFeatures: [r.reliable], featureVariance: vf });
    r.reliable.dispose();
    return e.reliableRho;
  };
  const [t0, t10] = [await share(0), await share(10)];
  assert.ok(t0 > 0.99, `T = 0: ${t0}`);
  assert.ok(Math.abs(t10 - c.truth) < 0.05 && t10 < t0 - 0.3, `T = 10: ${t10}, truth ${c.truth}`);
  tf.dispose([c.h, c.shared, ...c.fks]);
});

test('the cycle operator keeps the shared directions (eigenvalue ≈ 1) and shrinks private ones to about 1/K', async () => {
  const c = knownCase({ positions: 4096, crossLoading: 0.02, seed: 2, h: 'joint' });
  const { heads, maps, reliable } = await reliabilityForOrder(c.h, c.fks);
  assert.deepEqual(reliable.shape, c.fks[0].shape);
  assert.deepEqual([heads[1].rows, heads[1].columns], [12, 10], 'A_k: h (12 channels) → exemplar (10)');
  assert.deepEqual([maps[2].rows, maps[2].columns], [10, 12], 'B_k: exemplar (10) → h (12)');
  const eig = new EigenvalueDecomposition(cycleOperator(heads, maps)).realEigenvalues.sort((a, b) => b - a);
  // 3 shared latents; then the target's private (3) and each exemplar's private latents (3 + 3), each carried by one network of three.
  for (const e of eig.slice(0, 3)) assert.ok(e > 0.95, `shared eigenvalues ${eig.slice(0, 3)}`);
  for (const e of eig.slice(3)) assert.ok(e < 1 / 3 + 0.05, `private eigenvalues ${eig.slice(3)}`);
  tf.dispose([reliable, c.h, c.shared, ...c.fks]);
});

test('the maps fitted on the training samples give the same share on new samples (the test split)', async () => {
  const train = knownCase({ positions: 4096, crossLoading: 0.02, seed: 5, h: 'joint' });
  // The same networks (loadings) on other samples.
  const test = knownCase({ positions: 1024, crossLoading: 0.02, seed: 5, sampleSeed: 6, h: 'joint' });
  const r = await reliabilityForOrder(train.h, train.fks);
  const reliableTest = r.apply(test.h);
  const [e] = await reliabilitySplit({
    orders: [0],
    components: [test.fks[0]],
    reliableFeatures: [reliableTest],
    featureVariance: await sampleVariance(test.fks[0]),
  });
  assert.ok(Math.abs(e.reliableRho - test.truth) < 0.05, `test-split share ${e.reliableRho} vs ${test.truth}`);
  tf.dispose([r.reliable, reliableTest, train.h, train.shared, test.h, test.shared, ...train.fks, ...test.fks]);
});

test('least-squares heads reproduce a known 1×1 convolution', async () => {
  const g = gaussian(mulberry32(4));
  const w = randomMatrix(5, 3, g);
  const h = tf.tensor(Array.from({ length: 10 * 3 * 3 * 5 }, g), [10, 3, 3, 5]);
  const f = applyLinear(h, w);
  const [a] = await fitLinearHeads(h, [f], { rowsPerChunk: 7 });
  for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(a.get(i, j) - w.get(i, j)) < 1e-3);
  tf.dispose([h, f]);
});

test('the split: reliable + unreliable = c with additive variances, ρ_rel ≤ 1, and exactly the projected share when u is a projection of c', async () => {
  const g = gaussian(mulberry32(8));
  const t = (scale: number, c = 4) =>
    tf.tensor(
      Array.from({ length: 300 * c }, () => scale * g()),
      [300, c],
    );
  // Order 0: c0 has a reliable 2-channel part; the reliable feature is that part shrunk by the cycle (0.7).
  const keep = tf.tensor2d([1, 0, 0, 0, 0, 1, 0, 0], [4, 2]);
  const c0 = t(1);
  const r0 = tf.mul(tf.matMul(tf.matMul(c0, keep), keep, false, true), 0.7);
  // Order 2: the reliable feature moves by a noisy version of the component (ρ_rel < 1), order 4 by something unrelated (ρ_rel ≈ 0).
  const c1 = t(0.5);
  const r1 = tf.add(r0, tf.add(c1, t(0.5)));
  const c2 = t(0.2);
  const r2 = tf.add(r1, t(0.3));
  const vf = 3;
  const out = await reliabilitySplit({ orders: [0, 2, 4], components: [c0, c1, c2], reliableFeatures: [r0, r1, r2], featureVariance: vf });
  assert.deepEqual(
    out.map((e) => e.order),
    [0, 2, 4],
  );
  const vc = [await sampleVariance(c0), await sampleVariance(c1), await sampleVariance(c2)];
  out.forEach((e, i) => {
    assert.ok(e.reliableRho >= 0 && e.reliableRho <= 1, `ρ_rel ${e.reliableRho}`);
    assert.ok(Math.abs((e.reliableVariance + e.unreliableVariance) * vf - vc[i]) < 1e-4 * vc[i], `order ${e.order}: variances add up to Var[c]`);
    assert.ok(Math.abs(e.reliableRho * vc[i] - e.reliableVariance * vf) < 1e-4 * vc[i]);
  });
  // The projected share, whatever the shrinkage: Var[c0 P] / Var[c0].
  const projected = tf.matMul(c0, keep);
  assert.ok(Math.abs(out[0].reliableRho - (await sampleVariance(projected)) / vc[0]) < 1e-4, `${out[0].reliableRho}`);
  // Var[c1] / Var[c1 + noise of the same size] ≈ 1/2.
  assert.ok(out[1].reliableRho > 0.35 && out[1].reliableRho < 0.65, `${out[1].reliableRho}`);
  assert.ok(out[2].reliableRho < 0.05, `${out[2].reliableRho}`);
  tf.dispose([keep, c0, r0, c1, r1, c2, r2, projected]);
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
  const g = gaussian(mulberry32(seed));
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
    const f = s
      .clone()
      .add(p)
      .add(randomMatrix(M, c, () => 0.05 * g()));
    return { shared: s, priv: p, f };
  });
  return { split, N, S, nets };
}

test('joint training: a shared Φ with K heads explains every network, and the cycle keeps only the shared part of the target', async () => {
  const c = jointCase(11);
  const { N, S } = c;
  const indices = Int32Array.from({ length: N }, (_, i) => i);
  const set: JointSet = {
    split: c.split,
    indices,
    networks: c.nets.map((n) => ({ features: Float32Array.from(n.f.to1DArray()), shape: [S, S, n.f.columns] as [number, number, number] })),
  };
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
