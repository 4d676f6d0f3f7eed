/**
 * A check on the zoo that needs no disentangler: how much of each teacher's target feature the
 * two exemplars' features predict linearly (a 1×1 convolution from their 64 channels, plus a
 * shift), and how much of the exemplars' features the teacher's predicts — knowledge
 * consistency in the sense of Liang et al. (2019), which the paper's reliability builds on.
 * Fitted on the first half of the zoo's fixed test images, scored (R²) on the second half, so
 * every model is measured on the same images whatever its training-set size.
 *
 *   nice -n 19 node --import tsx experiments/zoo/consistency.ts [--depths 2,3] [--seeds 1,2] [--sizes ...]
 *       [--peers [--peer-count 2]] [--exemplar-set small|full] [--family cnn|gap]
 *
 * Also, per teacher, how much of its trained feature the same network at its initial weights
 * predicts linearly (R² untrained→target): how far training moved the feature from random; and
 * its accuracy on its own training set.
 * `--family gap`: the gap-head teachers (common.ts); the output file gets `-gap` appended.
 * Writes $ZOO/consistency.json and prints the means per size. `--exemplar-set full`: the second
 * exemplar pair (trained on the 55,000 images no teacher sees, common.ts); writes
 * $ZOO/consistency-fullex.json. `--peers`: the "exemplars" of each
 * teacher are the next seeds of the same depth and size (as analyze-zoo --peers); writes
 * $ZOO/consistency-peers.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { useBackend, tf } from '../../src/analysis/tf/backend';
import { loadDataset } from '../../src/analysis/data/dataset';
import { fitLinearHeads } from '../../src/analysis/metrics/reliability';
import type { TeacherRuntime } from '../../src/analysis/teacher/teacherSource';
import { layersTeacher, loadTeacher, mapBatchesAsync, teacherStats } from '../../src/analysis/teacher/teacher';
import {
  EXEMPLAR_SETS,
  FAMILY_DEPTHS,
  SAMPLE_SIZES,
  ZOO_DIR,
  dataDir,
  exemplarSuffix,
  familySuffix,
  modelDir,
  parseExemplarSet,
  parseFamily,
  peersOf,
  zooModels,
} from './common';
import { familyTeacher } from './train-zoo';

async function features(t: TeacherRuntime, split: ReturnType<typeof loadDataset>['test'], indices: Int32Array): Promise<tf.Tensor4D> {
  const { data } = await mapBatchesAsync(split, indices, 250, (x) => t.runTrunk(x));
  const [h, w, c] = t.featureShape;
  return tf.tensor4d(data, [indices.length, h, w, c]);
}

/** R² on (xTest, yTest) of the least-squares 1×1 map with shift fitted on (xFit, yFit). */
async function linearR2(xFit: tf.Tensor4D, yFit: tf.Tensor4D, xTest: tf.Tensor4D, yTest: tf.Tensor4D): Promise<number> {
  const mx = tf.mean(xFit, [0, 1, 2]);
  const my = tf.mean(yFit, [0, 1, 2]);
  const xc = tf.sub(xFit, mx);
  const yc = tf.sub(yFit, my);
  const [w] = await fitLinearHeads(xc, [yc]);
  const wt = tf.tensor2d(w.to2DArray());
  const r = tf.tidy(() => {
    const c = xTest.shape[3];
    const pred = tf.add(tf.reshape(tf.matMul(tf.reshape(tf.sub(xTest, mx), [-1, c]), wt), yTest.shape), my);
    const rss = tf.sum(tf.squaredDifference(yTest, pred));
    const tss = tf.sum(tf.squaredDifference(yTest, tf.mean(yTest, 0)));
    return tf.sub(1, tf.div(rss, tss));
  });
  const out = (await r.data())[0];
  tf.dispose([mx, my, xc, yc, wt, r]);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      depths: { type: 'string' },
      seeds: { type: 'string' },
      sizes: { type: 'string' },
      peers: { type: 'boolean' },
      'peer-count': { type: 'string' },
      'exemplar-set': { type: 'string' },
      family: { type: 'string' },
    },
  });
  const exemplarSet = parseExemplarSet(values['exemplar-set']);
  const EXEMPLARS = EXEMPLAR_SETS[exemplarSet];
  if (values.peers && values['exemplar-set']) throw new Error('--peers and --exemplar-set exclude each other');
  const family = parseFamily(values.family);
  const peers = values.peers ?? false;
  const peerCount = values['peer-count'] ? Number(values['peer-count']) : 2;
  const list = (s: string | undefined, d: number[]) => (s ? s.split(',').map(Number) : d);
  const depths = list(values.depths, FAMILY_DEPTHS[family]);
  const seeds = list(values.seeds, [1, 2, 3, 4]);
  const sizes = list(values.sizes, SAMPLE_SIZES);
  await useBackend('wasm');
  // The test images are the same in every zoo dataset folder.
  const test = loadDataset(dataDir(SAMPLE_SIZES[0])).test;
  const half = Math.floor(test.count / 2);
  const fitIdx = Int32Array.from({ length: half }, (_, i) => i);
  const testIdx = Int32Array.from({ length: test.count - half }, (_, i) => half + i);
  const opts = { inputShape: [test.height, test.width, test.channels] };
  // Features of every model used, computed once: { fit, test } per name.
  const cache = new Map<string, { fit: tf.Tensor4D; test: tf.Tensor4D }>();
  const feats = async (name: string) => {
    let f = cache.get(name);
    if (!f) {
      const t = await loadTeacher(modelDir(name), undefined, opts);
      f = { fit: await features(t, test, fitIdx), test: await features(t, test, testIdx) };
      await t.dispose();
      cache.set(name, f);
    }
    return f;
  };
  const concat = async (names: string[]) => {
    const fs: { fit: tf.Tensor4D; test: tf.Tensor4D }[] = [];
    for (const n of names) fs.push(await feats(n));
    return {
      fit: tf.concat(
        fs.map((e) => e.fit),
        3,
      ),
      test: tf.concat(
        fs.map((e) => e.test),
        3,
      ),
    };
  };
  const fixed = peers ? undefined : await concat(EXEMPLARS);
  const rows: {
    name: string;
    samples: number;
    depth: number;
    seed: number;
    exemplars: string[];
    exemplarsToTarget: number;
    targetToExemplars: number;
    initToTarget: number;
    trainAccuracy: number;
  }[] = [];
  for (const m of zooModels(family).filter((z) => depths.includes(z.depth) && seeds.includes(z.seed) && sizes.includes(z.samples))) {
    const exemplars = peers ? peersOf(m, peerCount).map((p) => p.name) : EXEMPLARS;
    const ex = fixed ?? (await concat(exemplars));
    const exFit = ex.fit;
    const exTest = ex.test;
    const { fit: fFit, test: fTest } = await feats(m.name);
    const e2t = await linearR2(exFit, fFit, exTest, fTest);
    const t2e = await linearR2(fFit, exFit, fTest, exTest);
    if (!fixed) tf.dispose([exFit, exTest]);
    // How far training moved the feature from its random start: the untrained network of the same
    // seed (the same initial weights) predicting the trained one linearly.
    const untrained = familyTeacher(m.family, m.depth, m.seed);
    const start = layersTeacher(untrained, 'tfjs-layers');
    const sFit = await features(start, test, fitIdx);
    const sTest = await features(start, test, testIdx);
    const i2t = await linearR2(sFit, fFit, sTest, fTest);
    tf.dispose([sFit, sTest]);
    untrained.dispose();
    // How well the teacher fits its own training set (inference mode).
    const own = loadDataset(dataDir(m.samples)).train;
    const trained = await loadTeacher(modelDir(m.name), undefined, opts);
    const { accuracy: trainAccuracy } = await teacherStats(
      trained,
      own,
      Int32Array.from({ length: own.count }, (_, i) => i),
    );
    await trained.dispose();
    rows.push({
      name: m.name,
      samples: m.samples,
      depth: m.depth,
      seed: m.seed,
      exemplars,
      exemplarsToTarget: e2t,
      targetToExemplars: t2e,
      initToTarget: i2t,
      trainAccuracy,
    });
    process.stdout.write(
      `${m.name}  R² exemplars→target ${e2t.toFixed(3)}  target→exemplars ${t2e.toFixed(3)}  untrained→target ${i2t.toFixed(3)}  train acc ${trainAccuracy.toFixed(3)}\n`,
    );
  }
  tf.dispose([...(fixed ? [fixed.fit, fixed.test] : []), ...[...cache.values()].flatMap((e) => [e.fit, e.test])]);
  writeFileSync(
    join(ZOO_DIR, `consistency${peers ? '-peers' : exemplarSuffix(exemplarSet)}${familySuffix(family)}.json`),
    JSON.stringify(rows, null, 2) + '\n',
  );
  process.stdout.write('\nsamples  models  R² exemplars→target  R² target→exemplars  R² untrained→target  train acc (means)\n');
  for (const n of sizes) {
    const rs = rows.filter((r) => r.samples === n);
    if (!rs.length) continue;
    const mean = (f: (r: (typeof rows)[number]) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    process.stdout.write(
      `${String(n).padStart(7)}  ${String(rs.length).padStart(6)}  ${mean((r) => r.exemplarsToTarget)
        .toFixed(3)
        .padStart(19)}  ${mean((r) => r.targetToExemplars)
        .toFixed(3)
        .padStart(19)}  ${mean((r) => r.initToTarget)
        .toFixed(3)
        .padStart(19)}  ${mean((r) => r.trainAccuracy)
        .toFixed(3)
        .padStart(9)}\n`,
    );
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
