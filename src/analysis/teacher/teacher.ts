/**
 * The teacher: a trained TF.js LayersModel read from disk (model.json + weight shards, no
 * network, no tfjs-node), cut at the target layer into a trunk (input → target layer) and a
 * head (target layer → output). The head takes any tensor shaped like the target feature,
 * so later metrics can feed it Φ⁽ˡ⁾(x) or coalitions of components.
 */
import { resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import type { LayerInfo, ListLayersParams, ListLayersResponse } from '../../shared/engineProtocol';
import { gatherImages, loadDataset, type Dataset, type Split } from '../data/dataset';
import { detectCheckpointFormat, type CheckpointFormat, type TeacherRuntime } from './teacherSource';
import { loadKerasModel } from './keras';
import { loadGraphTeacher } from './tfjsGraph';
import { loadOnnxTeacher } from './onnx';
import { exportTorchToOnnx, type TorchExportOptions } from './pytorch';
import { checkpointHash, fileLoadHandler, fileSaveHandler, modelJsonPath } from './tfjsFiles';

type SymbolicTensor = tfl.SymbolicTensor;

export async function loadLayersModel(checkpoint: string): Promise<tfl.LayersModel> {
  const path = modelJsonPath(checkpoint);
  try {
    return await tfl.loadLayersModel(fileLoadHandler(path));
  } catch (e) {
    if (e instanceof BadInputError) throw e;
    throw new BadInputError(`${path}: cannot build the model (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
}

export async function saveLayersModel(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(fileSaveHandler(dir));
}

function shapeOf(layer: tfl.layers.Layer): (number | null)[] {
  try {
    const s = layer.outputShape;
    return (Array.isArray(s[0]) || s[0] === undefined ? ((s[0] as (number | null)[]) ?? []) : (s as (number | null)[])).slice();
  } catch {
    return [];
  }
}

export function listLayers(model: tfl.LayersModel): LayerInfo[] {
  return model.layers.map((l) => ({ name: l.name, className: l.getClassName(), outputShape: shapeOf(l) }));
}

const POOL_OR_FLATTEN = new Set(['Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'GlobalAveragePooling1D', 'GlobalMaxPooling1D', 'Reshape']);

/**
 * The output of the last convolutional block: the 4-d layer that feeds the first global
 * pooling / flatten; without one, the last layer with a 4-d (N×H×W×C) output.
 */
export function defaultTargetLayer(model: tfl.LayersModel): string {
  for (const layer of model.layers) {
    if (!POOL_OR_FLATTEN.has(layer.getClassName())) continue;
    const node = layer.inboundNodes[0];
    const src = node?.inboundLayers[0];
    if (src && shapeOf(src).length === 4 && src.getClassName() !== 'InputLayer') return src.name;
  }
  const fourD = model.layers.filter((l) => l.getClassName() !== 'InputLayer' && shapeOf(l).length === 4);
  if (fourD.length === 0) throw new BadInputError('the model has no layer with a 4-d (N×H×W×C) output to analyse; pass --layer');
  return fourD[fourD.length - 1].name;
}

export interface CutModel {
  trunk: tfl.LayersModel;
  head: tfl.LayersModel;
  /** Target feature shape without the batch: [H, W, C]. */
  featureShape: number[];
}

/**
 * Cuts `model` at `layerName`. The head is rebuilt by re-applying, on a new input, every
 * layer between the target layer and the outputs (weights shared with the model). A layer
 * that does not separate the network (a skip connection jumps over it) is refused.
 */
export function cutModel(model: tfl.LayersModel, layerName: string): CutModel {
  const names = model.layers.map((l) => l.name);
  const layer = model.layers.find((l) => l.name === layerName);
  if (!layer) throw new BadInputError(`no layer named '${layerName}'; valid names: ${names.join(', ')}`);
  if (layer.getClassName() === 'InputLayer')
    throw new BadInputError(`'${layerName}' is the input layer; pick a layer inside the network (${names.join(', ')})`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new BadInputError('only models with one input and one output can be cut');
  // Node 0 is the call made when the model was built; later heads add nodes of their own.
  const target = layer.inboundNodes[0].outputTensors[0];
  const featureShape = target.shape.slice(1) as number[];
  const trunk = tfl.model({ inputs: model.inputs, outputs: target, name: `trunk_${layerName}` });

  const headInput = tfl.input({ shape: featureShape, name: `feature_${layerName}` });
  const memo = new Map<number, SymbolicTensor>([[target.id, headInput]]);
  const rebuild = (t: SymbolicTensor): SymbolicTensor => {
    const hit = memo.get(t.id);
    if (hit) return hit;
    const src = t.sourceLayer as tfl.layers.Layer;
    if (src.getClassName() === 'InputLayer') {
      throw new BadInputError(`layer '${layerName}' does not separate the network (a path from the input reaches the output around it); pick another layer`);
    }
    const node = src.inboundNodes[t.nodeIndex];
    const ins = node.inputTensors.map(rebuild);
    const out = src.apply(ins.length === 1 ? ins[0] : ins) as SymbolicTensor | SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((o, i) => memo.set(o.id, outs[i]));
    return outs[t.tensorIndex];
  };
  const headOut = rebuild(model.outputs[0]);
  const head = tfl.model({ inputs: headInput, outputs: headOut, name: `head_${layerName}` });
  return { trunk, head, featureShape };
}

/** True when the model ends in a softmax (outputs are probabilities), false for logits. */
export function outputsProbabilities(model: tfl.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const cfg = last.getConfig() as { activation?: string };
  return cfg.activation === 'softmax' || last.getClassName() === 'Softmax';
}

/** Mean cross-entropy and accuracy of `output` (probabilities or logits) against `labels`. */
export function taskLoss(output: tf.Tensor2D, labels: tf.Tensor1D, probabilities: boolean): { loss: tf.Scalar; accuracy: tf.Scalar } {
  return tf.tidy(() => {
    const logp = probabilities ? tf.log(tf.clipByValue(output, 1e-7, 1)) : tf.logSoftmax(output);
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), output.shape[1]);
    const loss = tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), 1)));
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(output, 1), tf.cast(labels, 'int32')), 'float32'));
    return { loss: loss as tf.Scalar, accuracy: accuracy as tf.Scalar };
  });
}

/**
 * A loaded teacher of any format: run it with `runTrunk`, `runHead`, `runModel` (NHWC in, tfjs
 * tensors out). `model`, `trunk` and `head` are there only when the teacher is a TF.js
 * LayersModel (TF.js layers, Keras); ONNX, PyTorch and TF.js graph teachers run elsewhere.
 */
export interface Teacher extends TeacherRuntime {
  checkpoint: string;
  hash: string;
  model?: tfl.LayersModel;
  trunk?: tfl.LayersModel;
  head?: tfl.LayersModel;
}

export interface TeacherOptions extends TorchExportOptions {
  /** Target layer (exemplars: otherwise the default layer, or the last one with the target's H×W). */
  layer?: string;
  /** NHWC [H, W, C] of the data: fills input dims that an ONNX model leaves symbolic. */
  inputShape?: number[];
}

/** A TF.js LayersModel cut at `layer`, as a teacher runtime. */
export function layersTeacher(model: tfl.LayersModel, format: CheckpointFormat, layer?: string): TeacherRuntime & CutModel & { model: tfl.LayersModel } {
  const inputShape = (model.inputs[0].shape.slice(1) as (number | null)[]).map((d) => d ?? -1);
  if (inputShape.length !== 3 || inputShape.some((d) => d < 1)) {
    throw new BadInputError(`the model's input shape is [${model.inputs[0].shape.join(', ')}]; an image model with a fixed N×H×W×C input is needed`);
  }
  const targetLayer = layer ?? defaultTargetLayer(model);
  const cut = cutModel(model, targetLayer);
  if (cut.featureShape.length !== 3)
    throw new BadInputError(`layer '${targetLayer}' outputs shape [${cut.featureShape.join(', ')}]; the disentangler needs an H×W×C feature map`);
  return {
    ...cut,
    model,
    format,
    layout: 'NHWC',
    targetLayer,
    layers: listLayers(model),
    inputShape,
    probabilities: outputsProbabilities(model),
    runTrunk: async (x) => tf.tidy(() => cut.trunk.predict(x) as tf.Tensor4D),
    runHead: async (f) => tf.tidy(() => cut.head.predict(f) as tf.Tensor2D),
    runModel: async (x) => tf.tidy(() => model.predict(x) as tf.Tensor2D),
    dispose: async () => {
      // Building the head re-applied the layers after the cut, which counted one more reference
      // to each of them; the trunk only reuses the model's own graph and holds none.
      model.dispose();
      cut.head.dispose();
    },
  };
}

/**
 * Loads a checkpoint of any supported format (told by detectCheckpointFormat) and cuts it at
 * `layer` (default: the output of the last convolutional block).
 */
export async function loadTeacher(checkpoint: string, layer?: string, opts: TeacherOptions = {}): Promise<Teacher> {
  const format = detectCheckpointFormat(checkpoint);
  let runtime: TeacherRuntime;
  switch (format) {
    case 'tfjs-layers':
      runtime = layersTeacher(await loadLayersModel(checkpoint), format, layer);
      break;
    case 'keras-h5':
    case 'keras':
      runtime = layersTeacher(await loadKerasModel(checkpoint), format, layer);
      break;
    case 'tfjs-graph':
      runtime = await loadGraphTeacher(modelJsonPath(checkpoint), layer);
      break;
    case 'onnx':
      runtime = await loadOnnxTeacher(checkpoint, layer, opts);
      break;
    case 'pytorch': {
      const onnxPath = await exportTorchToOnnx(checkpoint, { ...opts, inputShape: opts.inputShape });
      runtime = { ...(await loadOnnxTeacher(onnxPath, layer, opts)), format };
      break;
    }
  }
  return { ...runtime, checkpoint: resolve(checkpoint), hash: checkpointHash(checkpoint) };
}

/**
 * Loads an exemplar network (any format) for the reliability analysis: it must take the
 * target's images, and its feature must have the target feature's spatial size (the
 * reliability heads are 1×1 convolutions; channels may differ). Its default layer is used when
 * it fits, else its last layer with the target's H×W; no such layer is a BadInputError naming it.
 */
export async function loadExemplar(checkpoint: string, target: Teacher, opts: TeacherOptions = {}): Promise<Teacher> {
  const [th, tw] = target.featureShape;
  let ex = await loadTeacher(checkpoint, opts.layer, { ...opts, inputShape: target.inputShape });
  const refuse = async (msg: string): Promise<never> => {
    await ex.dispose();
    throw new BadInputError(`exemplar ${checkpoint}: ${msg}`);
  };
  if (ex.inputShape.join(',') !== target.inputShape.join(',')) {
    await refuse(`takes ${ex.inputShape.join('×')} images, the target model ${target.inputShape.join('×')}; exemplars must be trained on the same data`);
  }
  if (ex.featureShape[0] === th && ex.featureShape[1] === tw) return ex;
  if (opts.layer)
    await refuse(
      `its feature at '${ex.targetLayer}' is ${ex.featureShape.join('×')}, the target's is ${target.featureShape.join('×')}; the reliability heads need the same H×W`,
    );
  // Layer shapes are listed in the checkpoint's own layout: [N, C, H, W] for NCHW checkpoints.
  const hw = (s: (number | null)[]) => (ex.layout === 'NCHW' ? [s[2], s[3]] : [s[1], s[2]]);
  const fits = ex.layers.filter((l) => l.outputShape.length === 4 && hw(l.outputShape).join(',') === `${th},${tw}` && l.name !== ex.layers[0]?.name);
  for (const cand of fits.reverse()) {
    try {
      const other = await loadTeacher(checkpoint, cand.name, { ...opts, inputShape: target.inputShape });
      if (other.featureShape[0] === th && other.featureShape[1] === tw) {
        await ex.dispose();
        ex = other;
        return ex;
      }
      await other.dispose();
    } catch (e) {
      if (!(e instanceof BadInputError)) throw e;
    }
  }
  return refuse(
    `its feature at '${ex.targetLayer}' is ${ex.featureShape.join('×')} and no layer of it has the target feature's ${th}×${tw} positions; the reliability heads are 1×1 convolutions and need the same H×W`,
  );
}

/**
 * Refuses a dataset that does not fit the teacher: image size and channels, and labels beyond
 * the model's number of outputs (found by running it on one sample); NaN or Inf outputs mean
 * broken weights.
 */
export async function checkTeacherFits(teacher: Teacher, data: Dataset): Promise<void> {
  checkInputShape(teacher, data.train);
  checkInputShape(teacher, data.test);
  const { height, width, channels } = data.train;
  const x = tf.tensor4d(data.train.images.subarray(0, height * width * channels), [1, height, width, channels]);
  const y = await teacher.runModel(x);
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  if (out.some((v) => !Number.isFinite(v)))
    throw new BadInputError(`${teacher.checkpoint}: the model outputs NaN or Inf on the first training image (weights or data not finite)`);
  if (data.numClasses > out.length) {
    throw new BadInputError(
      `${data.path}: labels go up to ${data.numClasses - 1}, but ${teacher.checkpoint} has ${out.length} outputs; the dataset does not fit the model`,
    );
  }
}

/** Refuses a dataset whose images are not what the teacher expects. */
export function checkInputShape(teacher: Teacher, split: Split): void {
  const [h, w, c] = teacher.inputShape;
  if (split.height !== h || split.width !== w || split.channels !== c) {
    throw new BadInputError(`the model expects ${h}×${w}×${c} images, the dataset has ${split.height}×${split.width}×${split.channels}`);
  }
}

/** Runs `fn` (a teacher's runTrunk/runHead/runModel, or any tensor function) over the samples
 *  `indices` of `split` in batches and concatenates the flat outputs. */
export async function mapBatchesAsync(
  split: Split,
  indices: Int32Array,
  batch: number,
  fn: (x: tf.Tensor4D) => tf.Tensor | Promise<tf.Tensor>,
): Promise<{ data: Float32Array; size: number }> {
  let out: Float32Array | undefined;
  let size = 0;
  for (let s = 0; s < indices.length; s += batch) {
    const n = Math.min(batch, indices.length - s);
    const x = gatherImages(split, indices.subarray(s, s + n));
    const y = await fn(x);
    const data = (await y.data()) as Float32Array;
    if (!out) {
      size = data.length / n;
      out = new Float32Array(indices.length * size);
    }
    out.set(data, s * size);
    tf.dispose([x, y]);
  }
  return { data: out ?? new Float32Array(0), size };
}

export interface TeacherStats {
  accuracy: number;
  loss: number;
}

/** The teacher's accuracy and cross-entropy on `split` restricted to `indices`. */
export async function teacherStats(teacher: Teacher, split: Split, indices: Int32Array, batch = 256): Promise<TeacherStats> {
  const { data, size } = await mapBatchesAsync(split, indices, batch, (x) => teacher.runModel(x));
  const labels = Int32Array.from(indices, (i) => split.labels[i]);
  return scoreOutputs(data, size, labels, teacher.probabilities);
}

/** Accuracy and mean cross-entropy of flat outputs (N × classes). */
export async function scoreOutputs(outputs: Float32Array, classes: number, labels: Int32Array, probabilities: boolean): Promise<TeacherStats> {
  const t = tf.tensor2d(outputs, [labels.length, classes]);
  const l = tf.tensor1d(labels, 'int32');
  const { loss, accuracy } = taskLoss(t, l, probabilities);
  try {
    // Asynchronous reads only: the webgpu backend has no synchronous ones in Node.
    return { loss: (await loss.data())[0], accuracy: (await accuracy.data())[0] };
  } finally {
    tf.dispose([t, l, loss, accuracy]);
  }
}

/** Layers of a checkpoint and its default target layer; the dataset, when given, sizes inputs that the checkpoint leaves open. */
export async function checkpointLayers(params: ListLayersParams): Promise<ListLayersResponse> {
  let inputShape: number[] | undefined;
  if (params.data) {
    const { train } = loadDataset(params.data);
    inputShape = [train.height, train.width, train.channels];
  }
  const teacher = await loadTeacher(params.checkpoint, undefined, { inputShape, python: params.python, modelClass: params.modelClass });
  try {
    return { layers: teacher.layers, defaultLayer: teacher.targetLayer };
  } finally {
    await teacher.dispose();
  }
}
