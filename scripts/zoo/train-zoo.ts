/**
 * Trains the Fashion-MNIST model zoo (METHOD.md §5, paper Exp. 6): small CNN teachers on 200 to
 * 5000 training samples, two depths, four seeds (40 models), plus two stronger exemplars of
 * another architecture on a large subset, saved as TF.js layers models under $FC_ZOO_DIR.
 * Resumable: a model whose folder already holds model.json is skipped.
 *
 *   nice -n 19 node --import tsx scripts/zoo/train-zoo.ts [--only NAME] [--limit N]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../src/analysis/backend';
import { loadDataset, type Split } from '../../src/analysis/data/dataset';
import { saveLayersModel } from '../../src/analysis/teacher';
import { EXEMPLARS, EXEMPLAR_SAMPLES, FASHION_MNIST, SAMPLE_SIZES, TEST_SAMPLES, ZOO_DIR, dataDir, exists, modelDir, trainOrder, writeIdx, zooModels } from './common';

type T = tfl.SymbolicTensor;

/**
 * The zoo teacher: `depth` conv blocks (3×3, ReLU); the first two are followed by 2×2 max-pooling,
 * so the target feature (the last conv, fed to flatten) is 7×7×16 whatever the depth.
 */
export function zooTeacher(depth: number, seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 100 + k });
  const m = tfl.sequential({ name: `zoo_d${depth}` });
  const widths = [8, 16, 16, 16];
  for (let b = 0; b < depth; b++) {
    m.add(tfl.layers.conv2d({ ...(b === 0 ? { inputShape: [28, 28, 1] } : {}), filters: widths[b], kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(b), name: `conv${b + 1}` }));
    if (b < 2) m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: `pool${b + 1}` }));
  }
  m.add(tfl.layers.flatten({ name: 'flatten' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 50 }), name: 'classifier' }));
  return m;
}

/**
 * Exemplar: a wider, deeper net (four convs, 16–32 channels) with a dense head; its target
 * feature (the last conv) is 7×7×32. A global-average-pooling head was tried first and reached
 * only 0.76–0.82 test accuracy in the epochs affordable here, below the best zoo teachers.
 */
export function exemplarNet(seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 100 + k });
  const input = tfl.input({ shape: [28, 28, 1], name: 'image' });
  let x: T = input;
  const conv = (filters: number, k: number) => (x = tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(k), name: `conv${k}` }).apply(x) as T);
  conv(16, 1);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as T;
  conv(32, 2);
  conv(32, 3);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x) as T;
  conv(32, 4);
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as T;
  x = tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 50 }), name: 'classifier' }).apply(x) as T;
  return tfl.model({ inputs: input, outputs: x, name: 'exemplar' });
}

/** Epochs for n samples: small sets get more passes, so every teacher sees 12k–40k samples. */
export function epochsFor(n: number): number {
  return Math.min(60, Math.max(8, Math.round(12000 / n)));
}

async function fitAndSave(model: tfl.LayersModel, split: Split, n: number, epochs: number, dir: string, test: Split): Promise<{ seconds: number; testAccuracy: number }> {
  const t0 = performance.now();
  const x = tf.tensor4d(split.images.subarray(0, n * 784), [n, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(split.labels.subarray(0, n), 'int32'), 10);
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  // The samples come already in a seeded random order; tfjs's own shuffle uses Math.random.
  await model.fit(x, y, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  const xt = tf.tensor4d(test.images, [test.count, 28, 28, 1]);
  const pred = model.predict(xt) as tf.Tensor;
  const acc = tf.mean(tf.cast(tf.equal(tf.argMax(pred, 1), tf.tensor1d(test.labels, 'int32')), 'float32'));
  const testAccuracy = (await acc.data())[0];
  await saveLayersModel(model, dir);
  tf.dispose([x, y, xt, pred, acc]);
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(dir, 'zoo.json'), JSON.stringify({ samples: n, epochs, seconds, testAccuracy }, null, 2) + '\n');
  model.dispose();
  return { seconds, testAccuracy };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, limit: { type: 'string' } } });
  await useBackend('wasm');
  const full = loadDataset(FASHION_MNIST);
  const order = trainOrder(full.train.count);
  const testIdx = Int32Array.from({ length: TEST_SAMPLES }, (_, i) => i);
  const test = { ...full.test, images: full.test.images.subarray(0, TEST_SAMPLES * 784), labels: full.test.labels.subarray(0, TEST_SAMPLES), count: TEST_SAMPLES };
  for (const n of SAMPLE_SIZES) {
    if (!exists(join(dataDir(n), 'train-images-idx3-ubyte'))) {
      writeIdx(dataDir(n), 'train', full.train, order.subarray(0, n));
      writeIdx(dataDir(n), 't10k', full.test, testIdx);
    }
  }
  // Training data in the seeded order: prefixes of it are each model's training set.
  const ordered = (n: number): Split => {
    const images = new Float32Array(n * 784);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      images.set(full.train.images.subarray(order[i] * 784, (order[i] + 1) * 784), i * 784);
      labels[i] = full.train.labels[order[i]];
    }
    return { ...full.train, images, labels, count: n };
  };
  const pool = ordered(EXEMPLAR_SAMPLES);
  const jobs: { name: string; build: () => tfl.LayersModel; n: number; epochs: number; split: Split }[] = [];
  // Exemplars are trained on the tail of the permutation (samples after the largest zoo set), with their own seeds.
  const tail: Split = { ...pool, images: pool.images.subarray(5000 * 784), labels: pool.labels.subarray(5000), count: EXEMPLAR_SAMPLES - 5000 };
  EXEMPLARS.forEach((name, i) => jobs.push({ name, build: () => exemplarNet(11 + i), n: tail.count, epochs: 4, split: tail }));
  for (const m of zooModels()) jobs.push({ name: m.name, build: () => zooTeacher(m.depth, m.seed), n: m.samples, epochs: epochsFor(m.samples), split: pool });
  let left = values.limit ? Number(values.limit) : Infinity;
  for (const job of jobs) {
    if (values.only && job.name !== values.only) continue;
    if (exists(join(modelDir(job.name), 'model.json'))) continue;
    if (left-- <= 0) break;
    const r = await fitAndSave(job.build(), job.split, job.n, job.epochs, modelDir(job.name), test);
    process.stdout.write(`${job.name}  n=${job.n}  epochs=${job.epochs}  test acc ${r.testAccuracy.toFixed(4)}  ${r.seconds.toFixed(1)} s\n`);
  }
  process.stdout.write(`zoo: ${ZOO_DIR}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
