/**
 * `feature-complexity compress` (METHOD.md §7, paper Exp. 5 and Appendix G, after Han et al.
 * 2015, "Deep compression"): the compressed model is the original after iterative magnitude
 * pruning with retraining, then weight sharing by k-means (8 bits for conv kernels, 5 bits for
 * dense kernels) with the shared values fine-tuned.
 *
 * - Pruning: each conv/dense kernel's target is Han et al.'s threshold, |w| < sensitivity ·
 *   std(w) of the trained kernel (sensitivity 1.0, as in the paper), or one fraction for every
 *   kernel (`sparsity`). The target is reached in `pruneSteps` rounds: round s zeroes the
 *   smallest-magnitude s/steps of each kernel's target (the zeros of earlier rounds stay), then
 *   retrains `epochs` epochs on the training samples with the mask put back after every step.
 * - Weight sharing: per kernel, the non-zero weights are clustered into 2^bits shared values by
 *   1-D k-means with linear initialisation (Han et al.'s best), zeros staying zero (Han et al.
 *   store them in the sparse index, not as a code); then `quantEpochs` epochs fine-tune the
 *   shared values: after every Adam step each cluster's weights are set to their mean, so each
 *   shared value moves by the mean update of its weights (Han et al. step it by the sum of their
 *   gradients under SGD).
 * - Retraining uses the training split of `--data`, all of it by default (the teacher's own
 *   training set when that is what `--data` holds), in a seeded new order every epoch.
 * The saved model is an ordinary TF.js model whose kernels hold the shared float32 values;
 * biases stay float32, as in deep compression. Deviation, by scale: the paper iterates 300 rounds
 * of 20 epochs and retrains 100 more; the defaults here are 5 rounds of 2 epochs.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf/backend';
import { loadDataset, type Dataset, type Split } from '../data/dataset';
import { Rng } from '../util/random';
import { BadInputError } from '../util/errors';
import { loadKerasModel } from '../teacher/keras';
import { detectCheckpointFormat } from '../teacher/teacherSource';
import { loadLayersModel, outputsProbabilities, saveLayersModel } from '../teacher/teacher';
import type { Hooks } from '../pipeline/train';

/** Han et al.'s pruning sensitivity in the paper's Exp. 5 (Appendix G). */
export const DEFAULT_SENSITIVITY = 1.0;

export interface CompressOptions {
  /** Prune |w| < sensitivity · std(w) in each kernel (Han et al.). Default 1.0; ignored when `sparsity` is given. */
  sensitivity?: number;
  /** Instead of the sensitivity: zero this fraction of every kernel's weights (smallest magnitudes). */
  sparsity?: number;
  /** Pruning rounds, each followed by retraining. Default 5. */
  pruneSteps?: number;
  /** Retraining epochs after each pruning round. Default 2. */
  epochs?: number;
  /** Epochs fine-tuning the shared values after k-means. Default 2. */
  quantEpochs?: number;
  /** Most training samples used for retraining (a seeded choice). Default: the whole training split. */
  maxSamples?: number;
  convBits?: number;
  denseBits?: number;
  learningRate?: number;
  seed?: number;
}

export interface CompressReport {
  checkpoint: string;
  out: string;
  /** What was done, in words a reader of compress.json needs no code for. */
  method: { pruning: string; quantization: string };
  /** The pruning target: Han et al.'s sensitivity, or one fraction for every kernel. */
  criterion: { kind: 'sensitivity'; sensitivity: number } | { kind: 'sparsity'; sparsity: number };
  /** Zero fraction over all pruned kernels at the end. */
  sparsity: number;
  /** Prunable weights / non-zero weights left (Han et al.'s "pruning rate"). */
  pruningRate: number;
  convBits: number;
  denseBits: number;
  pruneSteps: number;
  /** Retraining epochs after each pruning round. */
  epochs: number;
  quantEpochs: number;
  /** Training samples retrained on, of `trainingSamples` in the dataset's training split. */
  samples: number;
  trainingSamples: number;
  /** Per pruning round: the overall zero fraction and the test accuracy after pruning and after retraining. */
  schedule: { step: number; sparsity: number; pruned: number; retrained: number }[];
  /**
   * Test accuracy of the original; after the last pruning round (before its retraining); after
   * the pruning with retraining; after k-means weight sharing; after fine-tuning the shared
   * values (the saved model).
   */
  testAccuracy: { original: number; pruned: number; retrained: number; quantized: number; fineTuned: number };
  /** Per pruned kernel: its layer, the zero fraction, the number of distinct non-zero (shared) values and the bits. */
  layers: { layer: string; kind: 'conv' | 'dense'; zeros: number; distinct: number; bits: number }[];
  seconds: number;
}

/** A TF.js layers or Keras checkpoint as a trainable LayersModel; other formats cannot be retrained here. */
export async function loadTrainable(checkpoint: string): Promise<tfl.LayersModel> {
  const format = detectCheckpointFormat(checkpoint);
  if (format === 'tfjs-layers') return loadLayersModel(checkpoint);
  if (format === 'keras-h5' || format === 'keras') return loadKerasModel(checkpoint);
  throw new BadInputError(`${checkpoint}: a ${format} checkpoint cannot be retrained by the engine; compress and distill need a TF.js layers or Keras model`);
}

type Kind = 'conv' | 'dense';

/** The conv and dense layers and their kernels (the weights pruning and quantisation act on). */
export function prunableKernels(model: tfl.LayersModel): { layer: tfl.layers.Layer; kernel: tfl.LayerVariable; kind: Kind }[] {
  const out: { layer: tfl.layers.Layer; kernel: tfl.LayerVariable; kind: Kind }[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const kind: Kind | undefined = /^(Conv1D|Conv2D|Conv3D|DepthwiseConv2D|SeparableConv2D|Conv2DTranspose)$/.test(cls)
      ? 'conv'
      : cls === 'Dense'
        ? 'dense'
        : undefined;
    if (!kind) continue;
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName) || /kernel/.test(w.name));
    if (kernel) out.push({ layer, kernel, kind });
  }
  return out;
}

/** 0/1 mask keeping the largest-magnitude (1 − sparsity) share of `w` (ties at the threshold are kept). */
export function magnitudeMask(w: Float32Array, sparsity: number): Float32Array {
  const mags = Float32Array.from(w, Math.abs).sort();
  const cut = Math.floor(sparsity * mags.length);
  const mask = new Float32Array(w.length);
  if (cut === 0) return mask.fill(1);
  const threshold = mags[cut - 1];
  // Exactly `cut` zeros: drop values below the threshold, then ties at it until the count is reached.
  let drop = cut;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) < threshold) drop--;
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]);
    if (a < threshold) continue;
    if (a === threshold && drop > 0) {
      drop--;
      continue;
    }
    mask[i] = 1;
  }
  return mask;
}

/** Han et al.'s pruning target of one kernel: the fraction of its weights with |w| < sensitivity · std(w). */
export function sensitivityFraction(w: Float32Array, sensitivity: number): number {
  if (w.length === 0) return 0;
  let mean = 0;
  for (const v of w) mean += v / w.length;
  let varSum = 0;
  for (const v of w) varSum += (v - mean) ** 2;
  const threshold = sensitivity * Math.sqrt(varSum / w.length);
  let below = 0;
  for (const v of w) if (Math.abs(v) < threshold) below++;
  return below / w.length;
}

/** Weight sharing of one kernel: the shared values, each weight's cluster (−1 for a zero) and the weights replaced by their cluster's value. */
export interface SharedWeights {
  centroids: Float32Array;
  assignment: Int32Array;
  values: Float32Array;
  /** Lloyd iterations run (0 when every distinct value got its own cluster). */
  iterations: number;
}

/**
 * Han et al.'s weight sharing: the non-zero weights clustered into at most 2^bits values by 1-D
 * k-means, centroids initialised evenly between the smallest and the largest weight (their
 * "linear initialisation"), Lloyd iterations until no weight changes cluster. Zeros (pruned
 * weights) stay zero and belong to no cluster. A kernel with at most 2^bits distinct non-zero
 * values keeps them exactly.
 */
export function shareWeights(w: Float32Array, bits: number, maxIterations = 100): SharedWeights {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new RangeError(`bits must be an integer in 1..16, got ${bits}`);
  const k = 2 ** bits;
  const assignment = new Int32Array(w.length).fill(-1);
  const nz: number[] = [];
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz.push(i);
  const distinctValues = [...new Set(nz.map((i) => w[i]))].sort((x, y) => x - y);
  if (distinctValues.length <= k) {
    const centroids = Float32Array.from(distinctValues);
    const where = new Map(distinctValues.map((v, j) => [v, j]));
    for (const i of nz) assignment[i] = where.get(w[i])!;
    return { centroids, assignment, values: w.slice(), iterations: 0 };
  }
  const lo = distinctValues[0];
  const hi = distinctValues[distinctValues.length - 1];
  const c = Float64Array.from({ length: k }, (_, j) => lo + ((hi - lo) * j) / (k - 1));
  const sums = new Float64Array(k);
  const counts = new Float64Array(k);
  let iterations = 0;
  for (let changed = true; changed && iterations < maxIterations; iterations++) {
    changed = false;
    sums.fill(0);
    counts.fill(0);
    // Centroids stay sorted (means of sorted, contiguous groups), so the nearest one is found by bisection.
    for (const i of nz) {
      const v = w[i];
      let left = 0;
      let right = k - 1;
      while (right - left > 1) {
        const mid = (left + right) >> 1;
        if (c[mid] <= v) left = mid;
        else right = mid;
      }
      const j = Math.abs(v - c[left]) <= Math.abs(v - c[right]) ? left : right;
      if (assignment[i] !== j) {
        assignment[i] = j;
        changed = true;
      }
      sums[j] += v;
      counts[j]++;
    }
    // An empty cluster keeps its value (no weight uses it).
    for (let j = 0; j < k; j++) if (counts[j] > 0) c[j] = sums[j] / counts[j];
  }
  const centroids = Float32Array.from(c);
  const values = new Float32Array(w.length);
  for (const i of nz) values[i] = centroids[assignment[i]];
  return { centroids, assignment, values, iterations };
}

/** Distinct non-zero values of a kernel: its shared values. */
function distinctNonZero(w: Float32Array): number {
  const s = new Set(w);
  s.delete(0);
  return s.size;
}

/** Up to `max` training samples in a seeded order, as tensors for fit. */
export function trainingTensors(split: Split, numClasses: number, max: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D; n: number } {
  const n = Math.min(max, split.count);
  const idx = new Rng(seed).choose(split.count, n);
  const size = split.height * split.width * split.channels;
  const images = new Float32Array(n * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    images.set(split.images.subarray(idx[i] * size, (idx[i] + 1) * size), i * size);
    labels[i] = split.labels[idx[i]];
  }
  const x = tf.tensor4d(images, [n, split.height, split.width, split.channels]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses) as tf.Tensor2D);
  return { x, y, n };
}

/** Test accuracy of a LayersModel on the whole test split, in batches. */
export async function testAccuracy(model: tfl.LayersModel, test: Split): Promise<number> {
  const size = test.height * test.width * test.channels;
  let correct = 0;
  for (let s = 0; s < test.count; s += 500) {
    const n = Math.min(500, test.count - s);
    const hits = tf.tidy(() => {
      const x = tf.tensor4d(test.images.subarray(s * size, (s + n) * size), [n, test.height, test.width, test.channels]);
      const y = model.predict(x) as tf.Tensor;
      return tf.sum(tf.cast(tf.equal(tf.argMax(y, 1), tf.tensor1d(test.labels.subarray(s, s + n), 'int32')), 'float32'));
    });
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / test.count;
}

/** Cross-entropy on the model's outputs, whether they are probabilities or logits. */
export function taskLossFn(model: tfl.LayersModel): string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor) {
  return outputsProbabilities(model) ? 'categoricalCrossentropy' : (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred);
}

/** One clear error when the dataset's images are not the size the model takes. */
export function checkData(model: tfl.LayersModel, data: Dataset): void {
  const [, h, w, c] = model.inputs[0].shape;
  const s = data.train;
  if (h !== s.height || w !== s.width || c !== s.channels)
    throw new BadInputError(`the model expects ${h}×${w}×${c} images, the dataset has ${s.height}×${s.width}×${s.channels}`);
}

/**
 * `epochs` epochs of `model.fit` over x, y in batches of 32, each epoch in a new order drawn from
 * `rng` (tfjs's own shuffle uses Math.random: the same seed would not give the same model),
 * stopping when the run is cancelled and reporting each epoch as `stage` with the fraction
 * `fraction(epochsDone)`; `afterBatch` runs after every step.
 */
export async function fitShuffled(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  epochs: number,
  rng: Rng,
  stage: string,
  fraction: (epochsDone: number) => number,
  hooks: Hooks,
  afterBatch?: () => void,
): Promise<void> {
  const n = x.shape[0];
  for (let e = 0; e < epochs && !hooks.isCancelled?.(); e++) {
    const order = tf.tensor1d(rng.choose(n, n), 'int32');
    const xs = tf.gather(x, order);
    const ys = tf.gather(y, order);
    try {
      const h = await model.fit(xs, ys, {
        epochs: 1,
        batchSize: 32,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchEnd: async () => {
            afterBatch?.();
            if (hooks.isCancelled?.()) model.stopTraining = true;
          },
        },
      });
      hooks.progress?.({ stage, fraction: fraction(e + 1), epoch: e + 1, loss: h.history.loss?.[0] as number | undefined });
    } finally {
      tf.dispose([order, xs, ys]);
    }
  }
}

/** Saves a variant as a TF.js model in `out` with its report beside it as `reportName`, and says `stage` is done. */
export async function saveVariant<R>(model: tfl.LayersModel, out: string, reportName: string, report: R, stage: string, hooks: Hooks): Promise<R> {
  await saveLayersModel(model, out);
  writeFileSync(join(out, reportName), JSON.stringify(report, null, 2) + '\n');
  hooks.progress?.({ stage, fraction: 1 });
  return report;
}

function overallZeros(ws: Float32Array[]): number {
  let zeros = 0;
  let total = 0;
  for (const w of ws) {
    total += w.length;
    for (const v of w) if (v === 0) zeros++;
  }
  return total > 0 ? zeros / total : 0;
}

export async function compressModel(
  checkpoint: string,
  dataPath: string,
  outDir: string,
  opts: CompressOptions = {},
  hooks: Hooks = {},
): Promise<CompressReport> {
  const t0 = performance.now();
  const sensitivity = opts.sensitivity ?? DEFAULT_SENSITIVITY;
  const steps = opts.pruneSteps ?? 5;
  const epochs = opts.epochs ?? 2;
  const quantEpochs = opts.quantEpochs ?? 2;
  const convBits = opts.convBits ?? 8;
  const denseBits = opts.denseBits ?? 5;
  const seed = opts.seed ?? 0;
  if (opts.sparsity !== undefined && !(opts.sparsity >= 0 && opts.sparsity < 1)) throw new BadInputError(`--sparsity must be in [0, 1), got ${opts.sparsity}`);
  if (!(sensitivity >= 0 && Number.isFinite(sensitivity))) throw new BadInputError(`--sensitivity must be a non-negative number, got ${sensitivity}`);
  if (!Number.isInteger(steps) || steps < 1) throw new BadInputError(`--prune-steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new BadInputError(`--epochs must be a non-negative integer, got ${epochs}`);
  if (!Number.isInteger(quantEpochs) || quantEpochs < 0) throw new BadInputError(`--quant-epochs must be a non-negative integer, got ${quantEpochs}`);
  for (const [name, bits] of [
    ['conv-bits', convBits],
    ['dense-bits', denseBits],
  ] as const)
    if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new BadInputError(`--${name} must be an integer in 1..16, got ${bits}`);
  const data = loadDataset(dataPath);
  const model = await loadTrainable(checkpoint);
  const tensors: tf.Tensor[] = [];
  // Passed in as an instance, the optimizer is not the model's to dispose.
  const optimizer = tf.train.adam(opts.learningRate ?? 5e-4);
  const rng = new Rng(seed);
  try {
    checkData(model, data);
    const original = await testAccuracy(model, data.test);
    const kernels = prunableKernels(model);
    if (kernels.length === 0) throw new BadInputError(`${checkpoint}: no conv or dense kernels to prune`);
    const read = async () => Promise.all(kernels.map(async (k) => (await k.kernel.read().data()) as Float32Array));
    const trained = await read();
    const targets = trained.map((w) => (opts.sparsity !== undefined ? opts.sparsity : sensitivityFraction(w, sensitivity)));

    const { x, y, n } = trainingTensors(
      data.train,
      Math.max(data.numClasses, model.outputs[0].shape[1] ?? data.numClasses),
      opts.maxSamples ?? data.train.count,
      seed,
    );
    tensors.push(x, y);
    model.compile({ optimizer, loss: taskLossFn(model) });
    const trainEpochs = steps * epochs + quantEpochs;
    const at = (epochsDone: number) => 0.05 + (0.9 * epochsDone) / Math.max(1, trainEpochs);

    // Iterative pruning: masks only grow (a zero is the smallest magnitude), each round retrains.
    let masks: tf.Tensor[] = [];
    const applyMasks = () => kernels.forEach((k, i) => tf.tidy(() => void k.kernel.write(tf.mul(k.kernel.read(), masks[i]))));
    const schedule: CompressReport['schedule'] = [];
    let pruned = original;
    for (let s = 1; s <= steps; s++) {
      hooks.progress?.({ stage: `prune ${s}/${steps}`, fraction: at((s - 1) * epochs) });
      const current = await read();
      tf.dispose(masks);
      masks = current.map((w, i) => tf.tensor(magnitudeMask(w, (targets[i] * s) / steps), kernels[i].kernel.shape as number[]));
      applyMasks();
      pruned = await testAccuracy(model, data.test);
      // Pruned weights get gradients too; putting the mask back after every step keeps them at zero.
      if (epochs > 0) await fitShuffled(model, x, y, epochs, rng, `retrain ${s}/${steps}`, (e) => at((s - 1) * epochs + e), hooks, applyMasks);
      applyMasks();
      schedule.push({ step: s, sparsity: overallZeros(await read()), pruned, retrained: await testAccuracy(model, data.test) });
    }
    tf.dispose(masks);
    masks = [];
    const retrained = schedule[schedule.length - 1].retrained;

    // Weight sharing, then fine-tuning of the shared values with the clusters fixed.
    hooks.progress?.({ stage: 'k-means weight sharing', fraction: at(steps * epochs) });
    const shared = (await read()).map((w, i) => shareWeights(w, kernels[i].kind === 'conv' ? convBits : denseBits));
    kernels.forEach((k, i) => tf.tidy(() => void k.kernel.write(tf.tensor(shared[i].values, k.kernel.shape as number[]))));
    const quantized = await testAccuracy(model, data.test);
    // Each kernel's weights sorted by cluster for a segment sum; the zeros are cluster k, whose
    // value is forced to 0; one extra 0 weight in cluster k makes every sum k + 1 long.
    const clusters = shared.map((sw) => {
      const k = sw.centroids.length;
      const ids = Array.from(sw.assignment, (a) => (a < 0 ? k : a));
      const order = Int32Array.from([...Int32Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b]), ids.length]);
      const counts = new Float32Array(k + 1);
      for (const id of ids) counts[id]++;
      const scale = Float32Array.from({ length: k + 1 }, (_, j) => (j < k && counts[j] > 0 ? 1 / counts[j] : 0));
      const t = {
        order: tf.tensor1d(order, 'int32'),
        sortedIds: tf.tensor1d(
          Int32Array.from(order, (i) => (i < ids.length ? ids[i] : k)),
          'int32',
        ),
        ids: tf.tensor1d(Int32Array.from(ids), 'int32'),
        scale: tf.tensor1d(scale),
      };
      tensors.push(t.order, t.sortedIds, t.ids, t.scale);
      return t;
    });
    const pad = tf.zeros([1]);
    tensors.push(pad);
    const shareAgain = () =>
      kernels.forEach((k, i) =>
        tf.tidy(() => {
          const c = clusters[i];
          const flat = tf.concat([tf.reshape(k.kernel.read(), [-1]), pad]);
          const means = tf.mul(tf.sparse.sparseSegmentSum(flat, c.order, c.sortedIds), c.scale);
          k.kernel.write(tf.reshape(tf.gather(means, c.ids), k.kernel.shape as number[]));
        }),
      );
    if (quantEpochs > 0) await fitShuffled(model, x, y, quantEpochs, rng, 'fine-tune shared weights', (e) => at(steps * epochs + e), hooks, shareAgain);
    shareAgain();
    const fineTuned = await testAccuracy(model, data.test);

    const final = await read();
    const layers: CompressReport['layers'] = kernels.map((k, i) => ({
      layer: k.layer.name,
      kind: k.kind,
      zeros: final[i].filter((v) => v === 0).length / final[i].length,
      distinct: distinctNonZero(final[i]),
      bits: k.kind === 'conv' ? convBits : denseBits,
    }));
    const total = final.reduce((a, w) => a + w.length, 0);
    const nonZero = final.reduce((a, w) => a + w.filter((v) => v !== 0).length, 0);
    const out = resolve(outDir);
    const report: CompressReport = {
      checkpoint: resolve(checkpoint),
      out,
      method: {
        pruning: `iterative magnitude pruning (Han et al. 2015): ${steps} rounds, each followed by ${epochs} retraining epochs`,
        quantization: `k-means weight sharing (Han et al. 2015): ${convBits}-bit conv and ${denseBits}-bit dense kernels, linear initialisation, shared values fine-tuned ${quantEpochs} epochs`,
      },
      criterion: opts.sparsity !== undefined ? { kind: 'sparsity', sparsity: opts.sparsity } : { kind: 'sensitivity', sensitivity },
      sparsity: overallZeros(final),
      pruningRate: nonZero > 0 ? total / nonZero : Infinity,
      convBits,
      denseBits,
      pruneSteps: steps,
      epochs,
      quantEpochs,
      samples: n,
      trainingSamples: data.train.count,
      schedule,
      testAccuracy: { original, pruned, retrained, quantized, fineTuned },
      layers,
      seconds: (performance.now() - t0) / 1000,
    };
    return await saveVariant(model, out, 'compress.json', report, 'compressed', hooks);
  } finally {
    tf.dispose(tensors);
    optimizer.dispose();
    model.dispose();
  }
}
