/**
 * Analyses every model of the zoo (train-zoo.ts) with the same cheap settings, the two
 * exemplars for reliability and Shapley on, then fits the predictor of METHOD.md §5 over the
 * results and prints reliability against the number of training samples (paper Fig. 6 right).
 * Resumable: a model whose result file is there and complete is not analysed again.
 *
 *   nice -n 19 node --import tsx scripts/zoo/analyze-zoo.ts [--limit N] [--report-only]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze } from '../../src/analysis/analyze';
import '../../src/analysis/stages';
import { formatPredictReport, predictFromResults, readPredictSource } from '../../src/analysis/predict';
import type { ResultFile } from '../../src/analysis/result';
import { EXEMPLARS, SAMPLE_SIZES, ZOO_DIR, dataDir, modelDir, resultPath, zooModels, type ZooModel } from './common';

/** The zoo's analysis settings: the four lowest orders (the predictor's vector), width 8, the quick budget. */
export const ZOO_ORDERS = [0, 1, 2, 4];
export const ZOO_WIDTH = 8;

function done(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as ResultFile;
    return r.complete && Array.isArray(r.reliability);
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

export function reliabilityBySamples(results: { model: ZooModel; result: ResultFile }[]): string {
  const lines = ['samples  models  test acc   Σ Var[c_rel]/Var[f]   Σ Var[c_unrel]/Var[f]   reliable share of Σc'];
  for (const n of SAMPLE_SIZES) {
    const rs = results.filter((r) => r.model.samples === n && r.result.reliability);
    if (rs.length === 0) continue;
    const rel = rs.map((r) => r.result.reliability!.reduce((a, x) => a + x.reliableVariance, 0));
    const unrel = rs.map((r) => r.result.reliability!.reduce((a, x) => a + x.unreliableVariance, 0));
    const acc = rs.map((r) => r.result.teacher.testAccuracy);
    lines.push(`${String(n).padStart(7)}  ${String(rs.length).padStart(6)}  ${mean(acc).toFixed(3).padStart(8)}   ${mean(rel).toFixed(3).padStart(19)}   ${mean(unrel).toFixed(3).padStart(21)}   ${mean(rel.map((r, i) => r / (r + unrel[i]))).toFixed(3).padStart(20)}`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { limit: { type: 'string' }, 'report-only': { type: 'boolean' }, repeats: { type: 'string' } } });
  const exemplars = EXEMPLARS.map(modelDir);
  for (const e of exemplars) if (!existsSync(join(e, 'model.json'))) throw new Error(`exemplar ${e} is missing: run scripts/zoo/train-zoo.ts first`);
  let left = values.limit ? Number(values.limit) : Infinity;
  if (!values['report-only']) {
    for (const m of schedule(zooModels())) {
      const out = resultPath(m.name);
      if (done(out) || !existsSync(join(modelDir(m.name), 'model.json'))) continue;
      if (left-- <= 0) break;
      const t0 = performance.now();
      const res = await analyze({
        checkpoint: modelDir(m.name),
        data: dataDir(m.samples),
        orders: ZOO_ORDERS,
        width: ZOO_WIDTH,
        budget: 'quick',
        backend: 'wasm',
        seed: 0,
        exemplars,
        shapley: true,
        substitution: true,
        out,
        progressToken: 'zoo',
      });
      const r = res.result;
      process.stdout.write(`${m.name}  test acc ${r.teacher.testAccuracy.toFixed(3)}  ρ ${r.components.map((c) => c.rho.toFixed(2)).join(' ')}  reliable ${(r.reliability ?? []).map((x) => x.reliableRho.toFixed(2)).join(' ')}${r.errors ? `  errors: ${JSON.stringify(r.errors)}` : ''}  ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  }
  const results = zooModels()
    .filter((m) => done(resultPath(m.name)))
    .map((m) => ({ model: m, result: JSON.parse(readFileSync(resultPath(m.name), 'utf8')) as ResultFile }));
  process.stdout.write(`\n${results.length} analysed models\n\nReliability against training samples (means per size):\n`);
  process.stdout.write(reliabilityBySamples(results));
  if (results.length >= 5) {
    const inputs = results.map((r) => ({ path: resultPath(r.model.name), result: readPredictSource(resultPath(r.model.name)) }));
    const report = predictFromResults(inputs, { target: 'accuracy', repeats: values.repeats ? Number(values.repeats) : 1000, seed: 0 });
    process.stdout.write('\n' + formatPredictReport(report));
    writeFileSync(join(ZOO_DIR, 'predict.json'), JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
