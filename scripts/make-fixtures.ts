/**
 * Fixtures for the formats that this machine has no exporter for (no TensorFlow/Keras here):
 * a small NHWC CNN built and trained with TF.js on test/fixtures/formats/data.npz (written by
 * make-fixtures.py), then written
 *   - as a Keras 2 `.h5` with h5wasm's HDF5 writer, in Keras's layout (model_config +
 *     model_weights/<layer>/<weight>),
 *   - as a Keras 3 `.keras` zip (config.json in Keras 3's serialisation, model.weights.h5 with
 *     layers/<layer>/vars/<i>),
 *   - as a TF.js graph model (a GraphDef of the same network: Conv2D, BiasAdd, Relu,
 *     FusedBatchNormV3, Mean, MatMul, Softmax),
 * with the TF.js model's own outputs as the reference; plus CIFAR-10 binary batches and an
 * image folder (PNG + JPEG) made from known pixels.
 *   node --import tsx scripts/make-fixtures.ts
 *
 * `results`: test/fixtures/results/engine-reliability.json, a result file written by the engine's
 * own command line (dist/engine.js, built first) with reliability: the demo teacher (seed 0) on
 * the shipped Fashion-MNIST subset, against two exemplars of the same architecture trained from
 * seeds 1 and 2, orders 0 and 2, width 8, quick budget, wasm backend. The panels' tests read it.
 *   node --import tsx scripts/make-fixtures.ts results
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { zipSync, strToU8 } from 'fflate';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { tf, useBackend } from '../src/analysis/tf/backend';
import { loadNpz } from '../src/analysis/data/npy';
import { demoDataDir, trainDemoTeacher } from '../src/analysis/experiments/demo';
import { h5wasm } from '../src/analysis/teacher/keras';
import { layerWeights, writeKeras2 } from './kerasWriter';

const ROOT = join(__dirname, '..');
const OUT = join(ROOT, 'test', 'fixtures', 'formats');
const ENGINE_RESULT = join(ROOT, 'test', 'fixtures', 'results', 'engine-reliability.json');

function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3], name: 'image' });
  let x = tfl.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'bn1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      name: 'conv2',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    })
    .apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ units: 4, activation: 'softmax', name: 'out', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) })
    .apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'keras_cnn' });
}

/** Keras 3's serialisation of one object. */
function k3(module: string, className: string, config: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { module, class_name: className, config, registered_name: null, ...extra };
}

async function writeKeras3(model: tfl.LayersModel, path: string, tmp: string): Promise<void> {
  const topo = model.toJSON(null, false) as {
    config: { layers: { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes: [string, number, number, unknown][][] }[] };
  };
  const shapes = new Map(model.layers.map((l) => [l.name, (l.outputShape as (number | null)[]).slice()]));
  const dtype = k3('keras', 'DTypePolicy', { name: 'float32' });
  const layers = topo.config.layers.map((l) => {
    if (l.class_name === 'InputLayer') {
      return k3(
        'keras.layers',
        'InputLayer',
        { batch_shape: l.config.batch_input_shape, dtype: 'float32', sparse: false, name: l.name },
        { name: l.name, inbound_nodes: [] },
      );
    }
    const config: Record<string, unknown> = { ...l.config, dtype };
    for (const [k, v] of Object.entries(config)) {
      if (v && typeof v === 'object' && 'class_name' in (v as object) && k !== 'dtype') {
        const o = v as { class_name: string; config: unknown };
        config[k] = k3('keras.initializers', o.class_name, o.config);
      }
    }
    const inbound = l.inbound_nodes.map((node) => ({
      args: node.map(([name, nodeIndex, tensorIndex]) => ({
        class_name: '__keras_tensor__',
        config: { shape: shapes.get(name), dtype: 'float32', keras_history: [name, nodeIndex, tensorIndex] },
      })),
      kwargs: {},
    }));
    const src = l.inbound_nodes[0]?.[0]?.[0];
    return k3('keras.layers', l.class_name, config, { build_config: { input_shape: src ? shapes.get(src) : null }, name: l.name, inbound_nodes: inbound });
  });
  const config = k3(
    'keras',
    'Functional',
    { name: model.name, trainable: true, layers, input_layers: [['image', 0, 0]], output_layers: [['out', 0, 0]] },
    { build_config: { input_shape: null }, compile_config: null },
  );
  const h5 = await h5wasm();
  const wpath = join(tmp, 'model.weights.h5');
  const f = new h5.File(wpath, 'w');
  const lg = f.create_group('layers');
  const weights = layerWeights(model);
  for (const layer of model.layers) {
    const g = lg.create_group(layer.name);
    const vars = g.create_group('vars');
    (weights.get(layer.name) ?? []).forEach((w, i) => vars.create_dataset({ name: String(i), data: w.data, shape: w.shape, dtype: '<f' }));
  }
  f.create_group('optimizer').create_group('vars');
  f.create_group('vars');
  f.close();
  const zip = zipSync({
    'metadata.json': strToU8(JSON.stringify({ keras_version: '3.3.3', date_saved: '2026-01-01@00:00:00' })),
    'config.json': strToU8(JSON.stringify(config)),
    'model.weights.h5': new Uint8Array(readFileSync(wpath)),
  });
  writeFileSync(path, zip);
}

/** A GraphDef (as TF.js graph-model JSON) computing the same function as `model`. */
function writeGraphModel(model: tfl.LayersModel, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const w = new Map<string, { data: Float32Array | Int32Array; shape: number[]; dtype: 'float32' | 'int32' }>();
  for (const ws of layerWeights(model).values()) for (const x of ws) w.set(x.name, { ...x, dtype: 'float32' });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const T = { T: { type: 'DT_FLOAT' } };
  const nodes: Record<string, unknown>[] = [];
  const constNode = (name: string) => {
    const x = w.get(name) as { shape: number[]; dtype: string };
    nodes.push({
      name,
      op: 'Const',
      attr: {
        value: { tensor: { dtype: x.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: x.shape.map((d) => ({ size: String(d) })) } } },
        dtype: { type: x.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' },
      },
    });
  };
  nodes.push({
    name: 'image',
    op: 'Placeholder',
    attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } },
  });
  const conv = (name: string, input: string, stride: number) => {
    constNode(`${name}/kernel`);
    constNode(`${name}/bias`);
    nodes.push({
      name: `${name}/Conv2D`,
      op: 'Conv2D',
      input: [input, `${name}/kernel`],
      attr: {
        ...T,
        strides: { list: { i: ['1', String(stride), String(stride), '1'] } },
        padding: { s: b64('SAME') },
        data_format: { s: b64('NHWC') },
        dilations: { list: { i: ['1', '1', '1', '1'] } },
      },
    });
    nodes.push({ name: `${name}/BiasAdd`, op: 'BiasAdd', input: [`${name}/Conv2D`, `${name}/bias`], attr: { ...T, data_format: { s: b64('NHWC') } } });
    nodes.push({ name: `${name}/Relu`, op: 'Relu', input: [`${name}/BiasAdd`], attr: T });
    return `${name}/Relu`;
  };
  let x = conv('conv1', 'image', 1);
  for (const v of ['gamma', 'beta', 'moving_mean', 'moving_variance']) constNode(`bn1/${v}`);
  nodes.push({
    name: 'bn1/FusedBatchNormV3',
    op: 'FusedBatchNormV3',
    input: [x, 'bn1/gamma', 'bn1/beta', 'bn1/moving_mean', 'bn1/moving_variance'],
    attr: { ...T, U: { type: 'DT_FLOAT' }, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false } },
  });
  x = conv('conv2', 'bn1/FusedBatchNormV3', 2);
  w.set('pool/axes', { data: new Int32Array([1, 2]), shape: [2], dtype: 'int32' });
  constNode('pool/axes');
  nodes.push({ name: 'pool/Mean', op: 'Mean', input: [x, 'pool/axes'], attr: { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } });
  constNode('out/kernel');
  constNode('out/bias');
  nodes.push({ name: 'out/MatMul', op: 'MatMul', input: ['pool/Mean', 'out/kernel'], attr: { ...T, transpose_a: { b: false }, transpose_b: { b: false } } });
  nodes.push({ name: 'out/BiasAdd', op: 'BiasAdd', input: ['out/MatMul', 'out/bias'], attr: { ...T, data_format: { s: b64('NHWC') } } });
  nodes.push({ name: 'out/Softmax', op: 'Softmax', input: ['out/BiasAdd'], attr: T });
  nodes.push({ name: 'Identity', op: 'Identity', input: ['out/Softmax'], attr: T });
  const manifest = [...w.entries()].map(([name, v]) => ({ name, shape: v.shape, dtype: v.dtype }));
  const bin = Buffer.concat([...w.values()].map((v) => Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength)));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), bin);
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'graph-model',
      generatedBy: '2.15.0',
      convertedBy: 'feature-complexity scripts/make-fixtures.ts (GraphDef written from the TF.js layers model)',
      modelTopology: { node: nodes, library: {}, versions: { producer: 1286 } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: manifest }],
    }),
  );
}

function writeCifar(dir: string): { labels: number[]; firstPixels: number[] } {
  mkdirSync(dir, { recursive: true });
  let seed = 7;
  const byte = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const labels: number[] = [];
  let first: number[] = [];
  const batch = (name: string, n: number) => {
    const buf = Buffer.alloc(n * 3073);
    for (let r = 0; r < n; r++) {
      buf[r * 3073] = byte() % 10;
      labels.push(buf[r * 3073]);
      for (let p = 0; p < 3072; p++) buf[r * 3073 + 1 + p] = byte();
    }
    if (first.length === 0) first = [buf[1], buf[1 + 1024], buf[1 + 2048], buf[2]]; // R,G,B of pixel 0, R of pixel 1
    writeFileSync(join(dir, name), buf);
  };
  batch('data_batch_1.bin', 5);
  batch('data_batch_2.bin', 5);
  batch('test_batch.bin', 4);
  writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  return { labels, firstPixels: first };
}

function writeImageFolder(dir: string, images: Float32Array, labels: Int32Array, count: number, split: 'train' | 'test', jpg: boolean): void {
  for (let i = 0; i < count; i++) {
    const cdir = join(dir, split, `class_${labels[i]}`);
    mkdirSync(cdir, { recursive: true });
    const rgba = Buffer.alloc(8 * 8 * 4);
    for (let p = 0; p < 64; p++) {
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round(images[(i * 64 + p) * 3 + c] * 255);
      rgba[p * 4 + 3] = 255;
    }
    if (jpg && i % 2 === 1) {
      writeFileSync(join(cdir, `${i}.jpg`), jpeg.encode({ data: rgba, width: 8, height: 8 }, 100).data);
    } else {
      const png = new PNG({ width: 8, height: 8 });
      rgba.copy(png.data);
      writeFileSync(join(cdir, `${i}.png`), PNG.sync.write(png));
    }
  }
}

async function main(): Promise<void> {
  await useBackend('cpu');
  const data = loadNpz(join(OUT, 'data.npz'));
  const model = buildModel();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor4d(data.train.images, [data.train.count, 8, 8, 3]);
  const ys = tf.tensor1d(data.train.labels, 'float32');
  await model.fit(xs, ys, { epochs: 120, batchSize: 16, shuffle: false, verbose: 0 });
  const xt = tf.tensor4d(data.test.images, [data.test.count, 8, 8, 3]);
  const probs = model.predict(xt) as tf.Tensor2D;
  const pred = tf.argMax(probs, 1).dataSync();
  let correct = 0;
  for (let i = 0; i < data.test.count; i++) if (pred[i] === data.test.labels[i]) correct++;
  const rows = probs
    .arraySync()
    .slice(0, 8)
    .map((r) => r.map((v) => Number(v.toFixed(7))));

  await writeKeras2(model, join(OUT, 'keras_cnn.h5'));
  const tmp = join(OUT, '.tmp');
  mkdirSync(tmp, { recursive: true });
  await writeKeras3(model, join(OUT, 'keras_cnn.keras'), tmp);
  rmSync(tmp, { recursive: true, force: true });
  writeGraphModel(model, join(OUT, 'graph'));
  rmSync(join(OUT, 'cifar'), { recursive: true, force: true });
  const cifar = writeCifar(join(OUT, 'cifar'));
  rmSync(join(OUT, 'images'), { recursive: true, force: true });
  writeImageFolder(join(OUT, 'images'), data.train.images, data.train.labels, 12, 'train', false);
  writeImageFolder(join(OUT, 'images'), data.test.images, data.test.labels, 8, 'test', true);

  const ref = {
    generatedBy: `@tensorflow/tfjs-layers ${tf.version_core}, cpu backend`,
    layout: 'NHWC',
    defaultLayer: 'conv2',
    featureShape: [4, 4, 8],
    testAccuracy: correct / data.test.count,
    testOutputs: rows,
    cifar,
  };
  writeFileSync(join(OUT, 'keras_ref.json'), JSON.stringify(ref, null, 1));
  process.stdout.write(`keras fixture test accuracy ${(correct / data.test.count).toFixed(3)}; wrote ${OUT}\n`);
}

/** Trains the teacher and its exemplars, then runs `feature-complexity analyze` from the built bundle. */
async function writeEngineResult(): Promise<void> {
  await useBackend('wasm');
  // A fixed folder: the checkpoint and exemplar paths are recorded in the result file.
  const models = join(tmpdir(), 'fc-engine-result-fixture');
  rmSync(models, { recursive: true, force: true });
  const [teacher, exemplarA, exemplarB] = ['teacher', 'exemplar-a', 'exemplar-b'].map((n) => join(models, n));
  for (const [dir, seed] of [
    [teacher, 0],
    [exemplarA, 1],
    [exemplarB, 2],
  ] as const) {
    await trainDemoTeacher(dir, seed);
    process.stdout.write(`trained ${dir} (seed ${seed})\n`);
  }
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: ROOT });
  const args = [
    'analyze',
    teacher,
    '--data',
    demoDataDir(),
    '--exemplars',
    `${exemplarA},${exemplarB}`,
    '--orders',
    '0,2',
    '--width',
    '8',
    '--budget',
    'quick',
    '--backend',
    'wasm',
    '--seed',
    '0',
    '--out',
    ENGINE_RESULT,
  ];
  execFileSync(process.execPath, [join(ROOT, 'dist', 'engine.js'), ...args], { stdio: 'inherit', cwd: ROOT });
  rmSync(models, { recursive: true, force: true });
  process.stdout.write(`wrote ${ENGINE_RESULT}\n`);
}

(process.argv[2] === 'results' ? writeEngineResult() : main()).catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
