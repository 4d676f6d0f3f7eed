/**
 * Shared settings of the Fashion-MNIST model zoo (METHOD.md §5): where it lives, which
 * teachers it holds, and the per-size dataset folders each teacher is trained and analysed on.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/analysis/util/random';
import type { Split } from '../../src/analysis/data/dataset';

/** Outside git: `$FC_ZOO_DIR`, else a `fc-zoo` folder beside the repository. */
export const ZOO_DIR = resolve(process.env.FC_ZOO_DIR ?? join(__dirname, '..', '..', '..', 'fc-zoo'));
export const FASHION_MNIST = process.env.FC_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';

export const SAMPLE_SIZES = [200, 500, 1000, 2000, 5000];
export const DEPTHS = [2, 3];
export const SEEDS = [1, 2, 3, 4];
/** Test samples every zoo dataset folder holds (the same ones for every size). */
export const TEST_SAMPLES = 1000;
/** Training samples of the two exemplars (a large subset: the full 60k is too slow to train on two shared CPU cores). */
export const EXEMPLAR_SAMPLES = 13000;

/**
 * Teacher families: `cnn` (the original zoo: 2–3 convs, a flatten + dense head, trained for
 * 12k–40k sample passes) and `gap` (three conv + batch-norm blocks, 16–32–64 channels, a global
 * average pooling head as in the paper's ResNets, trained to 0.90–1.00 training accuracy).
 */
export type ZooFamily = 'cnn' | 'gap';
export const FAMILY_DEPTHS: Record<ZooFamily, number[]> = { cnn: DEPTHS, gap: [3] };

export function parseFamily(s: string | undefined): ZooFamily {
  const f = s ?? 'cnn';
  if (f !== 'cnn' && f !== 'gap') throw new Error(`--family cnn|gap, got ${f}`);
  return f;
}

/** Suffix of the output files of a family: '' for `cnn`, '-gap' for `gap`. */
export const familySuffix = (family: ZooFamily): string => (family === 'cnn' ? '' : `-${family}`);

export interface ZooModel {
  name: string;
  family: ZooFamily;
  samples: number;
  depth: number;
  seed: number;
}

export const zooModelName = (family: ZooFamily, depth: number, samples: number, seed: number): string => `${family}-d${depth}-n${samples}-s${seed}`;

export function zooModels(family: ZooFamily = 'cnn'): ZooModel[] {
  const out: ZooModel[] = [];
  for (const samples of SAMPLE_SIZES)
    for (const depth of FAMILY_DEPTHS[family])
      for (const seed of SEEDS) out.push({ name: zooModelName(family, depth, samples, seed), family, samples, depth, seed });
  return out;
}

export const EXEMPLARS = ['exemplar-a', 'exemplar-b'];

/**
 * Exemplar sets: `small` is the original pair (`EXEMPLARS`: 8,000 samples, 4 epochs); `full` is
 * a pair of the same architecture trained on every training image no zoo teacher sees (the
 * permutation's tail after the first 5,000: 55,000 images), closer to the paper's exemplars
 * ("learned on the entire … dataset with different initial parameters").
 */
export type ExemplarSet = 'small' | 'full';
export const EXEMPLAR_SETS: Record<ExemplarSet, string[]> = { small: EXEMPLARS, full: ['exemplar-full-a', 'exemplar-full-b'] };
/** The weight-initialisation seeds of each set's exemplars (exemplarNet(seed)). */
export const EXEMPLAR_SEEDS: Record<ExemplarSet, number[]> = { small: [11, 12], full: [21, 22] };
/** Suffix of the output files of an exemplar set: '' for the original pair, '-fullex' for the full one. */
export const exemplarSuffix = (set: ExemplarSet): string => (set === 'full' ? '-fullex' : '');

export function parseExemplarSet(s: string | undefined): ExemplarSet {
  const set = s ?? 'small';
  if (set !== 'small' && set !== 'full') throw new Error(`--exemplar-set small|full, got ${set}`);
  return set;
}

/**
 * The peers of a teacher: the next `count` seeds (cyclically over the zoo's seeds) of the same
 * depth and number of training samples, as zoo models.
 */
export function peersOf(m: ZooModel, count: number): ZooModel[] {
  const i = SEEDS.indexOf(m.seed);
  if (i < 0) throw new Error(`seed ${m.seed} is not a zoo seed`);
  if (count < 1 || count > SEEDS.length - 1) throw new Error(`--peer-count must be 1..${SEEDS.length - 1}, got ${count}`);
  return Array.from({ length: count }, (_, k) => {
    const seed = SEEDS[(i + 1 + k) % SEEDS.length];
    return { name: zooModelName(m.family, m.depth, m.samples, seed), family: m.family, samples: m.samples, depth: m.depth, seed };
  });
}

export const modelDir = (name: string): string => join(ZOO_DIR, 'models', name);
export const dataDir = (samples: number): string => join(ZOO_DIR, 'data', `n${samples}`);
/**
 * Result files of one reliability method: `results/` holds the target-Φ ones, `results-joint/` the
 * joint ones (`-fullex` appended for the full exemplar set, then `-gap` for the gap family).
 */
export const resultsDir = (method: 'joint' | 'target-phi' = 'target-phi', set: ExemplarSet = 'small', family: ZooFamily = 'cnn'): string =>
  join(ZOO_DIR, (method === 'joint' ? 'results-joint' : 'results') + exemplarSuffix(set) + familySuffix(family));
export const resultPath = (name: string, method: 'joint' | 'target-phi' = 'target-phi', set: ExemplarSet = 'small', family: ZooFamily = 'cnn'): string =>
  join(resultsDir(method, set, family), `${name}.json`);

/**
 * The training samples of every zoo dataset are prefixes of one seeded permutation of the 60k,
 * so the n = 200 set is inside the n = 500 set and so on; the test samples are fixed.
 */
export function trainOrder(count: number): Int32Array {
  return new Rng(2021).choose(count, count);
}

function idxHeader(magic: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

/** Writes `indices` of `split` as raw IDX files (pixels back to bytes: the split holds x/255). */
export function writeIdx(dir: string, prefix: 'train' | 't10k', split: Split, indices: ArrayLike<number>): void {
  mkdirSync(dir, { recursive: true });
  const size = split.height * split.width;
  const px = Buffer.alloc(indices.length * size);
  const lb = Buffer.alloc(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * size;
    for (let p = 0; p < size; p++) px[i * size + p] = Math.round(split.images[src + p] * 255);
    lb[i] = split.labels[indices[i]];
  }
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), Buffer.concat([idxHeader(0x803, [indices.length, split.height, split.width]), px]));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), Buffer.concat([idxHeader(0x801, [indices.length]), lb]));
}

export function exists(path: string): boolean {
  return existsSync(path);
}
