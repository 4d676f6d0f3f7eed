/**
 * Reliability of the components (METHOD.md §3, paper §3.2 and Appendix B): which part of a
 * component the target network shares with K − 1 exemplary networks trained for the same task.
 *
 * For one order, a shared disentangler output h(x) (shape [N, ...spatial, C_h], channels last)
 * is mapped to each network's target feature f_k(x) by a linear head A_k (a 1×1 convolution
 * without bias, i.e. the same C_h → C_k map at every position), and back by a linear map B_k.
 * The cycle h ← (1/K) Σ_k B_k(A_k h), repeated T times, keeps what every network can linearly
 * reconstruct; the reliable feature of the target is A_1 h_T.
 *
 * Every map is fitted in closed form on features centred per dimension (the variance of
 * METHOD.md is over samples per dimension, so a dimension's mean is not signal):
 * - A_k: least squares from h to f_k (the exact minimiser of the joint heads loss over A).
 * - B_k: least squares from network k's *own* feature f_k back to h. This is our fix of a
 *   degenerate solution of the paper's loss: fitted on the head's prediction A_k h instead, the
 *   least-squares B_k inverts A_k on everything A_k keeps, so B_k A_k is the identity there and
 *   the cycle removes nothing, however faintly network k carries a direction (measured: the
 *   same reliable share at T = 0 and T = 10 on trained exemplars), and any cut-off that tries to
 *   tell a faint trace from signal depends on the number of evaluated positions. Regressed on
 *   f_k, B_k A_k has as eigenvalues the squared canonical correlations between h and f_k: what
 *   fraction of each direction of h network k reproduces, a population quantity that does not
 *   grow with the number of positions. A direction every network reproduces has eigenvalue ≈ 1
 *   in (1/K) Σ_k B_k A_k and survives T rounds; one that only some networks carry shrinks by
 *   about (share of networks carrying it)^T.
 *
 * The split of a component c⁽ˡ⁾ into reliable and unreliable parts (reliabilitySplit): the
 * reliable part is the least-squares projection of c⁽ˡ⁾ onto u⁽ˡ⁾ = A_1 h_T⁽ˡ⁾ − A_1 h_T⁽ˡ'⁾ (the
 * paper's reliable component, the difference of consecutive reliable features) with one
 * non-negative scalar coefficient. So reliable + unreliable = c⁽ˡ⁾, the two parts are
 * uncorrelated, Var[rel] + Var[unrel] = Var[c], and ρ_rel = Var[rel] / Var[c] ∈ [0, 1] is the
 * squared correlation of c⁽ˡ⁾ with u⁽ˡ⁾. The scalar absorbs the uniform shrinkage of the cycle
 * (a shared direction reproduced at 0.99 keeps 0.99^T of its amplitude) and the difference of
 * scale between a jointly trained Φ and the significance Φ, without un-doing the cycle's
 * per-direction filtering, which a full least-squares map would.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';

/** A 1×1 convolution without bias: C_in × C_out, applied at every spatial position. */
export type LinearMap = Matrix;

export const DEFAULT_CYCLE_ROUNDS = 10;
/**
 * The linear maps are least-squares fits through a truncated pseudo-inverse of the normal
 * matrix: directions whose variance is below `threshold` × the largest are dropped. They only
 * need to drop numerically dead directions (dead ReLU channels, float32 data): 1e-9. No other
 * cut-off: whether a direction is shared is decided by the canonical correlations (see above),
 * not by its size against a floor.
 */
export const DEFAULT_HEAD_THRESHOLD = 1e-9;
/**
 * Moments are accumulated over chunks of rows only above this many elements per chunk: wasm's
 * Slice copies its whole input on every call, so chunking a tensor that fits is much slower.
 */
const CHUNK_ELEMENTS = 1 << 26;

export interface LinearFitOptions {
  /** Relative variance below which a direction is dropped when fitting the heads A_k and the back maps B_k. Default 1e-9. */
  headThreshold?: number;
  /** Positions (samples × spatial) per matrix product when accumulating moments. Default: as many as 2²⁶ elements allow. */
  rowsPerChunk?: number;
}

function describe(shape: readonly number[]): string {
  return shape.length <= 1 ? 'a scalar' : shape.slice(1).join('×');
}

/**
 * Throws BadInputError unless every exemplar feature has the target's sample count and spatial
 * size: the heads are 1×1 convolutions, so only the channel counts may differ.
 */
export function checkCompatible(h: tf.Tensor, fks: tf.Tensor[], names?: string[]): void {
  if (h.rank < 2) throw new BadInputError(`the shared disentangler output must be [samples, ..., channels], got [${h.shape}]`);
  fks.forEach((f, k) => {
    const who = names?.[k] ?? (k === 0 ? 'the target network' : `exemplar ${k}`);
    if (f.shape[0] !== h.shape[0]) throw new BadInputError(`${who}: features for ${f.shape[0]} samples, expected ${h.shape[0]}`);
    const spatial = f.shape.slice(1, -1);
    const want = h.shape.slice(1, -1);
    if (f.rank !== h.rank || spatial.some((d, i) => d !== want[i])) {
      throw new BadInputError(
        `${who}: its target-layer feature is ${describe(f.shape)} (spatial ${spatial.join('×') || 'none'}), ` +
          `but the reliability heads are 1×1 convolutions and need the spatial size ${want.join('×') || 'none'} of the target; ` +
          `pick a layer of that network with the same spatial size`,
      );
    }
  });
}

function channels(t: tf.Tensor): number {
  return t.shape[t.rank - 1];
}

/** Positions as rows: [N, ...spatial, C] → [N·spatial, C]. */
function rows(t: tf.Tensor): tf.Tensor2D {
  const c = channels(t);
  return tf.reshape(t, [t.size / c, c]);
}

/** Σ over positions of xᵀy, accumulated in doubles over chunks of rows. */
async function crossMoment(x: tf.Tensor2D, y: tf.Tensor2D, rowsPerChunk?: number): Promise<Matrix> {
  const [m, cx] = x.shape;
  const cy = y.shape[1];
  const chunk = rowsPerChunk ?? Math.max(1, Math.floor(CHUNK_ELEMENTS / (cx + cy)));
  const acc = new Float64Array(cx * cy);
  for (let start = 0; start < m; start += chunk) {
    const len = Math.min(chunk, m - start);
    const whole = len === m;
    // An explicit transpose: wasm's matMul with transposeA is ~8× slower (measured, 16384×64 by 16384×256).
    const part = tf.tidy(() => tf.matMul(tf.transpose(whole ? x : tf.slice(x, [start, 0], [len, cx])), whole ? y : tf.slice(y, [start, 0], [len, cy])));
    const data = await part.data();
    part.dispose();
    for (let i = 0; i < acc.length; i++) acc[i] += data[i];
  }
  const out = new Matrix(cx, cy);
  for (let i = 0; i < cx; i++) for (let j = 0; j < cy; j++) out.set(i, j, acc[i * cy + j]);
  return out;
}

/**
 * argmin_W ‖X W − Y‖² from XᵀX and XᵀY, minimum-norm, ignoring the directions of X whose
 * variance is below `threshold` times the largest.
 */
function truncatedSolve(xtx: Matrix, xty: Matrix, threshold: number): Matrix {
  const evd = new EigenvalueDecomposition(xtx, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  const top = Math.max(0, ...values);
  const inv = Matrix.zeros(values.length, values.length);
  values.forEach((l, i) => {
    if (top > 0 && l > threshold * top) inv.set(i, i, 1 / l);
  });
  return v.mmul(inv).mmul(v.transpose()).mmul(xty);
}

/** Gram matrix hᵀh over all positions. */
export async function gram(h: tf.Tensor, opts: LinearFitOptions = {}): Promise<Matrix> {
  const r = rows(h);
  try {
    return await crossMoment(r, r, opts.rowsPerChunk);
  } finally {
    r.dispose();
  }
}

/** Closed-form heads A_k (C_h × C_k): the least-squares 1×1 convolutions from h to each f_k. */
export async function fitLinearHeads(h: tf.Tensor, fks: tf.Tensor[], opts: LinearFitOptions & { gram?: Matrix } = {}): Promise<LinearMap[]> {
  checkCompatible(h, fks);
  const chunk = opts.rowsPerChunk;
  const hr = rows(h);
  try {
    const g = opts.gram ?? (await crossMoment(hr, hr, chunk));
    const heads: LinearMap[] = [];
    for (const f of fks) {
      const fr = rows(f);
      try {
        heads.push(truncatedSolve(g, await crossMoment(hr, fr, chunk), opts.headThreshold ?? DEFAULT_HEAD_THRESHOLD));
      } finally {
        fr.dispose();
      }
    }
    return heads;
  } finally {
    hr.dispose();
  }
}

/**
 * Per-position residual variance of each head, s_k² = Σ‖f_k − A_k h‖² / (positions − C_h),
 * summed over the channels of f_k.
 */
export async function headResidualVariance(h: tf.Tensor, heads: LinearMap[], fks: tf.Tensor[], opts: LinearFitOptions = {}): Promise<number[]> {
  checkCompatible(h, fks);
  const hr = rows(h);
  const [m, ch] = hr.shape;
  try {
    const out: number[] = [];
    for (let k = 0; k < fks.length; k++) {
      const fr = rows(fks[k]);
      const a = tf.tensor2d(heads[k].to2DArray());
      let rss = 0;
      try {
        const chunk = opts.rowsPerChunk ?? Math.max(1, Math.floor(CHUNK_ELEMENTS / (ch + 2 * fr.shape[1])));
        for (let start = 0; start < m; start += chunk) {
          const len = Math.min(chunk, m - start);
          const part = tf.tidy(() => {
            const whole = len === m;
            const hp = whole ? hr : tf.slice(hr, [start, 0], [len, ch]);
            const fp = whole ? fr : tf.slice(fr, [start, 0], [len, fr.shape[1]]);
            return tf.sum(tf.squaredDifference(tf.matMul(hp, a), fp));
          });
          rss += (await part.data())[0];
          part.dispose();
        }
      } finally {
        tf.dispose([fr, a]);
      }
      out.push(rss / Math.max(1, m - ch));
    }
    return out;
  } finally {
    hr.dispose();
  }
}

/**
 * Closed-form back maps B_k (C_k × C_h): the least-squares map from network k's own feature f_k
 * back to h (centred inputs; see the header for why not from A_k h).
 */
export async function fitCycleMaps(h: tf.Tensor, fks: tf.Tensor[], opts: LinearFitOptions = {}): Promise<LinearMap[]> {
  checkCompatible(h, fks);
  const chunk = opts.rowsPerChunk;
  const hr = rows(h);
  try {
    const maps: LinearMap[] = [];
    for (const f of fks) {
      const fr = rows(f);
      try {
        maps.push(truncatedSolve(await crossMoment(fr, fr, chunk), await crossMoment(fr, hr, chunk), opts.headThreshold ?? DEFAULT_HEAD_THRESHOLD));
      } finally {
        fr.dispose();
      }
    }
    return maps;
  } finally {
    hr.dispose();
  }
}

/** One round of the cycle as a C_h × C_h map on the rows of h: (1/K) Σ_k A_k B_k. */
export function cycleOperator(heads: LinearMap[], maps: LinearMap[]): Matrix {
  if (heads.length !== maps.length || heads.length === 0) throw new RangeError(`${heads.length} heads and ${maps.length} back maps`);
  let m = Matrix.zeros(heads[0].rows, heads[0].rows);
  heads.forEach((a, k) => {
    m = m.add(a.mmul(maps[k]));
  });
  return m.div(heads.length);
}

/** The map h ↦ A_target h_T after `rounds` cycles, as one C_h × C_target matrix. */
export function reliableProjection(heads: LinearMap[], maps: LinearMap[], rounds = DEFAULT_CYCLE_ROUNDS, target = 0): Matrix {
  if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`rounds must be a non-negative integer, got ${rounds}`);
  const m = cycleOperator(heads, maps);
  let p = Matrix.eye(m.rows);
  for (let t = 0; t < rounds; t++) p = p.mmul(m);
  return p.mmul(heads[target]);
}

/** Applies a 1×1 convolution without bias to a channels-last tensor. */
export function applyLinear(x: tf.Tensor, w: LinearMap | tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const wt = w instanceof Matrix ? tf.tensor2d(w.to2DArray()) : w;
    if (wt.shape[0] !== channels(x)) throw new RangeError(`the map takes ${wt.shape[0]} channels, the tensor has ${channels(x)}`);
    return tf.reshape(tf.matMul(rows(x), wt), [...x.shape.slice(0, -1), wt.shape[1]]);
  });
}

export interface ReliableFeatureOptions {
  /** Cycle rounds T (METHOD: 10); evaluate with the T used in training. */
  rounds?: number;
  /** Which network's reliable feature (0 = the target). */
  target?: number;
}

/** The reliable feature of the target, A_target h_T, shaped like the target feature. */
export function reliableFeature(h: tf.Tensor, heads: LinearMap[], maps: LinearMap[], opts: ReliableFeatureOptions = {}): tf.Tensor {
  return applyLinear(h, reliableProjection(heads, maps, opts.rounds ?? DEFAULT_CYCLE_ROUNDS, opts.target ?? 0));
}

/**
 * Σ_k MSE(A_k h, f_k): the loss under which the pipeline trains the shared disentangler Φ
 * jointly with the heads (pass the heads as tf.Variable tensors to train them by gradient).
 */
export function headsLoss(h: tf.Tensor, heads: tf.Tensor2D[], fks: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.addN(heads.map((a, k) => tf.mean(tf.squaredDifference(applyLinear(h, a), fks[k])))) as tf.Scalar);
}

export interface OrderReliability {
  /** A_k, fitted on the centred features. */
  heads: LinearMap[];
  /** B_k, fitted on the centred features. */
  maps: LinearMap[];
  /** h ↦ A_1 h_T as one C_h × C_target matrix (on centred h). */
  projection: Matrix;
  /** A_1 h_T on the samples the maps were fitted on, plus the target's mean: shaped and placed like the target feature. */
  reliable: tf.Tensor;
  /** A_1 h_T for another set of samples of the same shared disentangler (e.g. the test split), with the fitted maps. */
  apply(h: tf.Tensor): tf.Tensor;
}

/** z − E_x z: the mean over samples removed per dimension. */
export function centred(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(z, tf.mean(z, 0, true)));
}

/**
 * Heads, back maps and the target's reliable feature for one order, all in closed form on the
 * samples of `h` and `fks` (features centred per dimension before every fit).
 */
export async function reliabilityForOrder(
  h: tf.Tensor,
  fks: tf.Tensor[],
  opts: LinearFitOptions & ReliableFeatureOptions & { names?: string[] } = {},
): Promise<OrderReliability> {
  checkCompatible(h, fks, opts.names);
  const target = opts.target ?? 0;
  const hc = centred(h);
  const fcs = fks.map(centred);
  try {
    const heads = await fitLinearHeads(hc, fcs, opts);
    const maps = await fitCycleMaps(hc, fcs, opts);
    const projection = reliableProjection(heads, maps, opts.rounds ?? DEFAULT_CYCLE_ROUNDS, target);
    const means = [tf.mean(h, 0, true), tf.mean(fks[target], 0, true)];
    const [hMean, fMean] = await Promise.all(means.map((m) => m.data()));
    const [hShape, fShape] = means.map((m) => m.shape);
    tf.dispose(means);
    const apply = (x: tf.Tensor): tf.Tensor => tf.tidy(() => tf.add(applyLinear(tf.sub(x, tf.tensor(hMean, hShape)), projection), tf.tensor(fMean, fShape)));
    return { heads, maps, projection, reliable: apply(h), apply };
  } finally {
    tf.dispose([hc, ...fcs]);
  }
}

/** Var[z] = E_x ‖z(x) − E_x z(x)‖², summed over all feature dimensions. */
export async function sampleVariance(z: tf.Tensor): Promise<number> {
  const v = tf.tidy(() => tf.sum(tf.moments(z, 0).variance));
  const out = (await v.data())[0];
  v.dispose();
  return out;
}

/** Cov[a, b] = E_x ⟨a(x) − E a, b(x) − E b⟩, summed over all feature dimensions. */
export async function sampleCovariance(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const v = tf.tidy(() => tf.div(tf.sum(tf.mul(centred(a), centred(b))), a.shape[0]));
  const out = (await v.data())[0];
  v.dispose();
  return out;
}

export interface ReliabilityEntry {
  order: number;
  /** ρ_rel = Var[c_reliable] / Var[c] ∈ [0, 1]. */
  reliableRho: number;
  /** Var[c_reliable] / Var[f]. */
  reliableVariance: number;
  /** Var[c_unreliable] / Var[f]; reliableVariance + unreliableVariance = ρ of the component. */
  unreliableVariance: number;
}

export interface ReliabilitySplitInput {
  orders: readonly number[];
  /** c⁽ˡ⁾ per order, from the significance disentanglers. */
  components: tf.Tensor[];
  /** A_1 h_T per order, from the reliability disentanglers, on the same samples. */
  reliableFeatures: tf.Tensor[];
  /** Var[f] of the target feature on the same samples. */
  featureVariance: number;
}

/**
 * Splits each component c into a reliable part β·u, u = the difference of reliable features
 * between consecutive orders (the reliable feature itself for the first order) and
 * β = max(0, Cov[c, u] / Var[u]) the least-squares coefficient, and the unreliable rest c − β·u.
 * The two parts are uncorrelated, so their variances add up to Var[c] (see the header).
 */
export async function reliabilitySplit(input: ReliabilitySplitInput): Promise<ReliabilityEntry[]> {
  const { orders, components, reliableFeatures, featureVariance } = input;
  if (components.length !== orders.length || reliableFeatures.length !== orders.length) {
    throw new RangeError(`${orders.length} orders, ${components.length} components, ${reliableFeatures.length} reliable features`);
  }
  if (!(featureVariance > 0)) throw new RangeError(`Var[f] must be positive, got ${featureVariance}`);
  const out: ReliabilityEntry[] = [];
  for (let i = 0; i < orders.length; i++) {
    const c = components[i];
    const r = reliableFeatures[i];
    if (c.shape.length !== r.shape.length || c.shape.some((d, j) => d !== r.shape[j])) {
      throw new BadInputError(`order ${orders[i]}: the reliable feature is [${r.shape}], the component [${c.shape}]`);
    }
    const u = i === 0 ? tf.clone(r) : tf.sub(r, reliableFeatures[i - 1]);
    const [vc, vu, cov] = [await sampleVariance(c), await sampleVariance(u), await sampleCovariance(c, u)];
    u.dispose();
    // Var[β u] = β² Var[u] = Cov² / Var[u]; Var[c − β u] = Var[c] − Var[β u] (least squares).
    const vr = vu > 0 && cov > 0 ? Math.min(vc, (cov * cov) / vu) : 0;
    out.push({
      order: orders[i],
      reliableRho: vc > 0 ? vr / vc : 0,
      reliableVariance: vr / featureVariance,
      unreliableVariance: Math.max(0, vc - vr) / featureVariance,
    });
  }
  return out;
}
