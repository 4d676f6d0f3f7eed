/**
 * TF.js graph models (`model.json` with `format: graph-model`, what tensorflowjs_converter writes
 * for SavedModels), run by the tfjs-converter graph executor. The trunk executes the graph up to
 * the target node; the head executes from the target node, fed as if it were an input, to the
 * outputs. TensorFlow graphs are NHWC.
 */
import { readFileSync } from 'node:fs';
import * as tfc from '@tensorflow/tfjs-converter';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import type { LayerInfo } from '../../shared/engineProtocol';
import { fileLoadHandler } from './tfjsFiles';
import { firstNonFinite, type TeacherRuntime } from './teacherSource';

interface GraphNodeJson {
  name: string;
  op: string;
  input?: string[];
}

/** Ops after which a 4-d feature map has been reduced to vectors. */
const POOL_OR_FLATTEN = new Set(['Mean', 'Max', 'Reshape', 'Squeeze', 'MatMul', '_FusedMatMul']);
const DYNAMIC_OPS = new Set([
  'Enter',
  'Exit',
  'Merge',
  'Switch',
  'NextIteration',
  'LoopCond',
  'While',
  'StatelessWhile',
  'If',
  'StatelessIf',
  'NonMaxSuppressionV2',
  'NonMaxSuppressionV3',
  'NonMaxSuppressionV4',
  'NonMaxSuppressionV5',
  'Where',
  'ListDiff',
]);
const NOT_FEATURES = new Set(['Const', 'Placeholder', 'Identity', 'NoOp', 'Shape', 'StridedSlice', 'Pack']);

export async function loadGraphTeacher(path: string, layer?: string): Promise<TeacherRuntime> {
  let model: tfc.GraphModel;
  try {
    model = await tfc.loadGraphModel(fileLoadHandler(path, 'graph'));
  } catch (e) {
    if (e instanceof BadInputError) throw e;
    throw new BadInputError(`${path}: cannot load the TF.js graph model (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const fail = (msg: string): never => {
    model.dispose();
    throw new BadInputError(`${path}: ${msg}`);
  };
  for (const [name, w] of Object.entries(model.weights)) {
    for (const t of w) {
      if (t.dtype !== 'float32') continue;
      const bad = firstNonFinite(t.dataSync() as Float32Array);
      if (bad >= 0) fail(`weight '${name}' holds ${t.dataSync()[bad]} at element ${bad}; the checkpoint's weights must be finite`);
    }
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    fail(`the graph has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one image input and one output are needed`);
  const input = model.inputs[0];
  const inShape = (input.shape ?? []).map((d) => (d == null || d < 0 ? -1 : d));
  if (inShape.length !== 4 || inShape.slice(1).some((d) => d < 1))
    fail(`input '${input.name}' has shape [${inShape.join(', ')}]; an image model with a fixed N×H×W×C input is needed`);
  const [, ih, iw, ic] = inShape;
  const outName = model.outputs[0].name;

  const json = JSON.parse(readFileSync(path, 'utf8')) as { modelTopology: { node: GraphNodeJson[] } };
  const nodes = json.modelTopology.node.filter((n) => !NOT_FEATURES.has(n.op) && n.name !== input.name);
  // Shapes of every node, from one run on zeros.
  const probe = tf.zeros([1, ih, iw, ic]);
  let outs: tf.Tensor[];
  // Graphs with control flow or dynamic shapes only run asynchronously.
  const dynamic = json.modelTopology.node.some((n) => DYNAMIC_OPS.has(n.op));
  try {
    outs = (
      dynamic
        ? await model.executeAsync(
            probe,
            nodes.map((n) => n.name),
          )
        : model.execute(
            probe,
            nodes.map((n) => n.name),
          )
    ) as tf.Tensor[];
  } catch (e) {
    probe.dispose();
    return fail(`running the graph on a [1, ${ih}, ${iw}, ${ic}] input failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  probe.dispose();
  const shapes = new Map(nodes.map((n, i) => [n.name, { shape: outs[i].shape, dtype: outs[i].dtype, op: n.op }]));
  tf.dispose(outs);
  const layers: LayerInfo[] = nodes.map((n) => ({ name: n.name, className: n.op, outputShape: [null, ...(shapes.get(n.name)?.shape.slice(1) ?? [])] }));

  const is4d = (name: string) => shapes.get(name)?.shape.length === 4 && shapes.get(name)?.dtype === 'float32';
  let target = layer;
  if (!target) {
    for (const n of nodes) {
      const src = (n.input ?? [])[0]?.split(':')[0];
      if (POOL_OR_FLATTEN.has(n.op) && src && is4d(src) && (shapes.get(n.name)?.shape.length ?? 0) < 4) {
        target = src;
        break;
      }
    }
    target ??= [...nodes].reverse().find((n) => is4d(n.name))?.name;
    if (!target) return fail('the graph has no 4-d (N×H×W×C) node to analyse; pass --layer');
  }
  const info = shapes.get(target);
  if (!info) {
    return fail(
      `no node named '${target}'; 4-d nodes: ${
        nodes
          .filter((n) => is4d(n.name))
          .map((n) => n.name)
          .join(', ') || '(none)'
      }`,
    );
  }
  if (!is4d(target)) fail(`node '${target}' outputs ${info.dtype} [${info.shape.join(', ')}]; the disentangler needs a float N×H×W×C feature map`);
  if (target === outName.split(':')[0]) fail(`'${target}' is the model's output; pick an intermediate node`);
  const [, fh, fw, fc] = info.shape;
  const checkImages = (x: tf.Tensor4D) => {
    const [, h, w, c] = x.shape;
    if (h !== ih || w !== iw || c !== ic) throw new BadInputError(`${path}: the model expects ${ih}×${iw}×${ic} images, got ${h}×${w}×${c}`);
  };
  const run = async (feed: tf.NamedTensorMap, outputs: string, what: string): Promise<tf.Tensor> => {
    try {
      return dynamic ? ((await model.executeAsync(feed, outputs)) as tf.Tensor) : (model.execute(feed, outputs) as tf.Tensor);
    } catch (e) {
      throw new BadInputError(`${path}: running the ${what} failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  };
  const as2d = (y: tf.Tensor): tf.Tensor2D => {
    if (y.rank === 2) return y as tf.Tensor2D;
    const r = tf.reshape(y, [y.shape[0], -1]) as tf.Tensor2D;
    y.dispose();
    return r;
  };
  const lastOp = json.modelTopology.node.find((n) => n.name === outName.split(':')[0]);
  const finalOp = lastOp?.op === 'Identity' ? json.modelTopology.node.find((n) => n.name === (lastOp.input ?? [])[0]?.split(':')[0])?.op : lastOp?.op;
  return {
    format: 'tfjs-graph',
    layout: 'NHWC',
    inputShape: [ih, iw, ic],
    featureShape: [fh, fw, fc],
    targetLayer: target,
    layers,
    probabilities: finalOp === 'Softmax',
    runTrunk: async (x) => {
      checkImages(x);
      return (await run({ [input.name]: x }, target, 'trunk')) as tf.Tensor4D;
    },
    runHead: async (f) => {
      const [, h, w, c] = f.shape;
      if (h !== fh || w !== fw || c !== fc) throw new BadInputError(`${path}: the head takes ${fh}×${fw}×${fc} features at '${target}', got ${h}×${w}×${c}`);
      return as2d(await run({ [target]: f }, outName, 'head'));
    },
    runModel: async (x) => {
      checkImages(x);
      return as2d(await run({ [input.name]: x }, outName, 'model'));
    },
    dispose: async () => {
      model.dispose();
    },
  };
}
