/**
 * Shapley values of the feature components (METHOD.md §2).
 *
 * Players are the components c⁽ˡ⁾ of every order plus the high-order residue Δf. A coalition
 * S is fed to the head as f_S = Σ_{c∈S} c + Σ_{c∉S} baseline(c); its value comes from the
 * head's task loss. Up to `exactUpTo` players (12 by default) every one of the 2ⁿ coalitions
 * is evaluated and the values are exact; above that, permutation sampling gives an estimate
 * with a standard error per player.
 *
 * Coalitions are handed to the evaluator in batches, so that the evaluator can go over the
 * data once per batch (stacking several coalitions into one head call) instead of once per
 * coalition.
 */
import { tf } from '../tf/backend';
import { mulberry32 } from '../util/random';

/** One coalition: membership[i] = 1 when player i is in it. */
export type Coalition = Uint8Array;

/** Evaluates a batch of coalitions at once; returns one number per coalition. */
export type CoalitionEvaluator = (coalitions: Coalition[]) => Promise<Float64Array>;

/** Evaluates several games on the same batch of coalitions: one array per game. */
export type MultiGameEvaluator = (coalitions: Coalition[]) => Promise<Float64Array[]>;

export interface ShapleyEstimate {
  /** φ per player. */
  values: Float64Array;
  /** Standard error per player (all zero when exact). */
  stdErr: Float64Array;
}

export interface ShapleyOptions {
  /** Largest number of players for which all 2ⁿ coalitions are evaluated. Default 12. */
  exactUpTo?: number;
  /** Permutations drawn when sampling. Default 256. */
  permutations?: number;
  /** Seed of the permutation sampler. Default 0. */
  seed?: number;
  /** Most coalitions handed to the evaluator in one call. Default 4096. */
  coalitionsPerCall?: number;
}

export type ShapleyMethod = 'exact' | 'permutation';

export const DEFAULT_EXACT_UP_TO = 12;
const DEFAULT_PERMUTATIONS = 256;
const DEFAULT_COALITIONS_PER_CALL = 4096;

/** Shapley weight of a coalition of size s not containing the player: s!(n−s−1)!/n!. */
export function shapleyWeight(n: number, s: number): number {
  if (s < 0 || s > n - 1) throw new RangeError(`coalition size ${s} out of range for ${n} players`);
  // s!(n−s−1)!/n! = 1 / (n · C(n−1, s)); the binomial form stays exact in doubles far beyond n = 12.
  return 1 / (n * binomial(n - 1, s));
}

function binomial(n: number, k: number): number {
  k = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

function maskToCoalition(mask: number, n: number): Coalition {
  const c = new Uint8Array(n);
  for (let i = 0; i < n; i++) c[i] = (mask >>> i) & 1;
  return c;
}

/** Evaluates `coalitions` through `evaluate`, at most `perCall` at a time. */
async function evaluateInCalls(evaluate: MultiGameEvaluator, coalitions: Coalition[], perCall: number): Promise<Float64Array[]> {
  let out: Float64Array[] | undefined;
  for (let start = 0; start < coalitions.length; start += perCall) {
    const part = coalitions.slice(start, start + perCall);
    const values = await evaluate(part);
    if (!out) out = values.map(() => new Float64Array(coalitions.length));
    if (values.length !== out.length) throw new Error('the evaluator changed its number of games between calls');
    for (let g = 0; g < values.length; g++) {
      if (values[g].length !== part.length) throw new Error(`the evaluator returned ${values[g].length} values for ${part.length} coalitions`);
      out[g].set(values[g], start);
    }
  }
  return out ?? [];
}

/** Exact Shapley values of several games on the same n players, from all 2ⁿ coalitions. */
export async function exactShapleyMulti(n: number, evaluate: MultiGameEvaluator, opts: ShapleyOptions = {}): Promise<ShapleyEstimate[]> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`need at least one player, got ${n}`);
  if (n > 24) throw new RangeError(`exact Shapley over 2^${n} coalitions is not affordable; sample permutations instead`);
  const total = 2 ** n;
  const coalitions: Coalition[] = new Array(total);
  for (let mask = 0; mask < total; mask++) coalitions[mask] = maskToCoalition(mask, n);
  const games = await evaluateInCalls(evaluate, coalitions, opts.coalitionsPerCall ?? DEFAULT_COALITIONS_PER_CALL);
  const weights = Array.from({ length: n }, (_, s) => shapleyWeight(n, s));
  return games.map((v) => {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const bit = 1 << i;
      let phi = 0;
      for (let mask = 0; mask < total; mask++) {
        if (mask & bit) continue;
        phi += weights[popcount(mask)] * (v[mask | bit] - v[mask]);
      }
      values[i] = phi;
    }
    return { values, stdErr: new Float64Array(n) };
  });
}

function shuffle(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * Permutation-sampling estimate of the Shapley values of several games: for each drawn
 * permutation, the marginal contribution of every player when it joins its predecessors.
 * Every permutation's contributions add up to v(N) − v(∅), so the estimate is efficient exactly;
 * the standard error is that of the mean over permutations.
 */
export async function sampledShapleyMulti(n: number, evaluate: MultiGameEvaluator, opts: ShapleyOptions = {}): Promise<ShapleyEstimate[]> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`need at least one player, got ${n}`);
  const m = opts.permutations ?? DEFAULT_PERMUTATIONS;
  if (!Number.isInteger(m) || m < 2) throw new RangeError(`need at least 2 permutations for a standard error, got ${m}`);
  const perCall = Math.max(n, opts.coalitionsPerCall ?? DEFAULT_COALITIONS_PER_CALL);
  const rand = mulberry32(opts.seed ?? 0);

  // ∅ and the grand coalition are the same in every permutation: evaluate them once.
  const ends = await evaluate([new Uint8Array(n), new Uint8Array(n).fill(1)]);
  const G = ends.length;
  const sum = Array.from({ length: G }, () => new Float64Array(n));
  const sumSq = Array.from({ length: G }, () => new Float64Array(n));

  // Each permutation needs its n − 1 proper, non-empty prefixes.
  const permsPerCall = Math.max(1, Math.floor(perCall / Math.max(1, n - 1)));
  for (let done = 0; done < m; done += permsPerCall) {
    const count = Math.min(permsPerCall, m - done);
    const perms = Array.from({ length: count }, () => shuffle(n, rand));
    const coalitions: Coalition[] = [];
    for (const p of perms) {
      const c = new Uint8Array(n);
      for (let j = 0; j < n - 1; j++) {
        c[p[j]] = 1;
        coalitions.push(c.slice());
      }
    }
    const values = n > 1 ? await evaluate(coalitions) : [];
    for (let g = 0; g < G; g++) {
      const empty = ends[g][0];
      const full = ends[g][1];
      for (let q = 0; q < count; q++) {
        const p = perms[q];
        let prev = empty;
        for (let j = 0; j < n; j++) {
          const cur = j === n - 1 ? full : values[g][q * (n - 1) + j];
          const d = cur - prev;
          sum[g][p[j]] += d;
          sumSq[g][p[j]] += d * d;
          prev = cur;
        }
      }
    }
  }
  return sum.map((s, g) => {
    const values = new Float64Array(n);
    const stdErr = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const mean = s[i] / m;
      const variance = Math.max(0, (sumSq[g][i] - m * mean * mean) / (m - 1));
      values[i] = mean;
      stdErr[i] = Math.sqrt(variance / m);
    }
    return { values, stdErr };
  });
}

/** Exact up to `exactUpTo` players, permutation sampling above. */
export async function shapleyMulti(
  n: number,
  evaluate: MultiGameEvaluator,
  opts: ShapleyOptions = {},
): Promise<{ method: ShapleyMethod; games: ShapleyEstimate[] }> {
  if (n <= (opts.exactUpTo ?? DEFAULT_EXACT_UP_TO)) return { method: 'exact', games: await exactShapleyMulti(n, evaluate, opts) };
  return { method: 'permutation', games: await sampledShapleyMulti(n, evaluate, opts) };
}

function single(evaluate: CoalitionEvaluator): MultiGameEvaluator {
  return async (c) => [await evaluate(c)];
}

/** Exact Shapley values of one game. */
export async function exactShapley(n: number, evaluate: CoalitionEvaluator, opts: ShapleyOptions = {}): Promise<Float64Array> {
  return (await exactShapleyMulti(n, single(evaluate), opts))[0].values;
}

/** Permutation-sampling Shapley values of one game, with standard errors. */
export async function sampledShapley(n: number, evaluate: CoalitionEvaluator, opts: ShapleyOptions = {}): Promise<ShapleyEstimate> {
  return (await sampledShapleyMulti(n, single(evaluate), opts))[0];
}

// ---------------------------------------------------------------------------------------------
// The concrete evaluator: components → head → mean cross-entropy per coalition.

/** How a component missing from a coalition is replaced: by its mean over the samples (METHOD's choice) or by zero. */
export type ShapleyBaseline = 'mean' | 'zero';

export interface HeadLossEvaluatorOptions {
  /** One tensor per player, each [N, ...featureShape] (the components c⁽ˡ⁾, then Δf). */
  players: tf.Tensor[];
  /** Class index per sample (N of them). Plain numbers: reading a tensor back synchronously fails on WebGPU in Node. */
  labels: ArrayLike<number>;
  /** The teacher's head: a batch of features [B, ...featureShape] → logits [B, classes]. */
  head: (feature: tf.Tensor) => tf.Tensor | Promise<tf.Tensor>;
  /**
   * 'mean' (default): the player's mean over these samples; 'zero'; or one explicit tensor per
   * player shaped like one sample (e.g. the train split's means, to give both splits the same
   * constant).
   */
  baseline?: ShapleyBaseline | tf.Tensor[];
  /** Bound on the number of elements of one head input (coalitions × samples × feature size). Default 2²². */
  maxBatchElements?: number;
}

/** Mean of each player over the samples, shaped like one sample: the 'mean' baseline. */
export function playerMeans(players: tf.Tensor[]): tf.Tensor[] {
  return players.map((p) => tf.tidy(() => tf.mean(p, 0)));
}

/**
 * Builds the batched evaluator of METHOD §2: for every coalition S in a batch, the mean
 * cross-entropy of head(f_S) over the samples. Several coalitions share one head call
 * (stacked along the batch axis), and the samples are visited once per call of the evaluator.
 * The returned evaluator keeps references to `players`; call `dispose` when done.
 */
export function headLossEvaluator(opts: HeadLossEvaluatorOptions): CoalitionEvaluator & { dispose: () => void } {
  const { players, head } = opts;
  const P = players.length;
  if (P === 0) throw new RangeError('no players');
  const shape = players[0].shape;
  const N = shape[0];
  for (const p of players) {
    if (p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
      throw new RangeError(`all players must have the same shape; got [${p.shape}] and [${shape}]`);
    }
  }
  const featureShape = shape.slice(1);
  const F = featureShape.reduce((a, b) => a * b, 1);
  if (opts.labels.length !== N) throw new RangeError(`${opts.labels.length} labels for ${N} samples`);
  const labelArray = Int32Array.from(opts.labels);
  const maxElements = opts.maxBatchElements ?? 1 << 22;

  const baseline = opts.baseline ?? 'mean';
  const baselines: tf.Tensor[] =
    baseline === 'mean' ? playerMeans(players) : baseline === 'zero' ? players.map(() => tf.zeros(featureShape)) : baseline.map((b) => tf.clone(b));
  if (baselines.length !== P) throw new RangeError(`${baselines.length} baselines for ${P} players`);
  for (const b of baselines) {
    if (b.size !== F) throw new RangeError(`a baseline has ${b.size} elements, a sample has ${F}`);
  }
  // f_S = Σ_c b_c + Σ_{c∈S} (c − b_c): one matrix product of the membership rows with the centred players.
  const baseTotal = tf.tidy(() => tf.addN(baselines.map((b) => tf.reshape(b, [F]))));

  const evaluate = async (coalitions: Coalition[]): Promise<Float64Array> => {
    const C = coalitions.length;
    const sums = new Float64Array(C);
    if (C === 0) return sums;
    for (const c of coalitions) if (c.length !== P) throw new RangeError(`coalition of ${c.length} players, expected ${P}`);
    const rowsBudget = Math.max(1, Math.floor(maxElements / F));
    const chunk = Math.min(N, Math.max(1, Math.floor(rowsBudget / Math.max(P, Math.min(C, 8)))));
    const group = Math.max(1, Math.min(C, Math.floor(rowsBudget / chunk)));
    for (let start = 0; start < N; start += chunk) {
      const bn = Math.min(chunk, N - start);
      const centred = tf.tidy(() => tf.stack(players.map((p, i) => tf.reshape(tf.sub(tf.slice(p, start, bn), baselines[i]), [bn * F]))));
      const chunkLabels = labelArray.subarray(start, start + bn);
      try {
        for (let g0 = 0; g0 < C; g0 += group) {
          const G = Math.min(group, C - g0);
          const membership = new Float32Array(G * P);
          for (let g = 0; g < G; g++) membership.set(coalitions[g0 + g], g * P);
          const features = tf.tidy(() =>
            tf.reshape(tf.add(tf.reshape(tf.matMul(tf.tensor2d(membership, [G, P]), centred), [G * bn, F]), baseTotal), [G * bn, ...featureShape]),
          );
          const tiled = new Int32Array(G * bn);
          for (let g = 0; g < G; g++) tiled.set(chunkLabels, g * bn);
          let perCoalition: tf.Tensor;
          let logits: tf.Tensor | undefined;
          try {
            logits = await head(features);
            const l = logits;
            perCoalition = tf.tidy(() => {
              const classes = l.shape[l.shape.length - 1];
              const logp = tf.logSoftmax(tf.reshape(l, [G * bn, classes]));
              const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(tiled, 'int32'), classes)), 1);
              return tf.sum(tf.reshape(tf.neg(picked), [G, bn]), 1);
            });
          } finally {
            // Disposed after use and not before: a head may return its input (the target layer is the logits).
            features.dispose();
            logits?.dispose();
          }
          const part = await perCoalition.data();
          perCoalition.dispose();
          for (let g = 0; g < G; g++) sums[g0 + g] += part[g];
        }
      } finally {
        centred.dispose();
      }
    }
    for (let c = 0; c < C; c++) sums[c] /= N;
    return sums;
  };
  return Object.assign(evaluate, {
    dispose: () => {
      for (const b of baselines) b.dispose();
      baseTotal.dispose();
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The two games of METHOD §2 on the components.

export interface ShapleyPlayer {
  name: string;
  /** Shapley value in v(S) = L_train(∅) − L_train(S). */
  phiTrain: number;
  /** Shapley value in v_gap(S) = (L_test(S) − L_train(S)) − (L_test(∅) − L_train(∅)). */
  phiGap: number;
  /** Standard errors, present when the values were sampled. */
  phiTrainStdErr?: number;
  phiGapStdErr?: number;
}

export interface ShapleyResult {
  baseline: ShapleyBaseline;
  method: ShapleyMethod;
  /** Permutations drawn (sampling only). */
  permutations?: number;
  players: ShapleyPlayer[];
  /** Losses with every component at its baseline (∅) and with all of them (= the teacher's loss). */
  train: { lossEmpty: number; lossFull: number };
  test: { lossEmpty: number; lossFull: number };
}

export interface ComponentShapleyOptions extends ShapleyOptions {
  /** Player names, e.g. 'c(0)', 'c(2)', …, 'Δf'. */
  names: string[];
  /** Mean task loss per coalition on the training split. */
  train: CoalitionEvaluator;
  /** Mean task loss per coalition on the test split. */
  test: CoalitionEvaluator;
  baseline: ShapleyBaseline;
}

/**
 * φ_train and φ_gap of every component. Both games are computed from the same coalition
 * evaluations. Constants of a game do not change its Shapley values, so the games are
 * evaluated as −L_train(S) and L_test(S) − L_train(S); the losses of ∅ and of the grand
 * coalition are kept so that efficiency (Σφ_train = L_train(∅) − L_train(all),
 * Σφ_gap = gap(all) − gap(∅)) can be checked from the result alone.
 */
export async function componentShapley(opts: ComponentShapleyOptions): Promise<ShapleyResult> {
  const n = opts.names.length;
  const seen = { empty: null as null | [number, number], full: null as null | [number, number] };
  const evaluate: MultiGameEvaluator = async (coalitions) => {
    const lossTrain = await opts.train(coalitions);
    const lossTest = await opts.test(coalitions);
    coalitions.forEach((c, i) => {
      let k = 0;
      for (const x of c) k += x;
      if (k === 0) seen.empty = [lossTrain[i], lossTest[i]];
      else if (k === n) seen.full = [lossTrain[i], lossTest[i]];
    });
    const vTrain = lossTrain.map((l) => -l);
    const vGap = lossTest.map((l, i) => l - lossTrain[i]);
    return [vTrain, vGap];
  };
  const { method, games } = await shapleyMulti(n, evaluate, opts);
  const { empty, full } = seen;
  if (!empty || !full) throw new Error('the Shapley sampler did not evaluate the empty and the full coalition');
  const [train, gap] = games;
  return {
    baseline: opts.baseline,
    method,
    ...(method === 'permutation' ? { permutations: opts.permutations ?? DEFAULT_PERMUTATIONS } : {}),
    players: opts.names.map((name, i) => ({
      name,
      phiTrain: train.values[i],
      phiGap: gap.values[i],
      ...(method === 'permutation' ? { phiTrainStdErr: train.stdErr[i], phiGapStdErr: gap.stdErr[i] } : {}),
    })),
    train: { lossEmpty: empty[0], lossFull: full[0] },
    test: { lossEmpty: empty[1], lossFull: full[1] },
  };
}

export interface SplitPlayers {
  /** One tensor per player, [N, ...featureShape]. */
  players: tf.Tensor[];
  labels: ArrayLike<number>;
}

export interface ShapleyOfComponentsOptions extends ShapleyOptions {
  names: string[];
  train: SplitPlayers;
  test: SplitPlayers;
  head: HeadLossEvaluatorOptions['head'];
  /** Default 'mean'. */
  baseline?: ShapleyBaseline;
  maxBatchElements?: number;
}

/**
 * φ_train and φ_gap from the components of both splits. With the 'mean' baseline a missing
 * component is replaced by its mean over the *training* samples on both splits: the head is
 * given one fixed stand-in per component, and the test split's own statistics never enter
 * the test loss.
 */
export async function shapleyOfComponents(opts: ShapleyOfComponentsOptions): Promise<ShapleyResult> {
  const baseline = opts.baseline ?? 'mean';
  if (opts.train.players.length !== opts.names.length || opts.test.players.length !== opts.names.length) {
    throw new RangeError(`${opts.names.length} names, ${opts.train.players.length} train and ${opts.test.players.length} test players`);
  }
  const stand = baseline === 'mean' ? playerMeans(opts.train.players) : undefined;
  const common = { head: opts.head, maxBatchElements: opts.maxBatchElements, baseline: stand ?? baseline };
  const train = headLossEvaluator({ ...common, players: opts.train.players, labels: opts.train.labels });
  const test = headLossEvaluator({ ...common, players: opts.test.players, labels: opts.test.labels });
  try {
    return await componentShapley({ ...opts, names: opts.names, train, test, baseline });
  } finally {
    train.dispose();
    test.dispose();
    if (stand) tf.dispose(stand);
  }
}
