/**
 * ONNX teachers, run by onnxruntime-node. The graph is read and edited with the ONNX
 * protobuf definitions (onnx-proto); the trunk is the subgraph from the image input to the
 * target tensor, the head the subgraph from the target tensor (made a graph input) to the
 * outputs, so the head can be fed any modified feature. ONNX image models are NCHW (Conv is
 * NCHW by definition); tensors cross into tfjs as NHWC.
 */
import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import type { LayerInfo } from '../../shared/engineProtocol';
import { checkSize, firstNonFinite, type Layout, type TeacherRuntime } from './teacherSource';

type Num = number | { toNumber(): number };
const num = (v: Num | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

let ortModule: typeof Ort | undefined;
/** onnxruntime-node is native: loaded on first use so the rest of the engine runs without it. */
function ort(): typeof Ort {
  if (!ortModule) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ortModule = require('onnxruntime-node') as typeof Ort;
    } catch (e) {
      throw new BadInputError(
        `ONNX checkpoints need the onnxruntime-node package, which did not load (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
      );
    }
  }
  return ortModule;
}

const FLOAT = 1;
const DOUBLE = 11;

/** Decodes an ONNX file; every failure is a BadInputError naming the file. */
export function readOnnx(path: string): onnx.ModelProto {
  checkSize(path, 'an ONNX model');
  const buf = readFileSync(path);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(buf);
  } catch (e) {
    throw new BadInputError(`${path}: not a readable ONNX model (protobuf: ${e instanceof Error ? e.message : String(e)}); truncated or not an .onnx file`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) throw new BadInputError(`${path}: the ONNX model has no graph nodes (truncated or not an .onnx file)`);
  if (!model.opsetImport || model.opsetImport.length === 0) throw new BadInputError(`${path}: the ONNX model declares no opset (not a valid ONNX model)`);
  for (const t of g.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
      throw new BadInputError(
        `${path}: initializer '${t.name}' keeps its data in an external file; save the model with its weights inside (onnx.save(model, path, save_as_external_data=False))`,
      );
    }
    const vals = floatValues(t);
    if (vals) {
      const bad = firstNonFinite(vals);
      if (bad >= 0) throw new BadInputError(`${path}: weight '${t.name}' holds ${vals[bad]} at element ${bad}; the checkpoint's weights must be finite`);
    }
  }
  return model;
}

function floatValues(t: onnx.ITensorProto): ArrayLike<number> | undefined {
  if (t.dataType !== FLOAT && t.dataType !== DOUBLE) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const bytes = t.dataType === FLOAT ? 4 : 8;
    const n = Math.floor(t.rawData.length / bytes);
    const copy = new Uint8Array(n * bytes);
    copy.set(t.rawData.subarray(0, n * bytes));
    return t.dataType === FLOAT ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
  }
  return t.dataType === FLOAT ? (t.floatData ?? undefined) : (t.doubleData ?? undefined);
}

interface GraphIndex {
  producer: Map<string, number>;
  initializers: Set<string>;
  graphInputs: Set<string>;
}

function indexGraph(g: onnx.IGraphProto): GraphIndex {
  const producer = new Map<string, number>();
  (g.node ?? []).forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const graphInputs = new Set((g.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n)));
  return { producer, initializers, graphInputs };
}

/** The image input: the one graph input that is not an initializer. */
export function imageInput(model: onnx.ModelProto, path: string): onnx.IValueInfoProto {
  const g = model.graph as onnx.IGraphProto;
  const { initializers } = indexGraph(g);
  const ins = (g.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (ins.length !== 1)
    throw new BadInputError(`${path}: the model has ${ins.length} inputs (${ins.map((v) => v.name).join(', ')}); one image input is needed`);
  if ((g.output ?? []).length !== 1) throw new BadInputError(`${path}: the model has ${(g.output ?? []).length} outputs; one output (class scores) is needed`);
  const tt = ins[0].type?.tensorType;
  if (!tt) throw new BadInputError(`${path}: input '${ins[0].name}' is not a tensor`);
  if (tt.elemType !== FLOAT) throw new BadInputError(`${path}: input '${ins[0].name}' has ONNX element type ${tt.elemType}; a float32 image input is needed`);
  return ins[0];
}

/** Declared dims of a value (-1 for a symbolic or missing dim). */
function declaredDims(v: onnx.IValueInfoProto): number[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : -1));
}

/**
 * NCHW unless the input goes straight into a Transpose to NCHW (what tf2onnx writes for
 * Keras models), in which case the checkpoint takes NHWC images.
 */
function inputLayout(model: onnx.ModelProto, inputName: string): Layout {
  for (const n of model.graph?.node ?? []) {
    if (n.opType === 'Transpose' && (n.input ?? [])[0] === inputName) {
      const perm = (n.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map(num);
      if (perm && perm.join(',') === '0,3,1,2') return 'NHWC';
    }
  }
  return 'NCHW';
}

/** Ops that keep their input's layout: walked through when telling a tensor's layout. */
const LAYOUT_KEEPING = new Set([
  'Relu',
  'LeakyRelu',
  'Clip',
  'Sigmoid',
  'Tanh',
  'HardSigmoid',
  'HardSwish',
  'Elu',
  'Selu',
  'Identity',
  'Dropout',
  'Mul',
  'Add',
  'Sub',
  'Div',
  'Cast',
]);

/**
 * The layout of a 4-d tensor inside the graph: NCHW (what Conv, pooling and BatchNormalization
 * produce) unless the nearest producer that fixes a layout is a Transpose to NHWC.
 */
export function tensorLayout(model: onnx.ModelProto, name: string): Layout {
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of model.graph?.node ?? []) for (const o of n.output ?? []) if (o) producer.set(o, n);
  let cur = name;
  for (let steps = 0; steps < 1000; steps++) {
    const n = producer.get(cur);
    if (!n) return 'NCHW';
    if (n.opType === 'Transpose') {
      const perm = (n.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map(num);
      return perm && perm.join(',') === '0,2,3,1' ? 'NHWC' : 'NCHW';
    }
    if (!LAYOUT_KEEPING.has(n.opType ?? '')) return 'NCHW';
    cur = (n.input ?? [])[0] ?? '';
  }
  return 'NCHW';
}

/**
 * The subgraph that computes `outputs` from `feeds` (as onnx.utils.extract_model does):
 * nodes in their original topological order, the initializers they read, `feeds` as graph
 * inputs. A path from another graph input to an output, around the feeds, is refused.
 */
export function extractSubgraph(model: onnx.ModelProto, feeds: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[], what: string): onnx.ModelProto {
  const g = model.graph as onnx.IGraphProto;
  const idx = indexGraph(g);
  const feedNames = new Set(feeds.map((f) => f.name ?? ''));
  const needed = new Set<number>();
  const usedInits = new Set<string>();
  const stack = outputs.map((o) => o.name ?? '');
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (!name || feedNames.has(name)) continue;
    if (idx.initializers.has(name)) {
      usedInits.add(name);
      continue;
    }
    if (idx.graphInputs.has(name))
      throw new BadInputError(`${what}: a path from input '${name}' reaches the output around the target tensor; pick a tensor that separates the network`);
    const p = idx.producer.get(name);
    if (p === undefined) throw new BadInputError(`${what}: tensor '${name}' is produced by no node`);
    if (needed.has(p)) continue;
    needed.add(p);
    const node = (g.node ?? [])[p];
    stack.push(...(node.input ?? []));
    // Control-flow nodes read outer-scope tensors from their subgraphs.
    for (const a of node.attribute ?? [])
      for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) for (const sn of sub.node ?? []) stack.push(...(sn.input ?? []));
  }
  const nodes = (g.node ?? []).filter((_, i) => needed.has(i));
  const graph = onnx.GraphProto.create({
    name: `${g.name ?? 'graph'}_${what}`,
    node: nodes,
    initializer: (g.initializer ?? []).filter((t) => usedInits.has(t.name ?? '')),
    input: [...feeds, ...(g.input ?? []).filter((v) => usedInits.has(v.name ?? ''))],
    output: outputs,
    valueInfo: (g.valueInfo ?? []).filter((v) => !feedNames.has(v.name ?? '')),
  });
  return onnx.ModelProto.create({ ...model, graph });
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

export interface OnnxTensorInfo {
  name: string;
  op: string;
  /** Shape with batch = the probe batch, in the tensor's own (ONNX) layout. */
  shape: number[];
  dtype: string;
}

async function createSession(model: onnx.IModelProto, what: string): Promise<Ort.InferenceSession> {
  const bytes = onnx.ModelProto.encode(model).finish();
  try {
    return await ort().InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  } catch (e) {
    throw new BadInputError(`${what}: onnxruntime cannot load the model (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
}

/** Every node output with its shape, found by running the model once on zeros with all of them as outputs. */
export async function probeTensors(model: onnx.ModelProto, inputName: string, inputDims: number[], path: string): Promise<OnnxTensorInfo[]> {
  const g = model.graph as onnx.IGraphProto;
  const op = new Map<string, string>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) op.set(o, n.opType ?? '');
  const outputs = [...(g.output ?? [])];
  const have = new Set(outputs.map((o) => o.name));
  for (const name of op.keys()) if (!have.has(name)) outputs.push({ name });
  const probe = onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...g, output: outputs }) });
  const session = await createSession(probe, path);
  try {
    const size = inputDims.reduce((a, b) => a * b, 1);
    let result: Ort.InferenceSession.ReturnType;
    try {
      result = await session.run({ [inputName]: new (ort().Tensor)('float32', new Float32Array(size), inputDims) });
    } catch (e) {
      throw new BadInputError(
        `${path}: running the model on a [${inputDims.join(', ')}] input failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
      );
    }
    return [...op.keys()].filter((n) => result[n]).map((n) => ({ name: n, op: op.get(n) ?? '', shape: result[n].dims.map(Number), dtype: result[n].type }));
  } finally {
    await session.release();
  }
}

const POOL_OR_FLATTEN = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'ReduceMean', 'ReduceMax', 'Gemm', 'MatMul', 'Squeeze']);

/** The last 4-d float tensor that feeds the first global pooling / flatten; else the last 4-d tensor. */
export function onnxDefaultTarget(model: onnx.ModelProto, tensors: OnnxTensorInfo[], inputName: string): string {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const is4d = (n: string) => n !== inputName && byName.get(n)?.shape.length === 4 && byName.get(n)?.dtype === 'float32';
  for (const node of model.graph?.node ?? []) {
    const src = (node.input ?? [])[0];
    if (POOL_OR_FLATTEN.has(node.opType ?? '') && src && is4d(src)) {
      const out = byName.get((node.output ?? [])[0] ?? '');
      if (!out || out.shape.length < 4 || node.opType === 'GlobalAveragePool' || node.opType === 'GlobalMaxPool') return src;
    }
  }
  const fourD = tensors.filter((t) => is4d(t.name));
  if (fourD.length === 0) throw new BadInputError('the ONNX model has no 4-d (N×C×H×W) tensor to analyse');
  return fourD[fourD.length - 1].name;
}

/** Runs a one-input one-output session over a batch, in chunks when the model fixes its batch size. */
async function runChunks(
  session: Ort.InferenceSession,
  data: Float32Array,
  dims: number[],
  fixedBatch: number,
  what: string,
): Promise<{ data: Float32Array; dims: number[] }> {
  const n = dims[0];
  const chunk = fixedBatch > 0 ? fixedBatch : n;
  if (fixedBatch > 0 && n % fixedBatch !== 0) throw new BadInputError(`${what}: the model takes batches of exactly ${fixedBatch}; got ${n} samples`);
  const per = data.length / Math.max(n, 1);
  const parts: Float32Array[] = [];
  let outDims: number[] = [];
  for (let s = 0; s < n; s += chunk) {
    const feed = new (ort().Tensor)('float32', data.subarray(s * per, (s + chunk) * per), [chunk, ...dims.slice(1)]);
    let r: Ort.InferenceSession.ReturnType;
    try {
      r = await session.run({ [session.inputNames[0]]: feed });
    } catch (e) {
      throw new BadInputError(
        `${what}: onnxruntime failed on a [${feed.dims.join(', ')}] input (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
      );
    }
    const out = r[session.outputNames[0]];
    if (out.type !== 'float32') throw new BadInputError(`${what}: output '${session.outputNames[0]}' is ${out.type}; float32 is needed`);
    parts.push(out.data as Float32Array);
    outDims = out.dims.map(Number);
  }
  if (parts.length === 1) return { data: parts[0], dims: outDims };
  const total = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    total.set(p, off);
    off += p.length;
  }
  return { data: total, dims: [n, ...outDims.slice(1)] };
}

export interface OnnxLoadOptions {
  /** NHWC [H, W, C] of the data, for models whose input dims are symbolic. */
  inputShape?: number[];
}

export async function loadOnnxTeacher(path: string, layer?: string, opts: OnnxLoadOptions = {}): Promise<TeacherRuntime> {
  const model = readOnnx(path);
  const input = imageInput(model, path);
  const declared = declaredDims(input);
  if (declared.length !== 4) throw new BadInputError(`${path}: input '${input.name}' has rank ${declared.length}; an image model with a 4-d input is needed`);
  const layout = inputLayout(model, input.name ?? '');
  const fixedBatch = declared[0];
  // Fill symbolic H, W, C from the data when the model leaves them open.
  const want = opts.inputShape;
  const fromData = want ? (layout === 'NCHW' ? [want[2], want[0], want[1]] : want) : undefined;
  const inner = declared.slice(1).map((d, i) => (d > 0 ? d : (fromData?.[i] ?? -1)));
  if (inner.some((d) => d < 1))
    throw new BadInputError(`${path}: input '${input.name}' has symbolic dims [${declared.join(', ')}]; give the dataset so its image size fills them`);
  const probeDims = [fixedBatch > 0 ? fixedBatch : 1, ...inner];
  const tensors = await probeTensors(model, input.name ?? '', probeDims, path);
  const outName = model.graph?.output?.[0]?.name ?? '';
  const target = layer ?? onnxDefaultTarget(model, tensors, input.name ?? '');
  const info = tensors.find((t) => t.name === target);
  if (!info) {
    const names = tensors.filter((t) => t.shape.length === 4).map((t) => t.name);
    throw new BadInputError(`${path}: no tensor named '${target}'; 4-d tensors: ${names.join(', ') || '(none)'}`);
  }
  if (info.shape.length !== 4 || info.dtype !== 'float32')
    throw new BadInputError(`${path}: tensor '${target}' is ${info.dtype} [${info.shape.join(', ')}]; the disentangler needs a float N×C×H×W feature map`);
  if (target === outName) throw new BadInputError(`${path}: '${target}' is the model's output; pick an intermediate tensor`);
  const featureLayout = tensorLayout(model, target);
  const [fc, fh, fw] = featureLayout === 'NCHW' ? info.shape.slice(1) : [info.shape[3], info.shape[1], info.shape[2]];
  const batchDim = fixedBatch > 0 ? fixedBatch : 'batch';
  const featureVi = valueInfo(target, [batchDim, ...info.shape.slice(1)]);
  const inputVi = valueInfo(input.name ?? '', [batchDim, ...inner]);
  const outVi = { name: outName };
  const trunkModel = extractSubgraph(model, [inputVi], [featureVi], 'trunk');
  const headModel = extractSubgraph(model, [featureVi], [outVi], 'head');
  const fullModel = extractSubgraph(model, [inputVi], [outVi], 'model');
  const [trunk, head, full] = await Promise.all([
    createSession(trunkModel, `${path} (trunk)`),
    createSession(headModel, `${path} (head)`),
    createSession(fullModel, path),
  ]);
  const lastOp = (model.graph?.node ?? []).find((n) => (n.output ?? []).includes(outName))?.opType;
  const [ih, iw, ic] = layout === 'NCHW' ? [inner[1], inner[2], inner[0]] : inner;

  /** NHWC tfjs images → the checkpoint's layout as flat data. */
  const toInput = async (x: tf.Tensor4D): Promise<{ data: Float32Array; dims: number[] }> => {
    const t = layout === 'NCHW' ? tf.transpose(x, [0, 3, 1, 2]) : x;
    const data = (await t.data()) as Float32Array;
    const dims = t.shape.slice();
    if (t !== x) t.dispose();
    return { data, dims };
  };
  const toNhwc = (r: { data: Float32Array; dims: number[] }): tf.Tensor4D =>
    tf.tidy(() => {
      const t = tf.tensor4d(r.data, r.dims as [number, number, number, number]);
      return featureLayout === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;
    });
  const checkImages = (x: tf.Tensor4D) => {
    const [, h, w, c] = x.shape;
    if (h !== ih || w !== iw || c !== ic) throw new BadInputError(`${path}: the model expects ${ih}×${iw}×${ic} images, got ${h}×${w}×${c}`);
  };

  const layers: LayerInfo[] = tensors.map((t) => ({ name: t.name, className: t.op, outputShape: [null, ...t.shape.slice(1)] }));
  return {
    format: 'onnx',
    layout,
    inputShape: [ih, iw, ic],
    featureShape: [fh, fw, fc],
    targetLayer: target,
    layers,
    probabilities: lastOp === 'Softmax',
    runTrunk: async (x) => {
      checkImages(x);
      const inp = await toInput(x);
      return toNhwc(await runChunks(trunk, inp.data, inp.dims, fixedBatch, `${path} (trunk)`));
    },
    runHead: async (f) => {
      const [, h, w, c] = f.shape;
      if (h !== fh || w !== fw || c !== fc) throw new BadInputError(`${path}: the head takes ${fh}×${fw}×${fc} features at '${target}', got ${h}×${w}×${c}`);
      const t = featureLayout === 'NCHW' ? tf.transpose(f, [0, 3, 1, 2]) : f;
      const data = (await t.data()) as Float32Array;
      if (t !== f) t.dispose();
      const dims = featureLayout === 'NCHW' ? [f.shape[0], fc, fh, fw] : [f.shape[0], fh, fw, fc];
      const r = await runChunks(head, data, dims, fixedBatch, `${path} (head)`);
      return tf.tensor2d(r.data, [f.shape[0], r.data.length / Math.max(f.shape[0], 1)]);
    },
    runModel: async (x) => {
      checkImages(x);
      const inp = await toInput(x);
      const r = await runChunks(full, inp.data, inp.dims, fixedBatch, path);
      return tf.tensor2d(r.data, [x.shape[0], r.data.length / Math.max(x.shape[0], 1)]);
    },
    dispose: async () => {
      await Promise.all([trunk.release(), head.release(), full.release()]);
    },
  };
}
