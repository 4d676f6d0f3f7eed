/**
 * `feature-complexity compress` (METHOD.md §7, paper Exp. 5): the compressed model is the
 * original after magnitude pruning with retraining, then 8-bit quantisation of the conv kernels
 * and 5-bit quantisation of the dense kernels. Quantisation is simulated: each kernel is
 * quantised and dequantised in place (uniform, symmetric, one scale per layer), so the saved
 * model is an ordinary TF.js model whose stored float32 weights take at most 2⁸ (conv) or 2⁵
 * (dense) distinct values; biases stay float32, as in deep compression.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from './backend';
import { loadDataset, type Dataset, type Split } from './data/dataset';
import { Rng } from './data/rng';
import { BadInputError } from './errors';
import { loadKerasModel } from './formats/keras';
import { detectCheckpointFormat } from './formats/teacherSource';
import { loadLayersModel, outputsProbabilities, saveLayersModel } from './teacher';
import type { Hooks } from './train';

export interface CompressOptions {
  /** Fraction of each conv/dense kernel's weights set to zero (smallest magnitudes). Default 0.5. */
  sparsity?: number;
  /** Retraining epochs after pruning. Default 3. */
  epochs?: number;
  /** Most training samples used for retraining. Default 5000. */
  maxSamples?: number;
  convBits?: number;
  denseBits?: number;
  learningRate?: number;
  seed?: number;
}

export interface CompressReport {
  checkpoint: string;
  out: string;
  sparsity: number;
  convBits: number;
  denseBits: number;
  epochs: number;
  samples: number;
  /** Test accuracy of the original, after pruning, after retraining, after quantisation. */
  testAccuracy: { original: number; pruned: number; retrained: number; quantized: number };
  /** Per pruned kernel: its layer, the zero fraction and the number of distinct values after quantisation. */
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
    const kind: Kind | undefined = /^(Conv1D|Conv2D|Conv3D|DepthwiseConv2D|SeparableConv2D|Conv2DTranspose)$/.test(cls) ? 'conv' : cls === 'Dense' ? 'dense' : undefined;
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

/** Uniform symmetric quantise-dequantise to `bits` bits with one scale (max |w|) per tensor; 0 stays 0. */
export function quantize(w: Float32Array, bits: number): Float32Array {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw new RangeError(`bits must be an integer in 2..16, got ${bits}`);
  let max = 0;
  for (const v of w) max = Math.max(max, Math.abs(v));
  if (max === 0) return w.slice();
  const levels = 2 ** (bits - 1) - 1;
  const scale = max / levels;
  return Float32Array.from(w, (v) => Math.round(v / scale) * scale);
}

function distinct(w: Float32Array): number {
  return new Set(w).size;
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
  if (h !== s.height || w !== s.width || c !== s.channels) throw new BadInputError(`the model expects ${h}×${w}×${c} images, the dataset has ${s.height}×${s.width}×${s.channels}`);
}

/**
 * `model.fit` over the whole of x, y in order (batches of 32, no shuffle, the caller picked the
 * samples), stopping when the run is cancelled and reporting each epoch as `stage` with the
 * fraction `fraction(epochsDone)`; `afterBatch` runs after every step.
 */
export async function fitWithHooks(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  epochs: number,
  stage: string,
  fraction: (epochsDone: number) => number,
  hooks: Hooks,
  afterBatch?: () => void,
): Promise<void> {
  await model.fit(x, y, {
    epochs,
    batchSize: 32,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onBatchEnd: async () => {
        afterBatch?.();
        if (hooks.isCancelled?.()) model.stopTraining = true;
      },
      onEpochEnd: async (epoch, logs) => hooks.progress?.({ stage, fraction: fraction(epoch + 1), epoch: epoch + 1, loss: logs?.loss }),
    },
  });
}

/** Saves a variant as a TF.js model in `out` with its report beside it as `reportName`, and says `stage` is done. */
export async function saveVariant<R>(model: tfl.LayersModel, out: string, reportName: string, report: R, stage: string, hooks: Hooks): Promise<R> {
  await saveLayersModel(model, out);
  writeFileSync(join(out, reportName), JSON.stringify(report, null, 2) + '\n');
  hooks.progress?.({ stage, fraction: 1 });
  return report;
}

export async function compressModel(checkpoint: string, dataPath: string, outDir: string, opts: CompressOptions = {}, hooks: Hooks = {}): Promise<CompressReport> {
  const t0 = performance.now();
  const sparsity = opts.sparsity ?? 0.5;
  const epochs = opts.epochs ?? 3;
  const convBits = opts.convBits ?? 8;
  const denseBits = opts.denseBits ?? 5;
  if (!(sparsity >= 0 && sparsity < 1)) throw new BadInputError(`--sparsity must be in [0, 1), got ${sparsity}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new BadInputError(`--epochs must be a non-negative integer, got ${epochs}`);
  const data = loadDataset(dataPath);
  const model = await loadTrainable(checkpoint);
  const tensors: tf.Tensor[] = [];
  // Passed in as an instance, the optimizer is not the model's to dispose.
  const optimizer = tf.train.adam(opts.learningRate ?? 5e-4);
  try {
    checkData(model, data);
    const original = await testAccuracy(model, data.test);
    const kernels = prunableKernels(model);
    if (kernels.length === 0) throw new BadInputError(`${checkpoint}: no conv or dense kernels to prune`);
    hooks.progress?.({ stage: 'prune', fraction: 0.05 });
    const masks: tf.Tensor[] = [];
    for (const k of kernels) {
      const m = tf.tensor(magnitudeMask((await k.kernel.read().data()) as Float32Array, sparsity), k.kernel.shape as number[]);
      tensors.push(m);
      masks.push(m);
    }
    // write() assigns by reference to the new value's data, so the temporary can go in the same tidy.
    const applyMasks = () => kernels.forEach((k, i) => tf.tidy(() => void k.kernel.write(tf.mul(k.kernel.read(), masks[i]))));
    applyMasks();
    const pruned = await testAccuracy(model, data.test);

    const { x, y, n } = trainingTensors(data.train, Math.max(data.numClasses, model.outputs[0].shape[1] ?? data.numClasses), opts.maxSamples ?? 5000, opts.seed ?? 0);
    tensors.push(x, y);
    if (epochs > 0) {
      model.compile({ optimizer, loss: taskLossFn(model) });
      // Pruned weights get gradients too; putting the mask back after every step keeps them at zero.
      await fitWithHooks(model, x, y, epochs, 'retrain', (done) => 0.1 + (0.8 * done) / epochs, hooks, applyMasks);
      applyMasks();
    }
    const retrained = await testAccuracy(model, data.test);

    const layers: CompressReport['layers'] = [];
    for (const k of kernels) {
      const bits = k.kind === 'conv' ? convBits : denseBits;
      const q = quantize((await k.kernel.read().data()) as Float32Array, bits);
      tf.tidy(() => void k.kernel.write(tf.tensor(q, k.kernel.shape as number[])));
      layers.push({ layer: k.layer.name, kind: k.kind, zeros: q.filter((v) => v === 0).length / q.length, distinct: distinct(q), bits });
    }
    const quantized = await testAccuracy(model, data.test);
    const out = resolve(outDir);
    const report: CompressReport = {
      checkpoint: resolve(checkpoint),
      out,
      sparsity,
      convBits,
      denseBits,
      epochs,
      samples: n,
      testAccuracy: { original, pruned, retrained, quantized },
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
