/**
 * Analyses models of the zoo (train-zoo.ts) with the same cheap settings and the two exemplars
 * for reliability, then fits the predictor of METHOD.md §5 over the results and prints
 * reliability against the number of training samples (paper Fig. 6 right).
 * Resumable: a model whose result file is there and complete is not analysed again.
 *
 *   nice -n 19 node --import tsx experiments/zoo/analyze-zoo.ts [--method joint|target-phi]
 *       [--depths 2,3] [--seeds 1,2,3,4] [--sizes 200,...] [--limit N] [--report-only] [--shapley] [--tag T]
 *       [--peers [--peer-count 2]] [--exemplar-set small|full] [--family cnn|gap] [--width 8]
 *
 * `--method joint` (default) writes to $ZOO/results-joint, `target-phi` to $ZOO/results.
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
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze } from '../../src/analysis/pipeline/analyze';
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
    },
  });
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
  if (peers) mkdirSync(peersDir(method, peerCount, family, width), { recursive: true });
  else mkdirSync(resultsDirOf(method, exemplarSet, family) + widthSuffix(width), { recursive: true });
  let left = values.limit ? Number(values.limit) : Infinity;
  if (!values['report-only']) {
    for (const m of schedule(models)) {
      const out = outPath(m, method, peerArg, exemplarSet, width);
      if (done(out, method) || !existsSync(join(modelDir(m.name), 'model.json'))) continue;
      const exemplars = peers ? peersOf(m, peerCount).map((p) => modelDir(p.name)) : fixed;
      const missing = exemplars.filter((e) => !existsSync(join(e, 'model.json')));
      if (missing.length > 0) {
        process.stdout.write(`${m.name}: skipped, exemplars missing: ${missing.join(', ')}\n`);
        continue;
      }
      if (left-- <= 0) break;
      const t0 = performance.now();
      const res = await analyze({
        checkpoint: modelDir(m.name),
        data: dataDir(m.samples),
        orders: ZOO_ORDERS,
        width,
        budget: 'quick',
        backend: 'wasm',
        seed: 0,
        exemplars,
        reliabilityMethod: method,
        shapley: values.shapley ?? false,
        substitution: values.shapley ?? false,
        out,
        progressToken: 'zoo',
      });
      const r = res.result;
      const fits = (r.reliabilitySettings?.perOrder ?? []).map((p) => p.headFit.map((x) => x.toFixed(2)).join('/')).join(' ');
      process.stdout.write(
        `${m.name}  test acc ${r.teacher.testAccuracy.toFixed(3)}  ρ ${r.components.map((c) => c.rho.toFixed(2)).join(' ')}  ρ_rel ${(r.reliability ?? []).map((x) => x.reliableRho.toFixed(2)).join(' ')}` +
          `  share ${r.reliability ? reliableShare(r).toFixed(3) : '-'}${peers ? `  peers ${exemplars.map((e) => e.split('-').pop()).join(',')}` : ''}  head fits ${fits}${r.errors ? `  errors: ${JSON.stringify(r.errors)}` : ''}  ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
    }
  }
  const results = models
    .filter((m) => done(outPath(m, method, peerArg, exemplarSet, width), method))
    .map((m) => ({ model: m, result: JSON.parse(readFileSync(outPath(m, method, peerArg, exemplarSet, width), 'utf8')) as ResultFile }));
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
    const inputs = results.map((r) => ({
      path: outPath(r.model, method, peerArg, exemplarSet, width),
      result: readPredictSource(outPath(r.model, method, peerArg, exemplarSet, width)),
    }));
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
