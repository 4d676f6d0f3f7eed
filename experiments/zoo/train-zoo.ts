/**
 * Trains the Fashion-MNIST model zoo (METHOD.md §5, paper Exp. 6): small CNN teachers on 200 to
 * 5000 training samples, two depths, four seeds (40 models), plus two stronger exemplars of
 * another architecture on a large subset, saved as TF.js layers models under $FC_ZOO_DIR.
 * Resumable: a model whose folder already holds model.json is skipped.
 *
 *   nice -n 19 node --import tsx experiments/zoo/train-zoo.ts [--only NAME] [--limit N] [--seeds 1,2]
 *   nice -n 19 node --import tsx experiments/zoo/train-zoo.ts --family gap [--seeds 1,2]
 *   nice -n 19 node --import tsx experiments/zoo/train-zoo.ts --exemplar-set full [--only NAME] [--epochs 3] [--time-batches N]
 *
 * `--exemplar-set full` trains only the second exemplar pair (`exemplar-full-a`, `-b`, common.ts)
 * on all 55,000 training images no teacher sees, `--epochs` passes (default 3), batch 64, Adam
 * 2e-3 halved after each epoch, a fresh seeded shuffle per epoch; it records the test accuracy on
 * the zoo's 1000 test images and on the full 10k test set. `--time-batches N` trains N batches of
 * a fresh exemplar, prints the seconds per batch and per epoch, and saves nothing.
 *
 * `--family gap` trains only the 20 teachers of the gap family (gapTeacher: batch norm, a global
 * average pooling head; gapEpochsFor; the learning rate cut tenfold for the last third) on the
 * same training sets, and records their training accuracy and loss too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../src/analysis/tf/backend';
import { loadDataset, type Split } from '../../src/analysis/data/dataset';
import { saveLayersModel } from '../../src/analysis/teacher/teacher';
import { Rng } from '../../src/analysis/util/random';
import {
  EXEMPLARS,
  EXEMPLAR_SAMPLES,
  EXEMPLAR_SEEDS,
  EXEMPLAR_SETS,
  FASHION_MNIST,
  SAMPLE_SIZES,
  TEST_SAMPLES,
  ZOO_DIR,
  dataDir,
  exists,
  modelDir,
  parseExemplarSet,
  parseFamily,
  SEEDS,
  trainOrder,
  writeIdx,
  zooModels,
  type ZooFamily,
} from './common';

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
    m.add(
      tfl.layers.conv2d({
        ...(b === 0 ? { inputShape: [28, 28, 1] } : {}),
        filters: widths[b],
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(b),
        name: `conv${b + 1}`,
      }),
    );
    if (b < 2) m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: `pool${b + 1}` }));
  }
  m.add(tfl.layers.flatten({ name: 'flatten' }));
  m.add(
    tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 50 }), name: 'classifier' }),
  );
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
  const conv = (filters: number, k: number) =>
    (x = tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(k), name: `conv${k}` }).apply(x) as T);
  conv(16, 1);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as T;
  conv(32, 2);
  conv(32, 3);
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x) as T;
  conv(32, 4);
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as T;
  x = tfl.layers
    .dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 50 }), name: 'classifier' })
    .apply(x) as T;
  return tfl.model({ inputs: input, outputs: x, name: 'exemplar' });
}

/**
 * The `gap` family teacher: three 3×3 conv blocks (conv without bias, batch norm, ReLU) of 16, 32
 * and 64 channels, 2×2 max-pooling after the first two, then global average pooling and a dense
 * softmax, like the paper's ResNets. The target feature (the last block's ReLU, fed to the
 * pooling) is 7×7×64. With only 64 pooled numbers before the classifier the convs themselves must
 * learn to fit the training set; the `cnn` family's flatten head (784 numbers) can fit 200 images
 * on features that stay close to their random initialisation.
 */
export function gapTeacher(depth: number, seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 100 + k });
  const m = tfl.sequential({ name: `zoo_gap_d${depth}` });
  const widths = [16, 32, 64, 64];
  for (let b = 0; b < depth; b++) {
    m.add(
      tfl.layers.conv2d({
        ...(b === 0 ? { inputShape: [28, 28, 1] } : {}),
        filters: widths[b],
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: init(b),
        name: `conv${b + 1}`,
      }),
    );
    m.add(tfl.layers.batchNormalization({ name: `bn${b + 1}` }));
    m.add(tfl.layers.activation({ activation: 'relu', name: `relu${b + 1}` }));
    if (b < 2) m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: `pool${b + 1}` }));
  }
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(
    tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 50 }), name: 'classifier' }),
  );
  return m;
}

/** An untrained teacher of `family` (the same initial weights as the zoo model of that depth and seed). */
export function familyTeacher(family: ZooFamily, depth: number, seed: number): tfl.LayersModel {
  return family === 'gap' ? gapTeacher(depth, seed) : zooTeacher(depth, seed);
}

/**
 * Epochs of a `gap` teacher on n samples: 60 up to 500 samples, then 30,000 sample passes, at
 * least 25: 0.90–1.00 training accuracy (inference mode, in each zoo.json) on the 20 trained. The
 * last third of the epochs runs at a tenth of the learning rate.
 */
export function gapEpochsFor(n: number): number {
  return Math.min(60, Math.max(25, Math.round(30000 / n)));
}

/** Epochs for n samples: small sets get more passes, so every teacher sees 12k–40k samples. */
export function epochsFor(n: number): number {
  return Math.min(60, Math.max(8, Math.round(12000 / n)));
}

/**
 * Trains `model` on the first n samples of `split` (Adam 2e-3, batch 32) and saves it with a
 * zoo.json. `decay`: the last third of the epochs at a tenth of the learning rate, and the
 * training set's accuracy and loss (inference mode) recorded too.
 */
async function fitAndSave(
  model: tfl.LayersModel,
  split: Split,
  n: number,
  epochs: number,
  dir: string,
  test: Split,
  decay = false,
): Promise<{ seconds: number; testAccuracy: number; trainAccuracy?: number }> {
  const t0 = performance.now();
  const x = tf.tensor4d(split.images.subarray(0, n * 784), [n, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(split.labels.subarray(0, n), 'int32'), 10);
  const opt = tf.train.adam(2e-3);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  // The samples come already in a seeded random order; tfjs's own shuffle uses Math.random.
  const first = decay ? Math.ceil((2 * epochs) / 3) : epochs;
  await model.fit(x, y, { epochs: first, batchSize: 32, shuffle: false, verbose: 0 });
  if (first < epochs) {
    (opt as unknown as { learningRate: number }).learningRate = 2e-4;
    await model.fit(x, y, { epochs: epochs - first, batchSize: 32, shuffle: false, verbose: 0 });
  }
  const testAccuracy = await accuracy(model, test);
  const extra: { trainAccuracy?: number; trainLoss?: number; learningRate?: string } = {};
  if (decay) {
    const ev = model.evaluate(x, y, { batchSize: 500 }) as tf.Scalar[];
    extra.trainLoss = (await ev[0].data())[0];
    extra.trainAccuracy = (await ev[1].data())[0];
    extra.learningRate = `2e-3 for ${first} epochs, then 2e-4`;
    tf.dispose(ev);
  }
  await saveLayersModel(model, dir);
  tf.dispose([x, y]);
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(dir, 'zoo.json'), JSON.stringify({ samples: n, epochs, seconds, testAccuracy, ...extra }, null, 2) + '\n');
  model.dispose();
  return { seconds, testAccuracy, trainAccuracy: extra.trainAccuracy };
}

/** Fraction of `split` classified right by `model`, in batches of 1000. */
async function accuracy(model: tfl.LayersModel, split: Split): Promise<number> {
  let right = 0;
  for (let i = 0; i < split.count; i += 1000) {
    const n = Math.min(1000, split.count - i);
    const r = tf.tidy(() => {
      const x = tf.tensor4d(split.images.subarray(i * 784, (i + n) * 784), [n, 28, 28, 1]);
      const pred = model.predict(x) as tf.Tensor;
      return tf.sum(tf.cast(tf.equal(tf.argMax(pred, 1), tf.tensor1d(split.labels.subarray(i, i + n), 'int32')), 'float32'));
    });
    right += (await r.data())[0];
    r.dispose();
  }
  return right / split.count;
}

export const FULL_EXEMPLAR_BATCH = 64;
export const FULL_EXEMPLAR_LR = 2e-3;

/**
 * Trains one exemplar of the full set: `epochs` passes over `train` (each in a fresh order drawn
 * from Rng(seed · 1000 + epoch)), batch 64, Adam with the learning rate halved after each epoch.
 * `timeBatches` > 0: only that many batches, timed, nothing saved.
 */
async function trainFullExemplar(name: string, seed: number, train: Split, epochs: number, test: Split, test10k: Split, timeBatches: number): Promise<void> {
  const model = exemplarNet(seed);
  const opt = tf.train.adam(FULL_EXEMPLAR_LR);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const B = FULL_EXEMPLAR_BATCH;
  const steps = Math.floor(train.count / B);
  const xb = new Float32Array(B * 784);
  const yb = new Int32Array(B);
  const t0 = performance.now();
  const perEpoch: { epoch: number; learningRate: number; seconds: number; meanLoss: number; meanBatchAccuracy: number }[] = [];
  for (let e = 0; e < epochs; e++) {
    const lr = FULL_EXEMPLAR_LR * 0.5 ** e;
    // The optimizer reads its learning rate at every step; tfjs declares the field protected.
    (opt as unknown as { learningRate: number }).learningRate = lr;
    const perm = new Rng(seed * 1000 + e).choose(train.count, train.count);
    const te = performance.now();
    let loss = 0;
    let acc = 0;
    const n = timeBatches > 0 ? Math.min(timeBatches, steps) : steps;
    for (let s = 0; s < n; s++) {
      for (let i = 0; i < B; i++) {
        const j = perm[s * B + i];
        xb.set(train.images.subarray(j * 784, (j + 1) * 784), i * 784);
        yb[i] = train.labels[j];
      }
      const x = tf.tensor4d(xb, [B, 28, 28, 1]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(yb, 'int32'), 10));
      const [l, a] = (await model.trainOnBatch(x, y)) as number[];
      tf.dispose([x, y]);
      loss += l;
      acc += a;
      if (timeBatches === 0 && (s + 1) % 200 === 0)
        process.stdout.write(
          `${name}  epoch ${e + 1}/${epochs}  step ${s + 1}/${steps}  loss ${(loss / (s + 1)).toFixed(4)}  acc ${(acc / (s + 1)).toFixed(4)}  ${((performance.now() - te) / 1000).toFixed(0)} s\n`,
        );
    }
    const seconds = (performance.now() - te) / 1000;
    if (timeBatches > 0) {
      process.stdout.write(
        `${name}: ${n} batches of ${B} in ${seconds.toFixed(1)} s: ${((seconds / n) * 1000).toFixed(1)} ms per batch, ${((seconds / n) * steps).toFixed(0)} s per epoch of ${steps} batches\n`,
      );
      model.dispose();
      return;
    }
    perEpoch.push({ epoch: e + 1, learningRate: lr, seconds, meanLoss: loss / n, meanBatchAccuracy: acc / n });
    process.stdout.write(
      `${name}  epoch ${e + 1}/${epochs}  lr ${lr}  mean loss ${(loss / n).toFixed(4)}  mean batch acc ${(acc / n).toFixed(4)}  ${seconds.toFixed(0)} s\n`,
    );
  }
  const testAccuracy = await accuracy(model, test);
  const testAccuracy10k = await accuracy(model, test10k);
  const dir = modelDir(name);
  mkdirSync(dir, { recursive: true });
  await saveLayersModel(model, dir);
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(
    join(dir, 'zoo.json'),
    JSON.stringify(
      {
        samples: steps * B,
        epochs,
        batchSize: B,
        learningRate: `${FULL_EXEMPLAR_LR}, halved after each epoch`,
        initSeed: seed,
        seconds,
        testAccuracy,
        testAccuracy10k,
        perEpoch,
      },
      null,
      2,
    ) + '\n',
  );
  model.dispose();
  process.stdout.write(
    `${name}  n=${steps * B}  epochs=${epochs}  test acc ${testAccuracy.toFixed(4)} (1000)  ${testAccuracy10k.toFixed(4)} (10k)  ${seconds.toFixed(1)} s\n`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      limit: { type: 'string' },
      'exemplar-set': { type: 'string' },
      epochs: { type: 'string' },
      'time-batches': { type: 'string' },
      family: { type: 'string' },
      seeds: { type: 'string' },
    },
  });
  const family = parseFamily(values.family);
  const seeds = values.seeds ? values.seeds.split(',').map(Number) : SEEDS;
  const set = values['exemplar-set'] === undefined ? undefined : parseExemplarSet(values['exemplar-set']);
  await useBackend('wasm');
  const full = loadDataset(FASHION_MNIST);
  const order = trainOrder(full.train.count);
  const testIdx = Int32Array.from({ length: TEST_SAMPLES }, (_, i) => i);
  const test = {
    ...full.test,
    images: full.test.images.subarray(0, TEST_SAMPLES * 784),
    labels: full.test.labels.subarray(0, TEST_SAMPLES),
    count: TEST_SAMPLES,
  };
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
  if (set === 'full') {
    // Every training image no teacher sees: the permutation's tail after the largest zoo set.
    const all = ordered(full.train.count);
    const largest = Math.max(...SAMPLE_SIZES);
    const tail: Split = { ...all, images: all.images.subarray(largest * 784), labels: all.labels.subarray(largest), count: all.count - largest };
    const epochs = values.epochs ? Number(values.epochs) : 3;
    const timeBatches = values['time-batches'] ? Number(values['time-batches']) : 0;
    const names = EXEMPLAR_SETS.full;
    for (let i = 0; i < names.length; i++) {
      if (values.only && names[i] !== values.only) continue;
      if (timeBatches === 0 && exists(join(modelDir(names[i]), 'model.json'))) continue;
      await trainFullExemplar(names[i], EXEMPLAR_SEEDS.full[i], tail, epochs, test, full.test, timeBatches);
      if (timeBatches > 0) break;
    }
    process.stdout.write(`zoo: ${ZOO_DIR}\n`);
    return;
  }
  const pool = ordered(EXEMPLAR_SAMPLES);
  const jobs: { name: string; build: () => tfl.LayersModel; n: number; epochs: number; split: Split; seed?: number; decay?: boolean }[] = [];
  // Exemplars are trained on the tail of the permutation (samples after the largest zoo set), with their own seeds.
  const tail: Split = { ...pool, images: pool.images.subarray(5000 * 784), labels: pool.labels.subarray(5000), count: EXEMPLAR_SAMPLES - 5000 };
  if (family === 'cnn')
    EXEMPLARS.forEach((name, i) => jobs.push({ name, build: () => exemplarNet(EXEMPLAR_SEEDS.small[i]), n: tail.count, epochs: 4, split: tail }));
  const gap = family === 'gap';
  for (const m of zooModels(family)) {
    jobs.push({
      name: m.name,
      seed: m.seed,
      build: () => familyTeacher(family, m.depth, m.seed),
      n: m.samples,
      epochs: gap ? gapEpochsFor(m.samples) : epochsFor(m.samples),
      split: pool,
      decay: gap,
    });
  }
  let left = values.limit ? Number(values.limit) : Infinity;
  for (const job of jobs) {
    if (values.only && job.name !== values.only) continue;
    if (job.seed !== undefined && !seeds.includes(job.seed)) continue;
    if (exists(join(modelDir(job.name), 'model.json'))) continue;
    if (left-- <= 0) break;
    const r = await fitAndSave(job.build(), job.split, job.n, job.epochs, modelDir(job.name), test, job.decay);
    const train = r.trainAccuracy === undefined ? '' : `  train acc ${r.trainAccuracy.toFixed(4)}`;
    process.stdout.write(`${job.name}  n=${job.n}  epochs=${job.epochs}${train}  test acc ${r.testAccuracy.toFixed(4)}  ${r.seconds.toFixed(1)} s\n`);
  }
  process.stdout.write(`zoo: ${ZOO_DIR}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
