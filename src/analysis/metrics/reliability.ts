/**
 * Reliability of the components (METHOD.md §3): which part of a component the target network
 * shares with K − 1 exemplary networks trained for the same task.
 *
 * For one order, a shared disentangler output h(x) (shape [N, ...spatial, C_h], channels last)
 * is mapped to each network's target feature f_k(x) by a linear head A_k (a 1×1 convolution
 * without bias, i.e. the same C_h → C_k map at every position), and back by a linear map B_k.
 * The cycle h ← (1/K) Σ_k B_k(A_k h), repeated T times, keeps what every network can linearly
 * reconstruct from the others: a direction of h that only network k uses is lost by the other
 * K − 1 maps and shrinks by about 1/K per round. The reliable feature of the target is A_1 h_T.
 *
 * Training the shared Φ jointly with the heads under `headsLoss` is reliabilityTrain.ts's job.
 * The linear maps here are fitted in closed form (per-position least squares over channels,
 * through a truncated pseudo-inverse), the minimiser that SGD would approach: the heads are
 * refitted with Φ fixed (the exact minimiser of the joint loss over A), and B_k is fitted with
 * Φ and A fixed, as the release does. Each B_k reconstructs h from network k's head alone
 * (argmin ‖B_k A_k h − h‖²), so B_k A_k is a projection onto what network k keeps of h, and the
 * averaged cycle (1/K) Σ_k A_k B_k has eigenvalue 1 only on what every network keeps. (Fitting
 * the averaged cycle's own reconstruction loss instead has an exact solution that keeps
 * everything: B_1 can scale a direction only network 1 keeps by K; it would filter nothing.)
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { tf } from '../backend';
import { BadInputError } from '../errors';

/** A 1×1 convolution without bias: C_in × C_out, applied at every spatial position. */
export type LinearMap = Matrix;

export const DEFAULT_CYCLE_ROUNDS = 10;
/**
 * The linear maps are least-squares fits through a truncated pseudo-inverse of the normal
 * matrix: directions whose variance is below `threshold` × the largest are dropped, not shrunk.
 * The heads only need to drop numerically dead directions of h (float32 data): 1e-9.
 */
export const DEFAULT_HEAD_THRESHOLD = 1e-9;
/**
 * The back maps need a real cut. Least squares is blind to scale: a direction of A_k h that
 * carries only a trace of another network's private signal (the sampling error of A_k, fitted
 * on finite data) would be amplified to reconstruct that signal in full and defeat the cycle.
 * That error puts about s_k² (the per-position residual variance of head k) into each
 * direction of Σ (A_k h)ᵀ(A_k h), whatever the number of positions, while a real signal puts in
 * positions × its variance; directions below `noiseFloor` × s_k² are dropped (s_k² sums the
 * channels, so 3 is already conservative). A ridge instead
 * would shrink weak shared directions every round, which compounds over T rounds.
 */
export const DEFAULT_NOISE_FLOOR = 3;
/**
 * Moments are accumulated over chunks of rows only above this many elements per chunk: wasm's
 * Slice copies its whole input on every call, so chunking a tensor that fits is much slower.
 */
const CHUNK_ELEMENTS = 1 << 26;

export interface LinearFitOptions {
  /** Relative variance below which a direction of h is dropped when fitting the heads A_k. Default 1e-9. */
  headThreshold?: number;
  /** Directions of A_k h with less than this × the head's residual variance are dropped from B_k. Default 3. */
  noiseFloor?: number;
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
function truncatedSolve(xtx: Matrix, xty: Matrix, threshold: number, floor = 0): Matrix {
  const evd = new EigenvalueDecomposition(xtx, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  const top = Math.max(0, ...values);
  const inv = Matrix.zeros(values.length, values.length);
  values.forEach((l, i) => {
    if (top > 0 && l > threshold * top && l > floor) inv.set(i, i, 1 / l);
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
 * Closed-form back maps B_k (C_k × C_h): the least-squares map from A_k h back to h, with Φ
 * and the heads fixed. Besides the residuals, only the Gram matrix of h is needed:
 * (hA)ᵀ(hA) = Aᵀ G A and (hA)ᵀh = Aᵀ G.
 */
export async function fitCycleMaps(h: tf.Tensor, heads: LinearMap[], fks: tf.Tensor[], opts: LinearFitOptions & { gram?: Matrix } = {}): Promise<LinearMap[]> {
  const g = opts.gram ?? (await gram(h, opts));
  const residual = await headResidualVariance(h, heads, fks, opts);
  return cycleMapsFromGram(g, heads, residual, opts);
}

/** B_k from the Gram matrix of h and the heads' residual variances (see DEFAULT_NOISE_FLOOR). */
export function cycleMapsFromGram(g: Matrix, heads: LinearMap[], residualVariance: readonly number[], opts: LinearFitOptions = {}): LinearMap[] {
  const floor = opts.noiseFloor ?? DEFAULT_NOISE_FLOOR;
  return heads.map((a, k) => {
    if (a.rows !== g.rows) throw new RangeError(`a head maps ${a.rows} channels, h has ${g.rows}`);
    const atg = a.transpose().mmul(g);
    return truncatedSolve(atg.mmul(a), atg, opts.headThreshold ?? DEFAULT_HEAD_THRESHOLD, floor * residualVariance[k]);
  });
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
  heads: LinearMap[];
  maps: LinearMap[];
  /** A_1 h_T: the target's reliable feature of this order. */
  reliable: tf.Tensor;
}

/** Heads, back maps and the target's reliable feature for one order, all in closed form. */
export async function reliabilityForOrder(h: tf.Tensor, fks: tf.Tensor[], opts: LinearFitOptions & ReliableFeatureOptions & { names?: string[] } = {}): Promise<OrderReliability> {
  checkCompatible(h, fks, opts.names);
  const g = await gram(h, opts);
  const heads = await fitLinearHeads(h, fks, { ...opts, gram: g });
  const maps = await fitCycleMaps(h, heads, fks, { ...opts, gram: g });
  return { heads, maps, reliable: reliableFeature(h, heads, maps, opts) };
}

/** Var[z] = E_x ‖z(x) − E_x z(x)‖², summed over all feature dimensions. */
export async function sampleVariance(z: tf.Tensor): Promise<number> {
  const v = tf.tidy(() => tf.sum(tf.moments(z, 0).variance));
  const out = (await v.data())[0];
  v.dispose();
  return out;
}

export interface ReliabilityEntry {
  order: number;
  /** Var[c_reliable] / Var[c]. */
  reliableRho: number;
  /** Var[c_reliable] / Var[f]. */
  reliableVariance: number;
  /** Var[c_unreliable] / Var[f]. */
  unreliableVariance: number;
}

export interface ReliabilitySplitInput {
  orders: readonly number[];
  /** c⁽ˡ⁾ per order, from the significance disentanglers. */
  components: tf.Tensor[];
  /** A_1 h_T per order, from the reliability disentanglers. */
  reliableFeatures: tf.Tensor[];
  /** Var[f] of the target feature on the same samples. */
  featureVariance: number;
}

/**
 * Splits each component into a reliable part (the difference of reliable features between
 * consecutive orders; the reliable feature itself for the first order) and the unreliable rest.
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
    const reliable = i === 0 ? tf.clone(r) : tf.sub(r, reliableFeatures[i - 1]);
    const unreliable = tf.sub(c, reliable);
    const [vc, vr, vu] = [await sampleVariance(c), await sampleVariance(reliable), await sampleVariance(unreliable)];
    tf.dispose([reliable, unreliable]);
    out.push({ order: orders[i], reliableRho: vc > 0 ? vr / vc : 0, reliableVariance: vr / featureVariance, unreliableVariance: vu / featureVariance });
  }
  return out;
}
