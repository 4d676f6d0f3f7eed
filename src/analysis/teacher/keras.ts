/**
 * Keras checkpoints rebuilt as TF.js LayersModels from their own config:
 * - Keras 2 `.h5`: root attribute `model_config` (JSON) and group `model_weights/<layer>` with
 *   attribute `weight_names` naming the layer's datasets, in the layer's weight order;
 * - Keras 3 `.keras`: a zip of `config.json` and `model.weights.h5` with
 *   `layers/<layer>/vars/<i>`. Keras 3 configs are rewritten to the Keras 2 form TF.js reads.
 * HDF5 is read with h5wasm (the HDF5 C library compiled to WebAssembly) in a worker thread with
 * a deadline: a corrupt file can send the C library into a loop or an abort, and neither may
 * take the engine with it. Weights are matched to each layer in order, as Keras itself loads
 * them, with shapes checked.
 * Layer types that TF.js does not implement are named in the error.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tfl from '@tensorflow/tfjs-layers';
import { unzipSync } from 'fflate';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import { checkSize, firstNonFinite } from './teacherSource';

import type * as H5Types from 'h5wasm/node' with { 'resolution-mode': 'import' };

type H5 = typeof H5Types;

let h5Module: Promise<H5> | undefined;
/** h5wasm is an ES module: imported on first use. */
export function h5wasm(): Promise<H5> {
  if (!h5Module) {
    h5Module = (async () => {
      const m = (await import('h5wasm/node')) as unknown as H5;
      await m.ready;
      return m;
    })();
  }
  return h5Module;
}

/** An HDF5 file as plain data: attributes, sub-groups, and dataset values. */
export interface H5Node {
  attrs: Record<string, unknown>;
  children?: Record<string, H5Node>;
  shape?: number[];
  dtype?: unknown;
  value?: unknown;
}

/** h5wasm's Node build, found on disk so a worker can import it by URL. */
function h5wasmEntry(): string {
  for (let d = __dirname; ; d = dirname(d)) {
    const p = join(d, 'node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js');
    if (existsSync(p)) return p;
    if (dirname(d) === d) throw new Error('h5wasm is not installed (node_modules/h5wasm not found)');
  }
}

/** The worker's file: beside the bundle (dist/), or beside this source file. */
function readerPath(): string {
  const p = join(__dirname, 'h5Reader.cjs');
  if (!existsSync(p)) throw new Error(`the HDF5 reader (h5Reader.cjs) is missing from this installation (looked in ${__dirname})`);
  return p;
}

/** Reads a whole HDF5 file in a worker thread, giving up after a deadline that grows with its size. */
export async function readH5Tree(path: string, shown: string): Promise<H5Node> {
  const deadline = 15000 + (statSync(path).size / 5e6) * 1000;
  return new Promise<H5Node>((resolve, reject) => {
    // The HDF5 library prints its own error stack for a damaged file; the user gets our one line instead.
    const w = new Worker(readerPath(), { workerData: { path, module: h5wasmEntry() }, stdout: true, stderr: true });
    w.stdout.resume();
    w.stderr.resume();
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void w.terminate();
      f();
    };
    const timer = setTimeout(
      () => finish(() => reject(new BadInputError(`${shown}: reading the HDF5 file did not finish in ${(deadline / 1000).toFixed(0)} s (corrupt file?)`))),
      deadline,
    );
    w.on('message', (m: { ok: boolean; tree?: H5Node; message?: string }) =>
      finish(() => (m.ok ? resolve(m.tree as H5Node) : reject(new BadInputError(`${shown}: not a readable HDF5 file (${m.message})`)))),
    );
    w.on('error', (e) => finish(() => reject(new BadInputError(`${shown}: not a readable HDF5 file (${e.message.split('\n')[0]})`))));
    w.on('exit', (code) => finish(() => reject(new BadInputError(`${shown}: the HDF5 reader stopped (exit code ${code})`))));
  });
}

function child(node: H5Node | undefined, path: string): H5Node | undefined {
  let n = node;
  for (const part of path.split('/').filter((p) => p.length > 0)) n = n?.children?.[part];
  return n;
}

function attrText(n: H5Node, name: string): string | undefined {
  const v = n.attrs[name];
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (Array.isArray(v) && typeof v[0] === 'string') return v.join('');
  return undefined;
}

function attrStrings(n: H5Node, name: string): string[] {
  const v = n.attrs[name];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString('utf8') : String(x))).filter((x) => x.length > 0);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

const isObj = (v: Json | undefined): v is JsonObj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Keras 3 serialises every object as {module, class_name, config, registered_name}; dtype
 * policies as objects; tensors in inbound nodes as `__keras_tensor__` with a keras_history.
 * TF.js reads the Keras 2 form: this rewrites one into the other.
 */
export function keras3ToKeras2(v: Json): Json {
  if (Array.isArray(v)) return v.map(keras3ToKeras2);
  if (!isObj(v)) return v;
  const cls = v.class_name;
  if ((cls === 'DTypePolicy' || cls === 'FloatDTypePolicy') && isObj(v.config)) return v.config.name ?? 'float32';
  const out: JsonObj = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'module' || k === 'registered_name' || k === 'build_config' || k === 'compile_config') continue;
    if (k === 'inbound_nodes' && Array.isArray(x)) out[k] = x.map(inboundNode);
    else if (k === 'batch_shape' && cls === undefined) out.batch_input_shape = keras3ToKeras2(x);
    else out[k] = keras3ToKeras2(x);
  }
  if (cls === 'InputLayer' && isObj(out.config) && out.config.batch_shape !== undefined) {
    out.config.batch_input_shape = out.config.batch_shape;
    delete out.config.batch_shape;
  }
  return out;
}

function inboundNode(node: Json): Json {
  if (!isObj(node)) return node;
  const tensors: Json[] = [];
  const walk = (a: Json) => {
    if (Array.isArray(a)) a.forEach(walk);
    else if (isObj(a) && a.class_name === '__keras_tensor__' && isObj(a.config) && Array.isArray(a.config.keras_history)) {
      const [name, nodeIndex, tensorIndex] = a.config.keras_history;
      tensors.push([name, nodeIndex, tensorIndex, {}]);
    }
  };
  walk(node.args ?? []);
  return tensors;
}

/** Class names in a Keras config that TF.js has no implementation for. */
export function unsupportedLayers(config: Json): string[] {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const missing = new Set<string>();
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v)) {
      if (
        typeof v.class_name === 'string' &&
        isObj(v.config) &&
        'name' in v.config &&
        !(v.class_name in known) &&
        !['Sequential', 'Functional', 'Model'].includes(v.class_name)
      )
        missing.add(v.class_name);
      Object.values(v).forEach(walk);
    }
  };
  walk(config);
  return [...missing].sort();
}

/**
 * Augmentation and spatial-dropout layers are the identity at inference, which is all the
 * teacher does; TF.js lacks them, so they become linear Activation layers under the same name.
 */
const IDENTITY_AT_INFERENCE = new Set([
  'RandomFlip',
  'RandomRotation',
  'RandomZoom',
  'RandomTranslation',
  'RandomContrast',
  'RandomBrightness',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
]);

export function inferenceIdentities(v: Json): Json {
  if (Array.isArray(v)) return v.map(inferenceIdentities);
  if (!isObj(v)) return v;
  if (typeof v.class_name === 'string' && IDENTITY_AT_INFERENCE.has(v.class_name) && isObj(v.config)) {
    const { name, trainable, dtype } = v.config;
    return { ...v, class_name: 'Activation', config: { name: name ?? null, trainable: trainable ?? true, dtype: dtype ?? 'float32', activation: 'linear' } };
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, inferenceIdentities(x)]));
}

async function buildModel(source: Json, shown: string): Promise<tfl.LayersModel> {
  const config = inferenceIdentities(source);
  const missing = unsupportedLayers(config);
  if (missing.length > 0) throw new BadInputError(`${shown}: layer type(s) ${missing.join(', ')} are not supported by TF.js; export the model to ONNX instead`);
  try {
    return await tfl.models.modelFromJSON({ modelTopology: config as unknown as tf.io.ModelJSON['modelTopology'] });
  } catch (e) {
    throw new BadInputError(`${shown}: cannot rebuild the model from its Keras config (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
}

function toFloat32(d: H5Node, where: string): { data: Float32Array; shape: number[] } {
  const v = d.value;
  const shape = d.shape ?? [];
  let data: Float32Array;
  if (v instanceof Float32Array) data = v;
  else if (
    v instanceof Float64Array ||
    v instanceof Int32Array ||
    v instanceof Uint8Array ||
    v instanceof Int8Array ||
    v instanceof Int16Array ||
    v instanceof Uint16Array ||
    v instanceof Uint32Array
  )
    data = Float32Array.from(v as ArrayLike<number>);
  else throw new BadInputError(`${where}: weight dataset of type ${JSON.stringify(d.dtype)} is not numeric`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new BadInputError(`${where}: holds ${data.length} values for shape [${shape.join(', ')}] (truncated)`);
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new BadInputError(`${where}: weight holds ${data[bad]} at element ${bad}; the checkpoint's weights must be finite`);
  return { data, shape };
}

/** Sets each layer's weights from `arrays(layer)` in order, checking count and shapes. */
function assignWeights(
  model: tfl.LayersModel,
  arrays: (layer: string) => { data: Float32Array; shape: number[]; name: string }[] | undefined,
  shown: string,
): void {
  for (const layer of model.layers) {
    const want = layer.weights;
    if (want.length === 0) continue;
    const got = arrays(layer.name);
    if (!got) throw new BadInputError(`${shown}: no weights for layer '${layer.name}'`);
    if (got.length !== want.length) throw new BadInputError(`${shown}: layer '${layer.name}' has ${want.length} weights, the file holds ${got.length}`);
    const tensors = got.map((g, i) => {
      const shape = want[i].shape;
      if (g.shape.join(',') !== shape.join(','))
        throw new BadInputError(`${shown}: weight ${g.name} has shape [${g.shape.join(', ')}], layer '${layer.name}' needs [${shape.join(', ')}]`);
      return tf.tensor(g.data, g.shape);
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

function parseConfig(text: string, shown: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new BadInputError(`${shown}: the model config is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** A Keras 2 `.h5` (full model: config + weights). */
export async function loadKerasH5(path: string): Promise<tfl.LayersModel> {
  checkSize(path, 'a Keras .h5 model');
  const f = await readH5Tree(path, path);
  const text = attrText(f, 'model_config');
  if (text === undefined) {
    const weightsOnly = f.attrs['layer_names'] !== undefined;
    throw new BadInputError(
      `${path}: no 'model_config' attribute: ${weightsOnly ? 'this file holds weights only (model.save_weights); save the whole model with model.save(...)' : 'not a Keras model file'}`,
    );
  }
  const config = parseConfig(text, path);
  const model = await buildModel(config, path);
  const root = f.children?.model_weights;
  if (!root?.children) throw new BadInputError(`${path}: no 'model_weights' group (not a full Keras model file)`);
  assignWeights(
    model,
    (name) => {
      const g = root.children?.[name];
      if (!g) return undefined;
      return attrStrings(g, 'weight_names').map((wn) => {
        const d = child(g, wn);
        if (!d || d.shape === undefined) throw new BadInputError(`${path}: missing weight dataset model_weights/${name}/${wn}`);
        return { ...toFloat32(d, `${path}: model_weights/${name}/${wn}`), name: wn };
      });
    },
    path,
  );
  return model;
}

/** A Keras 3 `.keras` zip. */
export async function loadKerasV3(path: string): Promise<tfl.LayersModel> {
  checkSize(path, 'a .keras model');
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFileSync(path), { filter: (f) => f.name === 'config.json' || f.name === 'model.weights.h5' });
  } catch (e) {
    throw new BadInputError(`${path}: not a readable .keras archive (zip: ${e instanceof Error ? e.message : String(e)})`);
  }
  if (!files['config.json']) throw new BadInputError(`${path}: the archive has no config.json (not a Keras 3 model)`);
  if (!files['model.weights.h5']) throw new BadInputError(`${path}: the archive has no model.weights.h5`);
  const config = keras3ToKeras2(parseConfig(Buffer.from(files['config.json']).toString('utf8'), `${path}: config.json`));
  const model = await buildModel(config, `${path}: config.json`);
  const dir = mkdtempSync(join(tmpdir(), 'fc-keras-'));
  const h5path = join(dir, 'model.weights.h5');
  const shown = `${path}: model.weights.h5`;
  let f: H5Node;
  try {
    writeFileSync(h5path, files['model.weights.h5']);
    f = await readH5Tree(h5path, shown);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assignWeights(
    model,
    (name) => {
      const vars = child(f, `layers/${name}/vars`);
      if (!vars?.children) return undefined;
      const keys = Object.keys(vars.children).sort((a, b) => Number(a) - Number(b));
      return keys.map((k) => {
        const d = vars.children?.[k];
        if (!d || d.shape === undefined) throw new BadInputError(`${shown}: layers/${name}/vars/${k} is not a dataset`);
        return { ...toFloat32(d, `${shown}: layers/${name}/vars/${k}`), name: `layers/${name}/vars/${k}` };
      });
    },
    shown,
  );
  return model;
}

export async function loadKerasModel(path: string): Promise<tfl.LayersModel> {
  return path.toLowerCase().endsWith('.keras') ? loadKerasV3(path) : loadKerasH5(path);
}
