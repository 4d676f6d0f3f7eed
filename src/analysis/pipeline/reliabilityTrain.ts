/**
 * The reliability disentanglers of METHOD.md §3, trained as the paper does: for each order l one
 * disentangler Φ⁽ˡ⁾ shared by the K networks (the target first, then the exemplars), with K
 * parallel linear heads A_k (1×1 convolutions without bias, Φ's channels → network k's
 * channels), trained jointly under Σ_k MSE(A_k Φ⁽ˡ⁾(x), f_k(x)).
 *
 * Same recipe as the significance disentanglers (train.ts): Adam, resampled batches, the
 * budget's log-spaced learning rate, each order warm-started from the previous one (Φ and the
 * heads). Every network's feature is standardised on its own (per-dimension mean removed, one
 * global scale), so each network weighs the same in the joint loss whatever its units or
 * channel count: the shared Φ has to serve all of them, and what only one network encodes has
 * to compete for Φ's capacity with what all of them encode.
 *
 * The cycle (back maps B_k, T rounds) runs afterwards with Φ and the heads fixed, as the
 * release does; see metrics/reliability.ts.
 */
import { tf } from '../tf/backend';
import { stepLearningRate, type BudgetSpec } from './budget';
import { gatherImages, type Split } from '../data/dataset';
import { Rng } from '../util/random';
import { Disentangler } from './disentangler';
import type { Geometry } from './geometry';
import { headsLoss } from '../metrics/reliability';
import { StepPool, threadsFor } from './parallel';
import { predictImages } from './train';
import type { BackendName } from '../../shared/engineProtocol';

export interface NetworkFeatures {
  /** n × dim, row i ↔ the set's `indices[i]`. */
  features: Float32Array;
  /** [H, W, C]; all networks share H and W (the heads are 1×1 convolutions). */
  shape: [number, number, number];
}

export interface JointSet {
  split: Split;
  indices: Int32Array;
  /** The target first, then the exemplars. */
  networks: NetworkFeatures[];
}

/** Per-dimension mean and one global scale (the root mean variance per dimension). */
export interface FeatureScale {
  mean: Float32Array;
  scale: number;
}

export function featureScale(features: Float32Array, n: number, dim: number): FeatureScale {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(1, n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const e = features[i * dim + d] - mean[d];
      v += e * e;
    }
  }
  return { mean: Float32Array.from(mean), scale: Math.sqrt(v / Math.max(1, n) / dim) || 1 };
}

/** Per input channel mean and standard deviation of the images at `indices`. */
export function inputScale(split: Split, indices: ArrayLike<number>): { mean: Float32Array; std: Float32Array } {
  const c = split.channels;
  const size = split.height * split.width * c;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < indices.length; i++) {
    const base = indices[i] * size;
    for (let p = 0; p < size; p++) {
      const v = split.images[base + p];
      sum[p % c] += v;
      sq[p % c] += v * v;
    }
  }
  const count = Math.max(1, (indices.length * size) / c);
  const mean = Float32Array.from(sum, (s) => s / count);
  const std = Float32Array.from(sq, (q, k) => Math.sqrt(Math.max(q / count - mean[k] * mean[k], 0)) || 1);
  return { mean, std };
}

/** The standardisation a joint model was trained under. */
export interface JointScales {
  input: { mean: Float32Array; std: Float32Array };
  /** One per network, in the order of `JointSet.networks`. */
  outputs: FeatureScale[];
}

export function jointScales(set: JointSet): JointScales {
  const n = set.indices.length;
  return {
    input: inputScale(set.split, set.indices),
    outputs: set.networks.map((f) => featureScale(f.features, n, f.shape[0] * f.shape[1] * f.shape[2])),
  };
}

/** Rows `rows` of network k's features, standardised, as [rows, H, W, C]. */
export function standardFeatures(net: NetworkFeatures, scale: FeatureScale, rows: ArrayLike<number>): tf.Tensor4D {
  const [h, w, c] = net.shape;
  const dim = h * w * c;
  const out = new Float32Array(rows.length * dim);
  const inv = 1 / scale.scale;
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i] * dim;
    for (let d = 0; d < dim; d++) out[i * dim + d] = (net.features[src + d] - scale.mean[d]) * inv;
  }
  return tf.tensor4d(out, [rows.length, h, w, c]);
}

export interface JointOrder {
  order: number;
  /** The shared Φ⁽ˡ⁾; it takes standardised images (`standardImages`) and returns standardised units. */
  net: Disentangler;
  /** A_k (C_h × C_k) as trained by gradient. */
  heads: tf.Variable<tf.Rank.R2>[];
  epochs: number;
  /** Mean Σ_k MSE over each epoch, in standardised units (so 1 per network = nothing explained). */
  lossCurve: number[];
  seconds: number;
}

export interface JointTrainOptions {
  train: JointSet;
  scales: JointScales;
  orders: number[];
  width: number;
  /** The target trunk's grid (geometry.ts), as the significance disentanglers follow it. */
  geometry?: Geometry;
  budget: BudgetSpec;
  seed: number;
  /** Epochs of each order (default: the budget's maxEpochs); the stage gives each order the epochs the target's own Φ⁽ˡ⁾ trained. */
  epochs?: number[];
  isCancelled?: () => boolean;
  /** Fraction of the whole training done. */
  progress?: (fraction: number) => void;
  /**
   * Called with each finished order before training goes on; the nets and heads are disposed
   * once the next order has been warm-started from them, so copy what is needed here.
   */
  onOrderDone: (order: JointOrder, index: number) => Promise<void> | void;
}

/** x standardised per input channel. */
export function standardImages(split: Split, indices: ArrayLike<number>, scale: JointScales['input']): tf.Tensor4D {
  return tf.tidy(() => {
    const x = gatherImages(split, indices);
    return tf.div(tf.sub(x, tf.tensor1d(scale.mean)), tf.tensor1d(scale.std));
  });
}

function headInit(cIn: number, cOut: number, rng: Rng, name: string): tf.Variable<tf.Rank.R2> {
  const std = Math.sqrt(1 / cIn);
  const init = tf.tensor2d(
    Float32Array.from({ length: cIn * cOut }, () => std * rng.normal()),
    [cIn, cOut],
  );
  const v = tf.variable(init, true, name) as tf.Variable<tf.Rank.R2>;
  init.dispose();
  return v;
}

let jointCounter = 0;

/**
 * Trains Φ⁽ˡ⁾ and the K heads for every order in turn; returns false when cancelled (the
 * finished orders have been handed to `onOrderDone`).
 */
export async function trainJoint(opts: JointTrainOptions): Promise<boolean> {
  const { train, scales, budget, orders } = opts;
  const target = train.networks[0].shape;
  const k = train.networks.length;
  if (k < 1) throw new RangeError('no networks to train on');
  for (const f of train.networks) {
    if (f.shape[0] !== target[0] || f.shape[1] !== target[1])
      throw new RangeError(`a feature of ${f.shape.join('×')} does not share the target's spatial size ${target[0]}×${target[1]}`);
  }
  const ch = target[2];
  const rng = new Rng(opts.seed * 7919 + 17);
  const inputShape: [number, number, number] = [train.split.height, train.split.width, train.split.channels];
  const stepsPerEpoch = Math.max(1, Math.round(budget.samplesPerEpoch / budget.batchSize));
  const pool = train.indices.length;
  const totalEpochs = orders.reduce((a, _o, i) => a + (opts.epochs?.[i] ?? budget.maxEpochs), 0);
  let epochsDone = 0;
  let prev: JointOrder | undefined;
  const id = jointCounter++;
  // The steps split over the threads of parallel.ts, as the significance disentanglers' are.
  const threads = await StepPool.open(threadsFor(), tf.getBackend() as BackendName);
  threads?.activate();
  try {
    for (let i = 0; i < orders.length; i++) {
      const order = orders[i];
      const started = performance.now();
      let net!: Disentangler;
      tf.tidy(() => {
        net = Disentangler.create(
          { order, width: opts.width, inputShape, targetShape: [target[0], target[1], ch], ...(opts.geometry ? { geometry: opts.geometry } : {}) },
          opts.seed * 1000 + order + 500,
        );
      });
      const heads = train.networks.map((f, j) => headInit(ch, f.shape[2], rng, `joint${id}_o${order}_A${j}`));
      if (prev) {
        net.warmStartFrom(prev.net);
        heads.forEach((a, j) => a.assign(prev!.heads[j]));
      }
      const current: JointOrder = { order, net, heads, epochs: 0, lossCurve: [], seconds: 0 };
      await threads?.bind(net, { heads });
      const optimizer = tf.train.adam(budget.lrStart);
      const epochs = opts.epochs?.[i] ?? budget.maxEpochs;
      try {
        for (let epoch = 0; epoch < epochs; epoch++) {
          let sum = 0;
          for (let s = 0; s < stepsPerEpoch; s++) {
            (optimizer as unknown as { learningRate: number }).learningRate = stepLearningRate(budget, epoch, epoch * stepsPerEpoch + s, prev !== undefined);
            await new Promise<void>((r) => setImmediate(r));
            if (opts.isCancelled?.()) {
              net.dispose();
              tf.dispose(heads);
              return false;
            }
            const rows = rng.sample(pool, budget.batchSize);
            const x = standardImages(
              train.split,
              Array.from(rows, (r) => train.indices[r]),
              scales.input,
            );
            const ys = train.networks.map((f, j) => standardFeatures(f, scales.outputs[j], rows));
            if (threads) {
              // The y_k side by side along the channels, the way the workers take them.
              const y = tf.concat(ys, 3);
              const channels = ys.map((t) => t.shape[3]);
              sum += await threads.step(optimizer, x, y, (xs, yc) => headsLoss(net.apply(xs), heads, tf.split(yc, channels, 3)));
              tf.dispose([x, y, ...ys]);
              continue;
            }
            const loss = optimizer.minimize(() => headsLoss(net.apply(x), heads, ys), true, [...net.variables, ...heads]);
            tf.dispose([x, ...ys]);
            if (!loss) throw new Error('optimizer returned no loss');
            sum += (await loss.data())[0];
            loss.dispose();
          }
          current.lossCurve.push(sum / stepsPerEpoch);
          current.epochs = epoch + 1;
          opts.progress?.((epochsDone + epoch + 1) / Math.max(1, totalEpochs));
        }
      } finally {
        optimizer.dispose();
      }
      epochsDone += epochs;
      current.seconds = (performance.now() - started) / 1000;
      if (prev) {
        prev.net.dispose();
        tf.dispose(prev.heads);
      }
      prev = current;
      await opts.onOrderDone(current, i);
    }
    return true;
  } finally {
    await threads?.close();
    if (prev) {
      prev.net.dispose();
      tf.dispose(prev.heads);
    }
  }
}

/**
 * Φ⁽ˡ⁾(x) (standardised units) for the samples at `indices`, batched, as [n, H, W, C_h]; split over
 * the stage's threads while their pool has `net` bound (train.ts predictImages).
 */
export async function jointFeatures(net: Disentangler, split: Split, indices: Int32Array, scale: JointScales['input'], batch = 128): Promise<tf.Tensor4D> {
  // Only the input side of a standardiser: the net's output stays in standardised units.
  const std = { inMean: scale.mean, inStd: scale.std, outMean: new Float32Array(0), outScale: 1 };
  const flat = await predictImages(net, split, indices, std, false, batch);
  return tf.tensor4d(flat, [indices.length, ...net.spec.targetShape]);
}
