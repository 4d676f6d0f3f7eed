/** Shapley values on games whose answers are known, and the batched head evaluator against a plain loop. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import {
  componentShapley,
  exactShapley,
  headLossEvaluator,
  sampledShapley,
  shapleyOfComponents,
  shapleyWeight,
  type Coalition,
  type CoalitionEvaluator,
} from '../../../src/analysis/metrics/shapley';
import { mulberry32 } from '../../../src/analysis/util/random';

before(async () => {
  await useBackend('cpu');
});

/** A game from a plain function of the member list, counting how it is called. */
function game(v: (members: number[]) => number): CoalitionEvaluator & { calls: number; coalitions: number } {
  const f = async (cs: Coalition[]) => {
    f.calls++;
    f.coalitions += cs.length;
    return Float64Array.from(cs, (c) => v([...c].flatMap((x, i) => (x ? [i] : []))));
  };
  f.calls = 0;
  f.coalitions = 0;
  return f;
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

test('the weights are |S|!(n−|S|−1)!/n! and sum to 1 over coalitions without the player', () => {
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  for (const n of [1, 2, 5, 9, 12]) {
    let total = 0;
    for (let s = 0; s < n; s++) {
      assert.ok(Math.abs(shapleyWeight(n, s) - (fact(s) * fact(n - s - 1)) / fact(n)) < 1e-15);
      total += shapleyWeight(n, s) * Math.round(fact(n - 1) / (fact(s) * fact(n - 1 - s)));
    }
    assert.ok(Math.abs(total - 1) < 1e-12, `n=${n}: ${total}`);
  }
});

test('additive game: φ_i = v({i})', async () => {
  const w = [3, -1.5, 0.25, 7, 0, 2];
  const g = game((m) => m.reduce((s, i) => s + w[i], 0));
  const phi = await exactShapley(w.length, g);
  w.forEach((wi, i) => assert.ok(Math.abs(phi[i] - wi) < 1e-12, `player ${i}: ${phi[i]} vs ${wi}`));
  assert.equal(g.coalitions, 2 ** w.length);
  assert.equal(g.calls, 1, 'all coalitions go to the evaluator in one batch');
});

test('symmetric players get equal values, a dummy gets 0, and efficiency holds', async () => {
  // Players 0,1,2 are interchangeable, 3 has its own role, 4 is a dummy.
  const v = (m: number[]): number => {
    const k = m.filter((i) => i < 3).length;
    const has3 = m.includes(3);
    return k * k + (has3 ? 2 * k + 1 : 0) + (k >= 2 && has3 ? 5 : 0);
  };
  const phi = await exactShapley(5, game(v));
  assert.ok(Math.abs(phi[0] - phi[1]) < 1e-12 && Math.abs(phi[1] - phi[2]) < 1e-12);
  assert.ok(Math.abs(phi[4]) < 1e-12);
  assert.ok(Math.abs(sum(phi) - (v([0, 1, 2, 3, 4]) - v([]))) < 1e-6);
  assert.ok(phi[3] > 0);
});

test('glove game (known answer): one left glove, two right gloves → 2/3, 1/6, 1/6', async () => {
  const v = (m: number[]): number => Math.min(m.includes(0) ? 1 : 0, m.filter((i) => i > 0).length);
  const phi = await exactShapley(3, game(v));
  assert.ok(Math.abs(phi[0] - 2 / 3) < 1e-12);
  assert.ok(Math.abs(phi[1] - 1 / 6) < 1e-12);
  assert.ok(Math.abs(phi[2] - 1 / 6) < 1e-12);
});

test('batches are bounded by coalitionsPerCall and give the same values', async () => {
  const rand = mulberry32(3);
  const table = Float64Array.from({ length: 256 }, () => rand());
  const v = (m: number[]) => table[m.reduce((s, i) => s | (1 << i), 0)];
  const all = await exactShapley(8, game(v));
  const g = game(v);
  const chunked = await exactShapley(8, g, { coalitionsPerCall: 50 });
  assert.equal(g.calls, Math.ceil(256 / 50));
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(all[i] - chunked[i]) < 1e-12);
});

test('permutation sampling is within 3 standard errors of exact on an 8-player game, seeded, and efficient', async () => {
  const rand = mulberry32(11);
  const weights = Array.from({ length: 8 }, () => rand() * 2 - 1);
  const pair = Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => rand() - 0.5));
  const v = (m: number[]): number => {
    let s = 0;
    for (const i of m) s += weights[i];
    for (const i of m) for (const j of m) if (i < j) s += pair[i][j];
    return Math.tanh(s) + (m.length > 5 ? 0.3 : 0);
  };
  const exact = await exactShapley(8, game(v));
  const est = await sampledShapley(8, game(v), { permutations: 400, seed: 7 });
  const again = await sampledShapley(8, game(v), { permutations: 400, seed: 7 });
  assert.deepEqual(Array.from(est.values), Array.from(again.values), 'same seed, same estimate');
  let outside = 0;
  for (let i = 0; i < 8; i++) {
    assert.ok(est.stdErr[i] > 0);
    if (Math.abs(est.values[i] - exact[i]) > 3 * est.stdErr[i]) outside++;
  }
  assert.ok(outside <= 1, `${outside} players outside 3 standard errors`);
  assert.ok(Math.abs(sum(est.values) - (v([0, 1, 2, 3, 4, 5, 6, 7]) - v([]))) < 1e-9);
});

/** Plain-JS reference: mean cross-entropy of a linear head on f_S, one coalition at a time. */
function bruteForceLoss(players: number[][][], labels: number[], W: number[][], coalition: Coalition, baseline: 'mean' | 'zero'): number {
  const N = labels.length;
  const F = players[0][0].length;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const f = new Array(F).fill(0);
    players.forEach((p, c) => {
      for (let d = 0; d < F; d++) {
        if (coalition[c]) f[d] += p[n][d];
        else if (baseline === 'mean') f[d] += p.reduce((s, row) => s + row[d], 0) / N;
      }
    });
    const logits = W[0].map((_, k) => f.reduce((s, x, d) => s + x * W[d][k], 0));
    const mx = Math.max(...logits);
    const lse = mx + Math.log(logits.reduce((s, z) => s + Math.exp(z - mx), 0));
    total += lse - logits[labels[n]];
  }
  return total / N;
}

test('the batched head evaluator equals a brute-force loop on a tiny linear head', async () => {
  const rand = mulberry32(5);
  const N = 13;
  const shape = [2, 3]; // feature [2, 3] per sample, flattened for the head
  const F = 6;
  const classes = 4;
  const P = 4;
  const playersJs = Array.from({ length: P }, () => Array.from({ length: N }, () => Array.from({ length: F }, () => rand() * 2 - 1)));
  const labels = Array.from({ length: N }, () => Math.floor(rand() * classes));
  const W = Array.from({ length: F }, () => Array.from({ length: classes }, () => rand() * 2 - 1));
  const players = playersJs.map((p) => tf.tensor(p.flat(), [N, ...shape]));
  const w = tf.tensor2d(W);
  let headCalls = 0;
  const head = (f: tf.Tensor) => {
    headCalls++;
    return tf.tidy(() => tf.matMul(tf.reshape(f, [f.shape[0], F]), w));
  };
  const coalitions: Coalition[] = Array.from({ length: 2 ** P }, (_, m) => Uint8Array.from({ length: P }, (_, i) => (m >> i) & 1));
  for (const baseline of ['mean', 'zero'] as const) {
    // A small element bound forces several sample chunks and coalition groups.
    const evaluate = headLossEvaluator({ players, labels, head, baseline, maxBatchElements: 5 * F * 3 });
    headCalls = 0;
    const before = tf.memory().numTensors;
    const got = await evaluate(coalitions);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.ok(headCalls > 1 && headCalls < coalitions.length * N, `${headCalls} head calls`);
    coalitions.forEach((c, i) => {
      const want = bruteForceLoss(playersJs, labels, W, c, baseline);
      assert.ok(Math.abs(got[i] - want) < 1e-4, `${baseline} coalition ${c}: ${got[i]} vs ${want}`);
    });
    evaluate.dispose();
  }
  // Generous bound: one head call can carry all coalitions of a sample chunk.
  const wide = headLossEvaluator({ players, labels, head, baseline: 'mean' });
  headCalls = 0;
  await wide(coalitions);
  assert.equal(headCalls, 1);
  wide.dispose();
  tf.dispose([...players, w]);
});

test('componentShapley: efficiency of both games from the reported losses', async () => {
  const rand = mulberry32(9);
  const N = 20;
  const F = 5;
  const P = 4;
  const W = tf.tensor2d(Array.from({ length: F }, () => Array.from({ length: 3 }, () => rand() * 2 - 1)));
  const head = (f: tf.Tensor) => tf.matMul(f as tf.Tensor2D, W);
  const split = () => {
    const players = Array.from({ length: P }, () => tf.tensor2d(Array.from({ length: N }, () => Array.from({ length: F }, () => rand() * 2 - 1))));
    const labels = Array.from({ length: N }, () => Math.floor(rand() * 3));
    return { players, evaluate: headLossEvaluator({ players, labels, head }) };
  };
  const train = split();
  const testSplit = split();
  const names = ['c(0)', 'c(2)', 'c(4)', 'Δf'];
  const r = await componentShapley({ names, train: train.evaluate, test: testSplit.evaluate, baseline: 'mean' });
  assert.equal(r.method, 'exact');
  assert.equal(r.players.length, P);
  const sTrain = sum(r.players.map((p) => p.phiTrain));
  const sGap = sum(r.players.map((p) => p.phiGap));
  assert.ok(Math.abs(sTrain - (r.train.lossEmpty - r.train.lossFull)) < 1e-6);
  assert.ok(Math.abs(sGap - (r.test.lossFull - r.train.lossFull - (r.test.lossEmpty - r.train.lossEmpty))) < 1e-6);
  const full = await train.evaluate([new Uint8Array(P).fill(1)]);
  assert.ok(Math.abs(full[0] - r.train.lossFull) < 1e-9);

  // Forcing sampling keeps efficiency exact and reports standard errors.
  const s = await componentShapley({ names, train: train.evaluate, test: testSplit.evaluate, baseline: 'mean', exactUpTo: 2, permutations: 64, seed: 1 });
  assert.equal(s.method, 'permutation');
  assert.ok(s.players.every((p) => (p.phiTrainStdErr ?? -1) >= 0));
  assert.ok(Math.abs(sum(s.players.map((p) => p.phiTrain)) - (s.train.lossEmpty - s.train.lossFull)) < 1e-6);
  for (const x of [train, testSplit]) {
    x.evaluate.dispose();
    tf.dispose(x.players);
  }
  W.dispose();
});

test('shapleyOfComponents replaces missing components by their training mean on both splits', async () => {
  const rand = mulberry32(12);
  const F = 3;
  const W = tf.tensor2d(Array.from({ length: F }, () => Array.from({ length: 2 }, () => rand() * 2 - 1)));
  const head = (f: tf.Tensor) => tf.matMul(f as tf.Tensor2D, W);
  const make = (n: number, shift: number) => ({
    players: [0, 1, 2].map(() => tf.tensor2d(Array.from({ length: n }, () => Array.from({ length: F }, () => rand() + shift)))),
    labels: Array.from({ length: n }, () => Math.floor(rand() * 2)),
  });
  const train = make(16, 0);
  const testSplit = make(11, 3);
  const names = ['c(0)', 'c(1)', 'Δf'];
  const before = tf.memory().numTensors;
  const r = await shapleyOfComponents({ names, train, test: testSplit, head });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  // ∅ on the test split is the train means alone: the same feature for every test sample.
  const means = train.players.map((p) => tf.mean(p, 0));
  const fEmpty = tf.addN(means);
  const logits = await tf.matMul(tf.reshape(fEmpty, [1, F]), W).data();
  const lse = Math.log(Math.exp(logits[0]) + Math.exp(logits[1]));
  const want = testSplit.labels.reduce((s, y) => s + lse - logits[y], 0) / testSplit.labels.length;
  assert.ok(Math.abs(r.test.lossEmpty - want) < 1e-5, `${r.test.lossEmpty} vs ${want}`);
  assert.ok(Math.abs(sum(r.players.map((p) => p.phiTrain)) - (r.train.lossEmpty - r.train.lossFull)) < 1e-6);
  tf.dispose([...train.players, ...testSplit.players, ...means, fEmpty, W]);
});

test('a head that returns its input (the target layer is the logits) works and leaks nothing', async () => {
  const rand = mulberry32(21);
  const N = 7;
  const K = 3;
  const playersJs = [0, 1].map(() => Array.from({ length: N }, () => Array.from({ length: K }, () => rand() * 2 - 1)));
  const labels = Array.from({ length: N }, () => Math.floor(rand() * K));
  const identity = Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 1 : 0)));
  const players = playersJs.map((p) => tf.tensor2d(p));
  const evaluate = headLossEvaluator({ players, labels, head: (f) => f });
  const before = tf.memory().numTensors;
  const coalitions = [0, 1, 2, 3].map((m) => Uint8Array.from([m & 1, (m >> 1) & 1]));
  const got = await evaluate(coalitions);
  assert.equal(tf.memory().numTensors, before);
  coalitions.forEach((c, i) => assert.ok(Math.abs(got[i] - bruteForceLoss(playersJs, labels, identity, c, 'mean')) < 1e-5));
  evaluate.dispose();
  tf.dispose(players);
});
