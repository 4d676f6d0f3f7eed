/**
 * `feature-complexity distill` (METHOD.md §7, paper Exp. 5): a shallower student trunk is trained
 * with MSE to mimic the original's target feature f(x); the distilled model is that trunk
 * followed by the original's head, reused as it is (frozen, not fine-tuned on labels), so that
 * the only thing that differs from the original is how the target feature is computed.
 *
 * Student trunk: a single nonlinear layer, one conv (ReLU, `width` channels) whose stride is
 * the whole downsampling from the input to the feature's H×W and whose kernel (2·stride + 1)
 * sees about as far as the original's stack, then a linear 1×1 conv to the feature's channels
 * (no ReLU on it even for a ReLU feature: a channel whose ReLU starts dead would get no gradient
 * and stay at zero). One ReLU layer is shallower than any original with two or more; for the
 * zoo's 28×28 → 7×7 teachers: a 9×9 stride-4 conv + 1×1, against 2–3 conv blocks with pooling.
 */
import { resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from './backend';
import { loadDataset } from './data/dataset';
import { BadInputError } from './errors';
import { checkData, fitWithHooks, loadTrainable, saveVariant, testAccuracy, trainingTensors } from './compress';
import { cutModel, defaultTargetLayer } from './teacher';
import type { Hooks } from './train';

type T = tfl.SymbolicTensor;

export interface DistillOptions {
  layer?: string;
  /** Channels of the student's conv. Default 16. */
  width?: number;
  /** Kernel size of the student's conv. Default 2·stride + 1 (at least 3). */
  kernelSize?: number;
  /** Feature-mimicking epochs. Default 16. */
  epochs?: number;
  maxSamples?: number;
  learningRate?: number;
  seed?: number;
}

export interface DistillReport {
  checkpoint: string;
  out: string;
  targetLayer: string;
  /** The student's feature layer: analyse the distilled model at it (it is also its default layer when the head starts with a flatten or pooling). */
  studentLayer: string;
  head: 'original, frozen';
  convLayers: { original: number; student: number };
  /** Layers with a ReLU activation: the depth that "shallower" is about. */
  reluLayers: { original: number; student: number };
  params: { original: number; student: number };
  /** 1 − MSE / Var[f] of the student's feature on the training samples. */
  featureFit: number;
  testAccuracy: { original: number; distilled: number };
  epochs: number;
  samples: number;
  seconds: number;
}

/** The student conv's stride: the input size over the feature size, which must divide it. */
export function studentStride(input: number, target: number): number {
  if (target < 1 || input % target !== 0) throw new BadInputError(`the student reaches the feature's size with one strided conv; ${input} → ${target} is not an integer ratio (pick a layer whose size divides the input's)`);
  return input / target;
}

function countRelus(model: tfl.LayersModel): number {
  return model.layers.filter((l) => l.getClassName() === 'ReLU' || (l.getConfig() as { activation?: string }).activation === 'relu').length;
}

function countConvs(model: tfl.LayersModel): number {
  return model.layers.filter((l) => /^(Conv|DepthwiseConv|SeparableConv)/.test(l.getClassName())).length;
}

export async function distillModel(checkpoint: string, dataPath: string, outDir: string, opts: DistillOptions = {}, hooks: Hooks = {}): Promise<DistillReport> {
  const t0 = performance.now();
  const epochs = opts.epochs ?? 16;
  const width = opts.width ?? 16;
  const seed = opts.seed ?? 0;
  const data = loadDataset(dataPath);
  const original = await loadTrainable(checkpoint);
  const layer = opts.layer ?? defaultTargetLayer(original);
  const cut = cutModel(original, layer);
  const tensors: tf.Tensor[] = [];
  let student: tfl.LayersModel | undefined;
  let trunk: tfl.LayersModel | undefined;
  const optimizer = tf.train.adam(opts.learningRate ?? 2e-3);
  try {
    checkData(original, data);
    const [ih, iw, ic] = original.inputs[0].shape.slice(1) as number[];
    const [fh, fw, fc] = cut.featureShape;
    const strides: [number, number] = [studentStride(ih, fh), studentStride(iw, fw)];
    const { x, n } = trainingTensors(data.train, data.numClasses, opts.maxSamples ?? 5000, seed);
    tensors.push(x);
    const f = tf.tidy(() => cut.trunk.predict(x, { batchSize: 256 }) as tf.Tensor4D);
    tensors.push(f);
    const varF = tf.tidy(() => tf.mean(tf.moments(f, 0).variance));
    const varianceF = (await varF.data())[0];
    varF.dispose();

    // Student trunk + the original head's layers re-applied (weights shared, then saved as one model).
    const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 100 + k });
    const input = tfl.input({ shape: [ih, iw, ic], name: 'image' });
    let h: T = input;
    const kernel = opts.kernelSize ?? Math.max(3, 2 * Math.max(...strides) + 1);
    h = tfl.layers.conv2d({ filters: width, kernelSize: kernel, strides, padding: 'same', activation: 'relu', kernelInitializer: init(0), name: 'student_conv' }).apply(h) as T;
    const studentLayer = 'student_feature';
    const feature = tfl.layers.conv2d({ filters: fc, kernelSize: 1, activation: 'linear', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 99 }), name: studentLayer }).apply(h) as T;
    trunk = tfl.model({ inputs: input, outputs: feature, name: 'student_trunk' });
    const studentTrunk = trunk;
    const fs = feature.shape.slice(1);
    if (fs[0] !== fh || fs[1] !== fw) throw new BadInputError(`the student's feature is ${fs.join('×')}, the target's ${fh}×${fw}×${fc} (padding of the original differs); pick another layer`);

    trunk.compile({ optimizer, loss: 'meanSquaredError' });
    await fitWithHooks(trunk, x, f, epochs, 'distill', (done) => (0.9 * done) / epochs, hooks);
    const mse = tf.tidy(() => tf.mean(tf.squaredDifference(studentTrunk.predict(x, { batchSize: 256 }) as tf.Tensor, f)));
    const featureFit = 1 - (await mse.data())[0] / varianceF;
    mse.dispose();

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
    const params = { original: original.countParams(), student: student.countParams() };
    const report: DistillReport = {
      checkpoint: resolve(checkpoint),
      out: o,
      targetLayer: layer,
      studentLayer,
      head: 'original, frozen',
      convLayers: { original: countConvs(original), student: countConvs(student) },
      reluLayers: { original: countRelus(original), student: countRelus(student) },
      params,
      featureFit,
      testAccuracy: accuracy,
      epochs,
      samples: n,
      seconds: (performance.now() - t0) / 1000,
    };
    return await saveVariant(student, o, 'distill.json', report, 'distilled', hooks);
  } finally {
    tf.dispose(tensors);
    optimizer.dispose();
    // The student shares the head's layers with the original: disposing the original releases them once all holders are gone.
    original.dispose();
    cut.head.dispose();
    if (student) {
      try {
        student.dispose();
      } catch {
        // Layers shared with the original may already be gone; nothing else is held.
      }
    }
  }
}
