/**
 * `feature-complexity demo`: needs nothing but the repository. Trains a small CNN teacher on the
 * shipped Fashion-MNIST subset (media/demo/fashion-mnist) with tfjs-layers, saves it as a TF.js
 * model in a cache folder (reused on the next run), and analyses it.
 */
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { analyze } from '../pipeline/analyze';
import { tf, useBackend } from '../tf/backend';
import { loadDataset } from '../data/dataset';
import type { BackendChoice, Budget } from '../../shared/engineProtocol';
import type { ResultFile } from '../pipeline/result';
import { saveLayersModel } from '../teacher/teacher';
import type { Hooks } from '../pipeline/train';

/** Disentangler width of the demo: 16 keeps the eight orders within minutes on two CPU cores. */
export const DEMO_WIDTH = 16;
const TEACHER_EPOCHS = 8;

export interface DemoOptions {
  budget?: Budget;
  backend?: BackendChoice;
  /** Threads a training step is split over (default: the machine's cores). */
  threads?: number;
  seed?: number;
  width?: number;
  orders?: number[];
  out?: string;
  /** Train the teacher again even if the cache has one. */
  retrain?: boolean;
  /** Where the teacher and the result go; default: ~/.cache/feature-complexity/demo. */
  cacheDir?: string;
}

/** The shipped subset: beside the bundle (dist/ → ../media) or from the sources (src/analysis/experiments → ../../../media). */
export function demoDataDir(): string {
  for (const up of [['..'], ['..', '..', '..']]) {
    const p = join(__dirname, ...up, 'media', 'demo', 'fashion-mnist');
    if (existsSync(join(p, 'train-images-idx3-ubyte.gz'))) return p;
  }
  throw new Error('the demo data (media/demo/fashion-mnist) is missing from this installation');
}

function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'feature-complexity', 'demo');
}

/** The demo teacher: two conv blocks (8 and 16 channels, 3×3, ReLU, 2×2 max-pool) and a softmax layer. */
export function demoTeacher(seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.heNormal({ seed: seed * 10 + k });
  const m = tfl.sequential({ name: 'demo_cnn' });
  m.add(
    tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'conv1' }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'conv2' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  m.add(tfl.layers.flatten({ name: 'flatten' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 10 + 3 }), name: 'classifier' }));
  return m;
}

export async function trainDemoTeacher(dir: string, seed: number, onEpoch?: (epoch: number, loss: number) => void): Promise<void> {
  const data = loadDataset(demoDataDir());
  const { train } = data;
  const x = tf.tensor4d(train.images, [train.count, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10);
  const model = demoTeacher(seed);
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  // No shuffling: tfjs shuffles with Math.random, which would make the teacher differ per run.
  await model.fit(x, y, {
    epochs: TEACHER_EPOCHS,
    batchSize: 32,
    shuffle: false,
    verbose: 0,
    callbacks: { onEpochEnd: async (epoch, logs) => onEpoch?.(epoch + 1, logs?.loss ?? NaN) },
  });
  await saveLayersModel(model, dir);
  tf.dispose([x, y]);
  model.dispose();
}

export interface DemoResult {
  checkpoint: string;
  resultFile: string;
  result: ResultFile;
  seconds: number;
}

export async function runDemo(opts: DemoOptions, hooks: Hooks = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? 0;
  await useBackend(opts.backend ?? 'auto');
  const root = opts.cacheDir ?? cacheRoot();
  const checkpoint = join(root, `teacher-seed${seed}`);
  if (opts.retrain || !existsSync(join(checkpoint, 'model.json'))) {
    hooks.progress?.({ stage: 'demo teacher', fraction: 0 });
    await trainDemoTeacher(checkpoint, seed, (epoch, loss) => hooks.progress?.({ stage: 'demo teacher', fraction: 0, epoch, loss }));
  }
  const out = opts.out ?? join(root, `demo-${opts.budget ?? 'quick'}-seed${seed}.json`);
  const res = await analyze(
    {
      checkpoint,
      data: demoDataDir(),
      orders: opts.orders,
      budget: opts.budget ?? 'quick',
      backend: opts.backend ?? 'auto',
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      seed,
      width: opts.width ?? DEMO_WIDTH,
      out,
      progressToken: 'demo',
    },
    hooks,
  );
  return { checkpoint, resultFile: res.resultFile, result: res.result, seconds: (performance.now() - t0) / 1000 };
}
