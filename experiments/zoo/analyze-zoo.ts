/**
 * Analyses models of the zoo (train-zoo.ts) with the same cheap settings and the two exemplars
 * for reliability, then fits the predictor of METHOD.md §5 over the results and prints
 * reliability against the number of training samples (paper Fig. 6 right).
 * Resumable: a model whose result file is there and complete is not analysed again.
 *
 *   npm run build && nice -n 19 node --import tsx experiments/zoo/analyze-zoo.ts [--method joint|target-phi]
 *       [--depths 2,3] [--seeds 1,2,3,4] [--sizes 200,...] [--limit N] [--report-only] [--shapley] [--tag T]
 *       [--peers [--peer-count 2]] [--exemplar-set small|full] [--family cnn|gap] [--width 8] [--jobs N]
 *
 * The analyses run as the product's zoos (`feature-complexity zoo`): one zoo per training-set size
 * (its dataset) and exemplar set — per teacher with `--peers` —, named
 * `<family>-<method>-n<size>[-fullex][-wW]`, in $ZOO/.feature-complexity/zoos/, each row in its own
 * engine process, `--jobs` at a time (default 1). `feature-complexity zoo status NAME --workspace $ZOO`
 * follows them; `zoo submit NAME --slurm --workspace $ZOO` hands a planned one to a cluster. Result
 * files of the runs before the zoos (below) are still read, and those teachers are not analysed again.
 *
 * Before the zoos, `--method joint` (default) wrote to $ZOO/results-joint, `target-phi` to $ZOO/results.
 * The predictor's report goes to $ZOO/predict[-joint][-T].json and the table of reliability by
 * size to $ZOO/reliability[-joint][-T].txt.
 *
 * `--peers`: instead of the two fixed exemplars, each teacher's exemplars are other seeds of the
 * same depth and number of training samples (the next `--peer-count` seeds, cyclically; default 2,
 * so K = 3 as with the exemplars). Results go to $ZOO/results-peers[N]-<method>/, reports to
 * predict-peers[N][-joint][-T].json and reliability-peers[N][-joint][-T].txt (N: the peer count, when not 2).
 *
 * `--exemplar-set full`: the second fixed pair (`exemplar-full-a`, `-b`, trained on the 55,000
 * images no teacher sees, common.ts) instead of `exemplar-a`, `-b`. Results go to
 * $ZOO/results[-joint]-fullex/, reports to predict[-joint]-fullex[-T].json and
 * reliability[-joint]-fullex[-T].txt.
 *
 * `--family gap`: the gap-head teachers (common.ts, train-zoo.ts --family gap) instead of the
 * `cnn` ones; `-gap` is appended to the results folder and to the report names (after `-fullex`).
 * `--width N`: the disentanglers' width (default 8); another width appends `-wN` after that.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { planZoo } from '../../src/analysis/zoo/manifest';
import { runLocal } from '../../src/analysis/zoo/runner';
import { zooStatus } from '../../src/analysis/zoo/status';
import { formatPredictReport, predictFromResults, readPredictSource } from '../../src/analysis/experiments/predict';
import { BadInputError } from '../../src/analysis/util/errors';
import type { ReliabilityMethod } from '../../src/shared/engineProtocol';
import type { ResultFile } from '../../src/analysis/pipeline/result';
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
  resultPath,
  resultsDir as resultsDirOf,
  zooModels,
  type ExemplarSet,
  type ZooFamily,
  type ZooModel,
} from './common';

/** The zoo's analysis settings: the four lowest orders (the predictor's vector), width 8, the quick budget. */
export const ZOO_ORDERS = [0, 1, 2, 4];
export const ZOO_WIDTH = 8;

/** Where results go: the exemplar runs in results[-joint]/, the peer runs in results-peers[N]-<method>/ (N = peers when not 2). */
function peersDir(method: ReliabilityMethod, peerCount: number, family: ZooFamily, width: number): string {
  return join(ZOO_DIR, `results-peers${peerCount === 2 ? '' : peerCount}-${method}${familySuffix(family)}${widthSuffix(width)}`);
}

/** Runs with a disentangler width other than ZOO_WIDTH go to folders and reports named `-w<width>`. */
const widthSuffix = (width: number): string => (width === ZOO_WIDTH ? '' : `-w${width}`);

function outPath(m: ZooModel, method: ReliabilityMethod, peers: number, set: ExemplarSet, width: number): string {
  if (peers > 0) return join(peersDir(method, peers, m.family, width), `${m.name}.json`);
  return width === ZOO_WIDTH ? resultPath(m.name, method, set, m.family) : join(resultsDirOf(method, set, m.family) + widthSuffix(width), `${m.name}.json`);
}

/** The built engine (npm run build) that runs each row. */
const ENGINE = [process.execPath, join(__dirname, '..', '..', 'dist', 'engine.js')];

/** The product zoo a teacher's analysis belongs to: one per dataset (training-set size) and exemplar set. */
function zooName(m: ZooModel, method: ReliabilityMethod, peers: number, set: ExemplarSet, width: number): string {
  const what = peers > 0 ? `peers${peers}-${m.name}` : `n${m.samples}${exemplarSuffix(set)}`;
  return `${m.family}-${method}-${what}${widthSuffix(width)}`;
}

/** The analyze flags of the zoo's settings (orders 0,1,2,4, quick, wasm, seed 0). */
function zooFlags(method: ReliabilityMethod, width: number, exemplars: string[], shapley: boolean): string[] {
  const flags = ['--orders', ZOO_ORDERS.join(','), '--width', String(width), '--budget', 'quick', '--backend', 'wasm', '--seed', '0'];
  flags.push('--exemplars', exemplars.join(','), '--reliability-method', method);
  return shapley ? [...flags, '--shapley', '--substitution'] : flags;
}

/**
 * A teacher's finished analysis: the row of its product zoo, else a result file of the runs
 * before the zoos (results[-joint]…/<name>.json), so earlier runs are not analysed again.
 */
function resultOf(m: ZooModel, method: ReliabilityMethod, peers: number, set: ExemplarSet, width: number): { path: string; result: ResultFile } | undefined {
  const zoo = join(ZOO_DIR, '.feature-complexity', 'zoos', zooName(m, method, peers, set, width));
  const row = existsSync(join(zoo, 'zoo.json')) ? zooStatus(zoo, () => undefined).rows.find((r) => r.checkpoint === modelDir(m.name)) : undefined;
  const path = row?.result ?? outPath(m, method, peers, set, width);
  return done(path, method) ? { path, result: JSON.parse(readFileSync(path, 'utf8')) as ResultFile } : undefined;
}

function done(path: string, method: ReliabilityMethod): boolean {
  if (!existsSync(path)) return false;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as ResultFile;
    // Files written before `reliabilitySettings` existed are target-Φ ones.
    return r.complete && Array.isArray(r.reliability) && (r.reliabilitySettings?.method ?? 'target-phi') === method;
  } catch {
    return false;
  }
}

/** Seed 1 of every size and depth first, so a partial run already spans all sizes. */
function schedule(models: ZooModel[]): ZooModel[] {
  return [...models].sort((a, b) => a.seed - b.seed || a.depth - b.depth || a.samples - b.samples);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1));
}

/** Σ_l Var[c_rel⁽ˡ⁾] / (Σ_l Var[c_rel⁽ˡ⁾] + Σ_l Var[c_unrel⁽ˡ⁾]): the reliable share of the components. */
export function reliableShare(r: ResultFile): number {
  const rel = r.reliability!.reduce((a, x) => a + x.reliableVariance, 0);
  const unrel = r.reliability!.reduce((a, x) => a + x.unreliableVariance, 0);
  return rel / (rel + unrel);
}

/** Mean per size of the reliable share, of Var[c_rel]/Var[c] per order, and of test accuracy (± sd over models). */
export function reliabilityBySamples(results: { model: ZooModel; result: ResultFile }[]): string {
  const orders = results[0]?.result.reliability?.map((x) => x.order) ?? [];
  const head = ['samples', 'models', 'test acc', 'Σrel/Var f', 'Σunrel/Var f', 'share ± sd', ...orders.map((o) => `ρ_rel(${o})`)];
  const lines = [head.map((h) => h.padStart(13)).join('')];
  for (const n of SAMPLE_SIZES) {
    const rs = results.filter((r) => r.model.samples === n && r.result.reliability);
    if (rs.length === 0) continue;
    const rel = rs.map((r) => r.result.reliability!.reduce((a, x) => a + x.reliableVariance, 0));
    const unrel = rs.map((r) => r.result.reliability!.reduce((a, x) => a + x.unreliableVariance, 0));
    const share = rs.map((r) => reliableShare(r.result));
    const acc = rs.map((r) => r.result.teacher.testAccuracy);
    const perOrder = orders.map((o) => mean(rs.map((r) => r.result.reliability!.find((x) => x.order === o)?.reliableRho ?? NaN)));
    const cells = [
      String(n),
      String(rs.length),
      mean(acc).toFixed(3),
      mean(rel).toFixed(3),
      mean(unrel).toFixed(3),
      `${mean(share).toFixed(3)}±${sd(share).toFixed(3)}`,
      ...perOrder.map((v) => v.toFixed(3)),
    ];
    lines.push(cells.map((c) => c.padStart(13)).join(''));
  }
  return lines.join('\n') + '\n';
}

/** Spearman rank correlation of two lists (average ranks for ties). */
export function spearman(x: number[], y: number[]): number {
  const rank = (v: number[]) => {
    const idx = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < idx.length;) {
      let j = i;
      while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
      for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const rx = rank(x);
  const ry = rank(y);
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const list = (s: string | undefined, fallback: number[]): number[] => (s ? s.split(',').map(Number) : fallback);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      method: { type: 'string' },
      depths: { type: 'string' },
      seeds: { type: 'string' },
      sizes: { type: 'string' },
      limit: { type: 'string' },
      'report-only': { type: 'boolean' },
      shapley: { type: 'boolean' },
      repeats: { type: 'string' },
      tag: { type: 'string' },
      peers: { type: 'boolean' },
      'peer-count': { type: 'string' },
      'exemplar-set': { type: 'string' },
      family: { type: 'string' },
      width: { type: 'string' },
      jobs: { type: 'string' },
    },
  });
  const jobs = values.jobs ? Number(values.jobs) : 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, got ${values.jobs}`);
  const width = values.width ? Number(values.width) : ZOO_WIDTH;
  if (!Number.isInteger(width) || width < 1) throw new Error(`--width must be a positive integer, got ${values.width}`);
  const family = parseFamily(values.family);
  const exemplarSet = parseExemplarSet(values['exemplar-set']);
  if (values.peers && values['exemplar-set']) throw new Error('--peers and --exemplar-set exclude each other');
  const EXEMPLARS = EXEMPLAR_SETS[exemplarSet];
  const method = (values.method ?? 'joint') as ReliabilityMethod;
  if (method !== 'joint' && method !== 'target-phi') throw new Error(`--method joint|target-phi, got ${method}`);
  const depths = list(values.depths, FAMILY_DEPTHS[family]);
  const seeds = list(values.seeds, [1, 2, 3, 4]);
  const sizes = list(values.sizes, SAMPLE_SIZES);
  const models = zooModels(family).filter((m) => depths.includes(m.depth) && seeds.includes(m.seed) && sizes.includes(m.samples));
  const peers = values.peers ?? false;
  const peerCount = values['peer-count'] ? Number(values['peer-count']) : 2;
  const fixed = EXEMPLARS.map(modelDir);
  if (!peers)
    for (const e of fixed) if (!existsSync(join(e, 'model.json'))) throw new Error(`exemplar ${e} is missing: run experiments/zoo/train-zoo.ts first`);
  const peerArg = peers ? peerCount : 0;
  let left = values.limit ? Number(values.limit) : Infinity;
  if (!values['report-only']) {
    // The product's own zoos (`feature-complexity zoo`, src/analysis/zoo/): one a dataset and
    // exemplar set, in $ZOO/.feature-complexity/zoos/, each row in its own engine process, --jobs at a time.
    const groups = new Map<string, { exemplars: string[]; samples: number; models: ZooModel[] }>();
    for (const m of schedule(models)) {
      if (resultOf(m, method, peerArg, exemplarSet, width) || !existsSync(join(modelDir(m.name), 'model.json'))) continue;
      const exemplars = peers ? peersOf(m, peerCount).map((p) => modelDir(p.name)) : fixed;
      const missing = exemplars.filter((e) => !existsSync(join(e, 'model.json')));
      if (missing.length > 0) {
        process.stdout.write(`${m.name}: skipped, exemplars missing: ${missing.join(', ')}\n`);
        continue;
      }
      if (left-- <= 0) break;
      const name = zooName(m, method, peerArg, exemplarSet, width);
      const g = groups.get(name) ?? { exemplars, samples: m.samples, models: [] };
      g.models.push(m);
      groups.set(name, g);
    }
    if (groups.size > 0 && !existsSync(ENGINE[1])) throw new Error(`${ENGINE[1]} is missing: run npm run build first`);
    for (const [name, g] of groups) {
      const list = join(ZOO_DIR, 'lists', `${name}.txt`);
      mkdirSync(dirname(list), { recursive: true });
      writeFileSync(list, g.models.map((m) => modelDir(m.name)).join('\n') + '\n');
      const { dir } = planZoo({
        source: list,
        name,
        data: dataDir(g.samples),
        args: zooFlags(method, width, g.exemplars, values.shapley ?? false),
        workspace: ZOO_DIR,
      });
      const t0 = performance.now();
      const run = await runLocal(dir, { jobs, engine: ENGINE, onRowEnd: (i, ok) => process.stdout.write(`${name} row ${i} ${ok ? 'done' : 'FAILED'}\n`) });
      process.stdout.write(
        `${name}: ${run.done} done, ${run.failed} failed in ${((performance.now() - t0) / 1000).toFixed(0)} s (zoo status ${name} --workspace ${ZOO_DIR})\n`,
      );
      for (const m of g.models) {
        const r = resultOf(m, method, peerArg, exemplarSet, width)?.result;
        if (!r) continue;
        const fits = (r.reliabilitySettings?.perOrder ?? []).map((p) => p.headFit.map((x) => x.toFixed(2)).join('/')).join(' ');
        process.stdout.write(
          `${m.name}  test acc ${r.teacher.testAccuracy.toFixed(3)}  ρ ${r.components.map((c) => c.rho.toFixed(2)).join(' ')}  ρ_rel ${(r.reliability ?? []).map((x) => x.reliableRho.toFixed(2)).join(' ')}` +
            `  share ${r.reliability ? reliableShare(r).toFixed(3) : '-'}  head fits ${fits}${r.errors ? `  errors: ${JSON.stringify(r.errors)}` : ''}\n`,
        );
      }
    }
  }
  const results = models.flatMap((m) => {
    const r = resultOf(m, method, peerArg, exemplarSet, width);
    return r ? [{ model: m, ...r }] : [];
  });
  const suffix =
    (peers ? `-peers${peerCount === 2 ? '' : peerCount}` : '') +
    (method === 'joint' ? '-joint' : '') +
    exemplarSuffix(exemplarSet) +
    familySuffix(family) +
    widthSuffix(width) +
    (values.tag ? `-${values.tag}` : '');
  const against = peers ? `exemplars: the next ${peerCount} seeds of the same depth and size` : `exemplars: ${EXEMPLARS.join(', ')}`;
  let text = `${results.length} analysed models (reliability method ${method}; ${against})\n\nReliability against training samples (means per size):\n`;
  text += reliabilityBySamples(results);
  if (results.length >= 3) {
    const rho = spearman(
      results.map((r) => r.model.samples),
      results.map((r) => reliableShare(r.result)),
    );
    text += `Spearman rank correlation of the reliable share with the number of training samples, over the ${results.length} models: ${rho.toFixed(3)}\n`;
  }
  if (results.length >= 5) {
    const inputs = results.map((r) => ({ path: r.path, result: readPredictSource(r.path) }));
    try {
      const report = predictFromResults(inputs, { target: 'accuracy', repeats: values.repeats ? Number(values.repeats) : 1000, seed: 0 });
      text += '\n' + formatPredictReport(report);
      writeFileSync(
        join(ZOO_DIR, `predict${suffix}.json`),
        JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n',
      );
    } catch (e) {
      // Too few models for the predictor is not a failure of the run: the table above stands.
      if (!(e instanceof BadInputError)) throw e;
      text += `\nNo accuracy predictor: ${e.message}\n`;
    }
  }
  process.stdout.write('\n' + text);
  writeFileSync(join(ZOO_DIR, `reliability${suffix}.txt`), text);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
