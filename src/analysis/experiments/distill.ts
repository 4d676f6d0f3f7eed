/**
 * `feature-complexity distill` (METHOD.md §7, paper Exp. 5 and Appendix G): a student trunk is
 * trained with MSE to mimic the original's target feature f(x); the distilled model is that trunk
 * followed by the original's head, reused as it is (frozen, not fine-tuned on labels), so that
 * the only thing that differs from the original is how the target feature is computed.
 *
 * Student trunk: as in the paper ("the distilled DNN had the same architecture with the
 * disentangler net with 7 ReLU layers"), the disentangler Φ⁽⁷⁾ of disentangler.ts — a 3×3 input
 * conv, three stages holding 2, 2 and 3 residual blocks h ← h + conv3×3(ReLU(h)) (7 ReLU layers),
 * the stage strides that take the input's H×W to the feature's, a 1×1 conv to the feature's
 * channels — trained from a random start by the disentanglers' own trainer (train.ts: Adam,
 * log-spaced learning rate, the budget's early stop, the closed-form refit of the output scale),
 * on the training samples. It is then written out as tfjs-layers layers (Disentangler.toLayers)
 * between a 1×1 conv that standardises the input and the output conv with the feature's scale and
 * per-channel mean folded in, so the saved model computes exactly the trained Φ⁽⁷⁾ and then the
 * head. The student can be deeper than a small original (the demo CNN has 2 ReLU layers): it is
 * the paper's student, not "a shallower net".
 */
import { resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf/backend';
import { budgetSpec, type BudgetSpec } from '../pipeline/budget';
import { loadDataset, type Split } from '../data/dataset';
import { Rng } from '../util/random';
import { blocksPerStage, stageStrides } from '../pipeline/disentangler';
import { BadInputError, CancelledError } from '../util/errors';
import { checkData, loadTrainable, saveVariant, testAccuracy } from './compress';
import type { Budget } from '../../shared/engineProtocol';
import { cutModel, defaultTargetLayer } from '../teacher/teacher';
import { fitStandardizer, predictSet, trainOrders, type FeatureSet, type Hooks, type Standardizer } from '../pipeline/train';

type T = tfl.SymbolicTensor;

/** ReLU layers of the paper's distilled DNN (Exp. 5, footnote 3; Appendix G). */
export const STUDENT_ORDER = 7;
/** Channels of the student's convs. */
export const STUDENT_WIDTH = 16;

export interface DistillOptions {
  layer?: string;
  /** ReLU blocks of the student disentangler. Default STUDENT_ORDER = 7. */
  order?: number;
  /** Channels of the student's convs. Default STUDENT_WIDTH = 16. */
  width?: number;
  /** Training budget of the student (budget.ts). Default 'standard'. */
  budget?: Budget;
  /** Most epochs (of the budget's samples per epoch); overrides the budget's maximum. */
  epochs?: number;
  /** Most training samples whose features the student mimics (a seeded choice). Default 5000. */
  maxSamples?: number;
  seed?: number;
}

export interface DistillReport {
  checkpoint: string;
  out: string;
  targetLayer: string;
  /** The student's feature layer: analyse the distilled model at it (it is also its default layer when the head starts with a flatten or pooling). */
  studentLayer: string;
  head: 'original, frozen';
  /** The student trunk: the disentangler of `order` ReLU blocks, `width` channels, `blocks` per stage, `strides` per stage (H, W). */
  student: { architecture: 'disentangler'; order: number; width: number; blocks: number[]; strides: [number, number][] };
  convLayers: { original: number; student: number };
  /** Layers with a ReLU activation: the depth the paper's "7 ReLU layers" counts. */
  reluLayers: { original: number; student: number };
  params: { original: number; student: number };
  /** 1 − MSE / Var[f] of the student's feature on the training samples it mimicked. */
  featureFit: number;
  /** The same on the test split. */
  featureFitTest: number;
  testAccuracy: { original: number; distilled: number };
  budget: Budget;
  epochs: number;
  converged: boolean;
  samples: number;
  seconds: number;
}

function countRelus(model: tfl.LayersModel): number {
  return model.layers.filter((l) => l.getClassName() === 'ReLU' || (l.getConfig() as { activation?: string }).activation === 'relu').length;
}

function countConvs(model: tfl.LayersModel): number {
  return model.layers.filter((l) => /^(Conv|DepthwiseConv|SeparableConv)/.test(l.getClassName())).length;
}

/** The stage strides (per stage, H and W) of a disentangler from `input` to `target`; a size no schedule reaches is a bad layer choice. */
export function studentStrides(input: [number, number], target: [number, number]): [number, number][] {
  try {
    const sh = stageStrides(input[0], target[0]);
    const sw = stageStrides(input[1], target[1]);
    return sh.map((s, i) => [s, sw[i]]);
  } catch (e) {
    throw new BadInputError(`the student cannot reach the feature's size: ${e instanceof Error ? e.message : String(e)}; pick another layer`);
  }
}

/** Features of every sample of `split` (or the first `max` of a seeded order) under `trunk`, as a FeatureSet. */
async function featureSetOf(trunk: tfl.LayersModel, split: Split, featureShape: [number, number, number], max: number, seed: number): Promise<FeatureSet> {
  const n = Math.min(max, split.count);
  const indices = n === split.count ? Int32Array.from({ length: n }, (_, i) => i) : new Rng(seed).choose(split.count, n);
  const features = await predictSet({ apply: (x) => trunk.predict(x) as tf.Tensor4D }, { split, indices, features: new Float32Array(0), featureShape });
  return { split, indices, features, featureShape };
}

/**
 * The standardiser train.ts fits, with the output mean per channel instead of per position: a
 * per-channel shift folds exactly into the output conv's bias, a per-position one into no layer.
 */
export function channelStandardizer(set: FeatureSet): Standardizer {
  const s = fitStandardizer(set);
  const c = set.featureShape[2];
  const sums = new Float64Array(c);
  for (let d = 0; d < s.outMean.length; d++) sums[d % c] += s.outMean[d];
  const perPosition = s.outMean.length / c;
  return { ...s, outMean: Float32Array.from(s.outMean, (_, d) => sums[d % c] / perPosition) };
}

/** 1 − Σ(f − g)² / Σ(f − mean f)² over samples and dimensions. */
function fitOf(f: Float32Array, g: Float32Array, dim: number): number {
  const n = f.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < f.length; i++) mean[i % dim] += f[i] / n;
  let err = 0;
  let v = 0;
  for (let i = 0; i < f.length; i++) {
    err += (f[i] - g[i]) ** 2;
    v += (f[i] - mean[i % dim]) ** 2;
  }
  return v > 0 ? 1 - err / v : 0;
}

export async function distillModel(checkpoint: string, dataPath: string, outDir: string, opts: DistillOptions = {}, hooks: Hooks = {}): Promise<DistillReport> {
  const t0 = performance.now();
  const order = opts.order ?? STUDENT_ORDER;
  const width = opts.width ?? STUDENT_WIDTH;
  const seed = opts.seed ?? 0;
  const budgetName = opts.budget ?? 'standard';
  const base = budgetSpec(budgetName);
  const budget: BudgetSpec = opts.epochs !== undefined ? { ...base, maxEpochs: opts.epochs, minEpochs: Math.min(base.minEpochs, opts.epochs) } : base;
  if (!Number.isInteger(order) || order < 0) throw new BadInputError(`the student's order must be a non-negative integer, got ${order}`);
  const data = loadDataset(dataPath);
  const original = await loadTrainable(checkpoint);
  const layer = opts.layer ?? defaultTargetLayer(original);
  const cut = cutModel(original, layer);
  let student: tfl.LayersModel | undefined;
  let trunk: tfl.LayersModel | undefined;
  try {
    checkData(original, data);
    if (cut.featureShape.length !== 3)
      throw new BadInputError(`layer '${layer}' outputs shape [${cut.featureShape.join(', ')}]; the student mimics an H×W×C feature map`);
    const inputShape = original.inputs[0].shape.slice(1) as [number, number, number];
    const featureShape = cut.featureShape as [number, number, number];
    const strides = studentStrides([inputShape[0], inputShape[1]], [featureShape[0], featureShape[1]]);

    hooks.progress?.({ stage: 'distill: teacher features', fraction: 0 });
    const train = await featureSetOf(cut.trunk, data.train, featureShape, opts.maxSamples ?? 5000, seed);
    const test = await featureSetOf(cut.trunk, data.test, featureShape, data.test.count, seed);
    const dim = featureShape[0] * featureShape[1] * featureShape[2];
    // The stopping test watches held-out training samples, as for the disentanglers.
    const nMon = Math.min(budget.monitorSamples, train.indices.length);
    const monitor: FeatureSet = { ...train, indices: train.indices.slice(0, nMon), features: train.features.slice(0, nMon * dim) };
    const std = channelStandardizer(train);
    const res = await trainOrders(
      { train, monitor, inputShape, orders: [order], width, budget, seed, standardizer: std, offsets: 'channel', span: [0.05, 0.9] },
      { ...hooks, progress: (p) => hooks.progress?.({ ...p, stage: 'distill' }) },
    );
    if (!res.complete) throw new CancelledError();
    const trained = res.orders[0];
    const net = trained.phi.net;
    try {
      const featureFit = fitOf(train.features, await predictSet(trained.phi, train), dim);
      const featureFitTest = fitOf(test.features, await predictSet(trained.phi, test), dim);

      // Φ⁽⁷⁾ in f's units as layers: standardise x (a 1×1 conv, exact: no padding at 1×1), the
      // disentangler, then the output conv rescaled and shifted by the per-channel mean.
      const [, , cin] = inputShape;
      const input = tfl.input({ shape: inputShape, name: 'image' });
      const standardize = tfl.layers.conv2d({ filters: cin, kernelSize: 1, useBias: true, name: 'student_standardize' });
      const xs = standardize.apply(input) as T;
      const stdWeights = tf.tidy(() => {
        const diag = new Float32Array(cin * cin);
        for (let k = 0; k < cin; k++) diag[k * cin + k] = 1 / std.inStd[k];
        return [tf.tensor4d(diag, [1, 1, cin, cin]), tf.tensor1d(Array.from(std.inMean, (m, k) => -m / std.inStd[k]))];
      });
      standardize.setWeights(stdWeights);
      tf.dispose(stdWeights);
      const studentLayer = 'student_feature';
      const feature = net.toLayers(xs, 'student_', studentLayer);
      trunk = tfl.model({ inputs: input, outputs: feature, name: 'student_trunk' });
      const outConv = trunk.getLayer(studentLayer);
      // getWeights() hands out the layer's own variables: read, not disposed.
      const [k, b] = outConv.getWeights();
      const c = featureShape[2];
      const outWeights = tf.tidy(() => [tf.mul(k, std.outScale), tf.add(tf.mul(b, std.outScale), tf.tensor1d(std.outMean.subarray(0, c)))]);
      outConv.setWeights(outWeights);
      tf.dispose(outWeights);

      // The head's layers on the student's feature: a chain is re-applied layer by layer (so the
      // distilled model's layers are flat and its default layer is the student's feature); any
      // other head topology is applied as one nested model.
      const headLayers = cut.head.layers.filter((l) => l.getClassName() !== 'InputLayer');
      const chain = headLayers.every((l) => l.inboundNodes.length >= 1 && l.inboundNodes[l.inboundNodes.length - 1].inboundLayers.length === 1);
      let out: T = feature;
      if (chain) for (const l of headLayers) out = l.apply(out) as T;
      else out = cut.head.apply(feature) as T;
      student = tfl.model({ inputs: input, outputs: out, name: 'distilled' });
      const accuracy = { original: await testAccuracy(original, data.test), distilled: await testAccuracy(student, data.test) };
      const o = resolve(outDir);
      const report: DistillReport = {
        checkpoint: resolve(checkpoint),
        out: o,
        targetLayer: layer,
        studentLayer,
        head: 'original, frozen',
        student: { architecture: 'disentangler', order, width, blocks: blocksPerStage(order), strides },
        convLayers: { original: countConvs(original), student: countConvs(student) },
        reluLayers: { original: countRelus(original), student: countRelus(student) },
        params: { original: original.countParams(), student: student.countParams() },
        featureFit,
        featureFitTest,
        testAccuracy: accuracy,
        budget: budgetName,
        epochs: trained.epochs,
        converged: trained.converged,
        samples: train.indices.length,
        seconds: (performance.now() - t0) / 1000,
      };
      return await saveVariant(student, o, 'distill.json', report, 'distilled', hooks);
    } finally {
      net.dispose();
    }
  } finally {
    // The student shares the head's layers with the original: disposing the original releases them once all holders are gone.
    original.dispose();
    cut.head.dispose();
    if (student) {
      try {
        student.dispose();
      } catch {
        // Layers shared with the original may already be gone; nothing else is held.
      }
    } else if (trunk) {
      trunk.dispose();
    }
  }
}
