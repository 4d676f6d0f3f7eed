/**
 * The linear order at its optimum (METHOD.md §1, `l = 0`): the order-0 disentangler is a linear
 * net, so instead of hoping that Adam's slow drift reaches the best linear map (measured: ρ⁽⁰⁾
 * still moved by 0.2 between epoch 20 and 500 of the reference recipe), its last linear conv is
 * solved by least squares.
 *
 * The convs before it are set layer by layer to the whitened principal directions of their input
 * patches (the top `width` of them): with the net's width at least the number of pixels ×
 * channels a conv sees, that loses nothing and is well conditioned (random weights lose nothing
 * either but compose into an ill-conditioned map: measured 0.977 instead of 0.99+ on a linear
 * teacher). The least-squares fit over the last conv's k×k×C input patches is then the best
 * linear map over the whole window that the geometry gives (geometry.ts), border positions
 * included (zero padding at the same intermediate stages as the teacher's). The output conv becomes the identity on the target's
 * channels, or, when the target has more channels than the net is wide, the reduced-rank fit
 * (the top principal directions of the least-squares prediction).
 *
 * The fit is on the standardised images and features the net is trained on, ridge-stabilised
 * (`RIDGE` × the mean patch variance): the k×k×C patches of a narrow-input net are exactly
 * rank-deficient.
 */
import { CholeskyDecomposition, EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { tf } from '../tf/backend';
import { padOrCrop, type LinearSolvePoint } from './disentangler';

export const RIDGE = 1e-6;

/** One batch of standardised images x [B, H, W, C] and targets y [B, h, w, c]. */
export type BatchSource = (visit: (x: tf.Tensor4D, y: tf.Tensor4D) => Promise<void>) => Promise<void>;

/** TF 'same' pads of one axis: total = max((out − 1)·s + k − in, 0), the smaller half in front. */
function samePads(inSize: number, k: number, s: number): [number, number] {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** The k×k×C patches each output position of the solved conv reads, as rows [positions, k·k·C]. */
function patches(h: tf.Tensor4D, p: LinearSolvePoint, eye: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [, hh, ww] = h.shape;
    const pads = p.pads ?? [samePads(hh, p.kernel[0], p.strides[0]), samePads(ww, p.kernel[1], p.strides[1])];
    const cols = tf.conv2d(padOrCrop(h, pads), eye, p.strides, 'valid');
    const d = cols.shape[3];
    return tf.reshape(cols, [cols.size / d, d]);
  });
}

/** The one-hot filter that copies a k×k×C window into k·k·C channels, (dy·kw + dx)·C + c. */
function identityFilter(p: LinearSolvePoint): tf.Tensor4D {
  const [kh, kw] = p.kernel;
  const c = p.inChannels;
  const d = kh * kw * c;
  const data = new Float32Array(kh * kw * c * d);
  for (let dy = 0; dy < kh; dy++)
    for (let dx = 0; dx < kw; dx++) for (let ch = 0; ch < c; ch++) data[((dy * kw + dx) * c + ch) * d + (dy * kw + dx) * c + ch] = 1;
  return tf.tensor4d(data, [kh, kw, c, d]);
}

async function addTo(acc: Float64Array, t: tf.Tensor): Promise<void> {
  const data = await t.data();
  for (let i = 0; i < acc.length; i++) acc[i] += data[i];
  t.dispose();
}

export interface ClosedFormFit {
  /** 1 − (error variance about each position's mean) / (the targets' variance about it), on the samples it was fitted on. */
  fit: number;
  /** k·k·C of the last conv: the size of the least-squares problem. */
  patchDims: number;
}

/**
 * Second moments of a conv's input patches (and of the targets, when asked), centred per output
 * position: the disentangler's mean at each position is fitted apart (train.ts), so the solve
 * fits only how the output varies with the image. Centring over all positions instead would ask
 * the shift-invariant convs to reproduce how f's mean changes from the centre to the borders,
 * at the cost of the variation (measured on a linear pooling teacher: a fit of −0.7).
 */
interface Moments {
  n: number;
  mx: Float64Array;
  cxx: Matrix;
  my?: Float64Array;
  cxy?: Matrix;
  /** E‖y − E_q y‖²: the targets' variance about each position's mean. */
  vy?: number;
}

/**
 * The raw sums of one pass over some batches (per position, per patch dimension): what one thread
 * adds up over its share of the samples, and what the threads' shares add up to.
 */
export interface MomentSums {
  n: number;
  positions: number;
  xx: Float64Array;
  xy: Float64Array;
  sx: Float64Array;
  sy: Float64Array;
  px: Float64Array;
  py: Float64Array;
  syy: number;
}

/** The sums of one pass of `source` through the patches of `p`; undefined for no batches. */
export async function sumMoments(p: LinearSolvePoint, source: BatchSource, withTargets: boolean): Promise<MomentSums | undefined> {
  const eye = identityFilter(p);
  const d = eye.shape[3];
  const tc = p.outChannels;
  const xx = new Float64Array(d * d);
  const xy = new Float64Array(d * tc);
  const sx = new Float64Array(d);
  const sy = new Float64Array(tc);
  // Sums per output position (positions × d and positions × tc), known after the first batch.
  let positions = 0;
  let px: Float64Array | undefined;
  let py: Float64Array | undefined;
  let syy = 0;
  let n = 0;
  try {
    await source(async (x, y) => {
      const h = p.input(x);
      const rows = patches(h, p, eye);
      h.dispose();
      const batch = x.shape[0];
      if (!px) {
        positions = rows.shape[0] / batch;
        px = new Float64Array(positions * d);
        py = new Float64Array(positions * tc);
      }
      const xt = tf.transpose(rows);
      await addTo(xx, tf.matMul(xt, rows));
      await addTo(sx, tf.sum(rows, 0));
      await addTo(
        px,
        tf.tidy(() => tf.sum(tf.reshape(rows, [batch, positions, d]), 0)),
      );
      if (withTargets) {
        const yr = tf.reshape(y, [y.size / tc, tc]) as tf.Tensor2D;
        if (yr.shape[0] !== rows.shape[0]) {
          tf.dispose([rows, yr, xt]);
          throw new Error(`the solved conv gives ${rows.shape[0]} positions, the target has ${yr.shape[0]}`);
        }
        await addTo(xy, tf.matMul(xt, yr));
        await addTo(sy, tf.sum(yr, 0));
        await addTo(
          py!,
          tf.tidy(() => tf.sum(tf.reshape(yr, [batch, positions, tc]), 0)),
        );
        const q = tf.tidy(() => tf.sum(tf.square(yr)));
        syy += (await q.data())[0];
        tf.dispose([q, yr]);
      }
      n += rows.shape[0];
      tf.dispose([xt, rows]);
    });
  } finally {
    eye.dispose();
  }
  return px ? { n, positions, xx, xy, sx, sy, px, py: py!, syy } : undefined;
}

/** `a` + `b`, into `a`. */
function addSums(a: MomentSums, b: MomentSums): MomentSums {
  if (a.positions !== b.positions || a.xx.length !== b.xx.length) throw new Error("the threads' moment sums do not match");
  for (const k of ['xx', 'xy', 'sx', 'sy', 'px', 'py'] as const) {
    const t = a[k];
    const u = b[k];
    for (let i = 0; i < t.length; i++) t[i] += u[i];
  }
  a.n += b.n;
  a.syy += b.syy;
  return a;
}

/**
 * The sums of the other threads for chain point `index`, on their share of the samples (the
 * caller's `source` has the rest): Solve's hook for StepPool.moments.
 */
export type OtherSums = (index: number, withTargets: boolean) => Promise<Array<MomentSums | undefined>>;

async function moments(p: LinearSolvePoint, index: number, source: BatchSource, withTargets: boolean, others?: OtherSums): Promise<Moments> {
  // The other threads' shares first, so that they run while this thread sums its own.
  const theirs = others?.(index, withTargets);
  theirs?.catch(() => undefined);
  let sums = await sumMoments(p, source, withTargets);
  for (const s of (await theirs) ?? []) if (s) sums = sums ? addSums(sums, s) : s;
  if (!sums) throw new Error('no samples for the closed-form linear order');
  const { n, positions, xx, xy, sx, sy, px, py, syy } = sums;
  const d = sx.length;
  const tc = sy.length;
  const mx = Float64Array.from(sx, (v) => v / n);
  // Per-position means (every sample has every position): μ_q = P · Σ_q / n.
  const perPos = n / positions;
  const mux = new Matrix(positions, d);
  for (let q = 0; q < positions; q++) for (let i = 0; i < d; i++) mux.set(q, i, px[q * d + i] / perPos);
  const between = mux.transpose().mmul(mux);
  const cxx = new Matrix(d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cxx.set(i, j, xx[i * d + j] / n - between.get(i, j) / positions);
  if (!withTargets) return { n, mx, cxx };
  const my = Float64Array.from(sy, (v) => v / n);
  const muy = new Matrix(positions, tc);
  for (let q = 0; q < positions; q++) for (let j = 0; j < tc; j++) muy.set(q, j, py[q * tc + j] / perPos);
  const betweenXY = mux.transpose().mmul(muy);
  const cxy = new Matrix(d, tc);
  for (let i = 0; i < d; i++) for (let j = 0; j < tc; j++) cxy.set(i, j, xy[i * tc + j] / n - betweenXY.get(i, j) / positions);
  let myy = 0;
  for (let q = 0; q < positions; q++) for (let j = 0; j < tc; j++) myy += muy.get(q, j) ** 2;
  return { n, mx, cxx, my, cxy, vy: syy / n - myy / positions };
}

/**
 * Ridge-stabilised normal equations (the patches of a narrow-input net are rank-deficient, and
 * float32 moments carry rounding of about 1e-7 of the largest): λ = RIDGE × the mean variance of
 * a patch dimension, solved by Cholesky; λ grows tenfold while the matrix is not positive definite.
 */
function ridgeSolve(cxx: Matrix, cxy: Matrix): Matrix {
  const d = cxx.rows;
  const mean = cxx.trace() / d || 1;
  for (let ridge = RIDGE; ridge <= 1; ridge *= 10) {
    const reg = cxx.clone();
    for (let i = 0; i < d; i++) reg.set(i, i, reg.get(i, i) + ridge * mean);
    const chol = new CholeskyDecomposition(reg);
    if (chol.isPositiveDefinite()) return chol.solve(cxy);
  }
  throw new Error('the closed-form linear order found no positive-definite system');
}

/** Below this fraction of the largest variance a principal direction is numerically empty. */
const EMPTY = 1e-6;

/** Sets an inner conv of the chain to the whitened top principal directions of its input patches (centred outputs). */
async function setPrincipal(p: LinearSolvePoint, index: number, source: BatchSource, others?: OtherSums): Promise<void> {
  const m = await moments(p, index, source, false, others);
  const d = m.cxx.rows;
  const c = p.width;
  const evd = new EigenvalueDecomposition(m.cxx, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  const top = Math.max(order[0][0], 0);
  const kernel = new Float32Array(d * c);
  const bias = new Float32Array(c);
  for (let k = 0; k < Math.min(c, d); k++) {
    const [value, idx] = order[k];
    if (!(value > EMPTY * top)) break;
    const scale = 1 / Math.sqrt(value);
    let b = 0;
    for (let i = 0; i < d; i++) {
      const wv = evd.eigenvectorMatrix.get(i, idx) * scale;
      kernel[i * c + k] = wv;
      b -= m.mx[i] * wv;
    }
    bias[k] = b;
  }
  p.assign({ kernel, bias });
}

/**
 * Solves the net's linear order in closed form on the batches of `source` (one pass per conv of
 * the chain) and writes the weights into it. Returns how well it fits the samples it saw.
 */
export async function solveLinearOrder(chain: LinearSolvePoint[], source: BatchSource, others?: OtherSums): Promise<ClosedFormFit> {
  for (let k = 0; k < chain.length - 1; k++) await setPrincipal(chain[k], k, source, others);
  const p = chain[chain.length - 1];
  const m = await moments(p, chain.length - 1, source, true, others);
  const { mx, cxx } = m;
  const cxy = m.cxy!;
  const my = m.my!;
  const d = cxx.rows;
  const tc = p.outChannels;
  let w = ridgeSolve(cxx, cxy);
  const total = m.vy!;
  const c = p.width;
  // With more target channels than the net is wide, keep the top c directions of the prediction.
  let proj: Matrix; // tc × c: y ≈ proj · (conv output)
  if (tc <= c) {
    proj = Matrix.zeros(tc, c);
    for (let j = 0; j < tc; j++) proj.set(j, j, 1);
  } else {
    const pred = w.transpose().mmul(cxx).mmul(w);
    const pe = new EigenvalueDecomposition(pred, { assumeSymmetric: true });
    const order = pe.realEigenvalues.map((val, i) => [val, i]).sort((a, b) => b[0] - a[0]);
    proj = new Matrix(tc, c);
    for (let k = 0; k < c; k++) for (let j = 0; j < tc; j++) proj.set(j, k, pe.eigenvectorMatrix.get(j, order[k][1]));
  }
  // conv output z = Wc x + bc with Wc = W projᵀ... in channel terms z_k = Σ_j proj[j,k] (w_jᵀ x + b_j).
  const b = my.map((m, j) => m - mx.reduce((a, xm, i) => a + xm * w.get(i, j), 0));
  const wc = w.mmul(proj); // d × c
  if (tc > c) w = wc.mmul(proj.transpose()); // the reduced-rank prediction
  // Explained variance of the standardised targets: trace(Wᵀ Cxx W) of the prediction kept.
  const explained = w.transpose().mmul(cxx).mmul(w).trace();
  const kernel = new Float32Array(d * c);
  for (let i = 0; i < d; i++) for (let k = 0; k < c; k++) kernel[i * c + k] = wc.get(i, k);
  const bias = new Float32Array(c);
  for (let k = 0; k < c; k++) for (let j = 0; j < tc; j++) bias[k] += proj.get(j, k) * b[j];
  // y = proj z + (b − proj projᵀ b): exact intercept whether or not the rank was reduced.
  const outKernel = new Float32Array(c * tc);
  for (let k = 0; k < c; k++) for (let j = 0; j < tc; j++) outKernel[k * tc + j] = proj.get(j, k);
  const outBias = new Float32Array(tc);
  for (let j = 0; j < tc; j++) {
    let pb = 0;
    for (let k = 0; k < c; k++) pb += proj.get(j, k) * bias[k];
    outBias[j] = b[j] - pb;
  }
  p.assign({ kernel, bias, outKernel, outBias });
  return { fit: total > 0 ? explained / total : 0, patchDims: d };
}
