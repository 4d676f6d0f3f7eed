/**
 * `feature-complexity compress|distill <model> --data DIR [--out DIR] [--compare]` (METHOD.md §7):
 * build the compressed or distilled variant of a model; with `--compare`, analyse the original
 * and the variant with the same settings and print their ρ, reliability, effectiveness and
 * over-fitting side by side. `feature-complexity variants <model> --data DIR` builds both and
 * compares all three.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze, parseOrders } from '../pipeline/analyze';
import { useBackend } from '../tf/backend';
import type { CommandHandler } from './command';
import { parseBackend, parseInteger, stderrProgress, trainingSettings, TRAINING_OPTIONS } from './commands';
import { compressModel, type CompressReport } from '../experiments/compress';
import { distillModel, type DistillReport } from '../experiments/distill';
import { BadInputError } from '../util/errors';
import { modelJsonPath } from '../teacher/tfjsFiles';
import type { Budget } from '../../shared/engineProtocol';
import type { ResultFile } from '../pipeline/result';

const ANALYSIS_OPTIONS = {
  ...TRAINING_OPTIONS,
  exemplars: { type: 'string' },
  compare: { type: 'boolean' },
  'results-dir': { type: 'string' },
} as const;

type AnalysisFlags = { [K in keyof typeof ANALYSIS_OPTIONS]?: (typeof ANALYSIS_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** `<model folder>-compressed` beside a model.json's folder, or beside a single-file checkpoint. */
function defaultOut(checkpoint: string, suffix: string): string {
  const p = resolve(checkpoint);
  const base = basename(p) === 'model.json' ? dirname(p) : p.replace(/\.[^./]+$/, '');
  return `${base}-${suffix}`;
}

function parseFraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new BadInputError(`--${name} must be a number, got '${v}'`);
  return x;
}

export interface Variant {
  name: string;
  checkpoint: string;
  layer?: string;
}

/** Analyses every variant with the same settings (Shapley on; reliability when exemplars are given). */
export async function analyzeVariants(variants: Variant[], data: string, flags: AnalysisFlags, resultsDir: string): Promise<ResultFile[]> {
  const out: ResultFile[] = [];
  for (const v of variants) {
    process.stderr.write(`analysing ${v.name}: ${v.checkpoint}\n`);
    const res = await analyze(
      {
        checkpoint: v.checkpoint,
        data,
        layer: v.layer,
        orders: parseOrders(flags.orders),
        ...trainingSettings(flags, 'quick'),
        exemplars: flags.exemplars
          ? flags.exemplars
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined,
        shapley: true,
        substitution: true,
        out: join(resultsDir, `${v.name}.json`),
        progressToken: 'cli',
      },
      { progress: stderrProgress() },
    );
    out.push(res.result);
  }
  return out;
}

function f3(x: number | null | undefined): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(3);
}

/** One table per measure: a row per order, a column per variant. */
export function formatComparison(names: string[], results: ResultFile[]): string {
  const lines: string[] = [];
  const w = Math.max(10, ...names.map((n) => n.length + 1));
  const head = (title: string) => {
    lines.push('');
    lines.push(title);
    lines.push('order'.padStart(7) + names.map((n) => n.padStart(w)).join(''));
  };
  const orders = [...new Set(results.flatMap((r) => r.orders))].sort((a, b) => a - b);
  const table = (title: string, pick: (r: ResultFile, order: number) => number | null | undefined, residue?: (r: ResultFile) => number | undefined) => {
    head(title);
    for (const o of orders) lines.push(String(o).padStart(7) + results.map((r) => f3(pick(r, o)).padStart(w)).join(''));
    if (residue) lines.push('residue'.padStart(7) + results.map((r) => f3(residue(r)).padStart(w)).join(''));
  };
  lines.push('test accuracy'.padEnd(14) + names.map((n, i) => `${n} ${f3(results[i].teacher.testAccuracy)}`).join('   '));
  table(
    'ρ = Var[c] / Var[f]',
    (r, o) => r.components.find((c) => c.order === o)?.rho,
    (r) => r.residue.rho,
  );
  if (results.some((r) => r.reliability)) {
    table('reliable share Var[c_reliable] / Var[c]', (r, o) => r.reliability?.find((x) => x.order === o)?.reliableRho);
    table('Var[c_reliable] / Var[f]', (r, o) => r.reliability?.find((x) => x.order === o)?.reliableVariance);
    table('Var[c_unreliable] / Var[f]', (r, o) => r.reliability?.find((x) => x.order === o)?.unreliableVariance);
  }
  table('effectiveness α = φ_train / sqrt(Var[c])', (r, o) => r.effectiveness?.find((x) => x.order === o)?.alpha);
  table('over-fitting α = φ_gap / φ_train', (r, o) => r.overfitting?.find((x) => x.order === o)?.alpha);
  table('substitution: test accuracy with Φ⁽ˡ⁾ for f', (r, o) => r.substitution?.find((x) => x.order === o)?.testAccuracy);
  for (const [i, r] of results.entries()) for (const e of r.errors ?? []) lines.push(`${names[i]}: ${e.stage} failed: ${e.message}`);
  return lines.join('\n') + '\n';
}

function compressSummary(r: CompressReport): string {
  const a = r.testAccuracy;
  if (!r.schedule)
    return `compressed → ${r.out} (a report from an earlier engine: one-shot pruning, uniform quantisation)\n  test accuracy: original ${f3(a.original)}, quantised ${f3(a.quantized)}\n`;
  const target =
    r.criterion.kind === 'sensitivity' ? `|w| < ${r.criterion.sensitivity} · std(w) per kernel (Han et al.)` : `${r.criterion.sparsity} of every kernel`;
  return (
    `compressed → ${r.out}\n` +
    `  pruned ${target} in ${r.pruneSteps} round${r.pruneSteps === 1 ? '' : 's'} of ${r.epochs} retraining epoch${r.epochs === 1 ? '' : 's'} on ${r.samples} of ${r.trainingSamples} training samples: ${f3(r.sparsity)} of the weights zero (pruning rate ${r.pruningRate.toFixed(2)}×)\n` +
    `  k-means weight sharing: conv ${r.convBits}-bit, dense ${r.denseBits}-bit, shared values fine-tuned ${r.quantEpochs} epochs\n` +
    `  test accuracy: original ${f3(a.original)}, last pruning round ${f3(a.pruned)}, retrained ${f3(a.retrained)}, shared ${f3(a.quantized)}, fine-tuned ${f3(a.fineTuned)}\n`
  );
}

function distillSummary(r: DistillReport): string {
  const st = r.student;
  const arch = st ? `the disentangler with ${st.order} ReLU blocks (${st.blocks.join(', ')} per stage), width ${st.width}` : 'an earlier student';
  const training = r.budget
    ? `; trained ${r.epochs} epochs (${r.budget} budget${r.converged ? ', stopped when ρ settled' : ''}) on ${r.samples} training samples`
    : '';
  return (
    `distilled → ${r.out}\n  student: ${arch}: ${r.reluLayers?.student ?? '?'} ReLU layers (original ${r.reluLayers?.original ?? '?'}), ${r.convLayers.student} conv layers (original ${r.convLayers.original}), ${r.params.student} parameters (original ${r.params.original}); head: ${r.head}${training}\n` +
    `  feature fit 1 − MSE/Var[f] = ${f3(r.featureFit)} train, ${f3(r.featureFitTest)} test; test accuracy: original ${f3(r.testAccuracy.original)}, distilled ${f3(r.testAccuracy.distilled)}\n  analyse it at layer '${r.studentLayer}'\n`
  );
}

/** The flags compress and distill share: the dataset, where the variant goes, its training, and --compare's analysis flags. */
const VARIANT_OPTIONS = {
  data: { type: 'string' },
  out: { type: 'string' },
  epochs: { type: 'string' },
  'max-samples': { type: 'string' },
  ...ANALYSIS_OPTIONS,
} as const;

export const compressCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...VARIANT_OPTIONS,
      sensitivity: { type: 'string' },
      sparsity: { type: 'string' },
      'prune-steps': { type: 'string' },
      'quant-epochs': { type: 'string' },
      'conv-bits': { type: 'string' },
      'dense-bits': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new BadInputError('compress needs exactly one model: feature-complexity compress <model.json> --data <dataset>');
  if (!values.data)
    throw new BadInputError("compress needs --data <dataset folder> (the teacher's training set: retraining after pruning uses its training split)");
  await useBackend(parseBackend(values.backend));
  const out = values.out ?? defaultOut(positionals[0], 'compressed');
  const report = await compressModel(
    positionals[0],
    values.data,
    out,
    {
      sensitivity: parseFraction('sensitivity', values.sensitivity),
      sparsity: parseFraction('sparsity', values.sparsity),
      pruneSteps: parseInteger('prune-steps', values['prune-steps'], undefined, 1),
      epochs: parseInteger('epochs', values.epochs, undefined, 0),
      quantEpochs: parseInteger('quant-epochs', values['quant-epochs'], undefined, 0),
      maxSamples: parseInteger('max-samples', values['max-samples'], undefined, 1),
      convBits: parseInteger('conv-bits', values['conv-bits'], undefined, 1),
      denseBits: parseInteger('dense-bits', values['dense-bits'], undefined, 1),
      seed: parseInteger('seed', values.seed, 0),
    },
    { progress: stderrProgress() },
  );
  process.stdout.write(compressSummary(report));
  if (values.compare) {
    const resultsDir = values['results-dir'] ?? join(out, 'analysis');
    const results = await analyzeVariants(
      [
        { name: 'original', checkpoint: positionals[0] },
        { name: 'compressed', checkpoint: out },
      ],
      values.data,
      values,
      resultsDir,
    );
    process.stdout.write(formatComparison(['original', 'compressed'], results));
  }
};

export const distillCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...VARIANT_OPTIONS,
      layer: { type: 'string' },
      'student-order': { type: 'string' },
      'student-width': { type: 'string' },
      'student-budget': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new BadInputError('distill needs exactly one model: feature-complexity distill <model.json> --data <dataset>');
  if (!values.data) throw new BadInputError('distill needs --data <dataset folder>');
  await useBackend(parseBackend(values.backend));
  const out = values.out ?? defaultOut(positionals[0], 'distilled');
  const report = await distillModel(
    positionals[0],
    values.data,
    out,
    {
      layer: values.layer,
      epochs: parseInteger('epochs', values.epochs, undefined, 1),
      order: parseInteger('student-order', values['student-order'], undefined, 0),
      width: parseInteger('student-width', values['student-width'], undefined, 1),
      // budgetSpec refuses an unknown name with the list of budgets.
      budget: values['student-budget'] as Budget | undefined,
      maxSamples: parseInteger('max-samples', values['max-samples'], undefined, 1),
      seed: parseInteger('seed', values.seed, 0),
    },
    { progress: stderrProgress() },
  );
  process.stdout.write(distillSummary(report));
  if (values.compare) {
    const resultsDir = values['results-dir'] ?? join(out, 'analysis');
    const results = await analyzeVariants(
      [
        { name: 'original', checkpoint: positionals[0], layer: values.layer },
        { name: 'distilled', checkpoint: out, layer: report.studentLayer },
      ],
      values.data,
      values,
      resultsDir,
    );
    process.stdout.write(formatComparison(['original', 'distilled'], results));
  }
};

export const variantsCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { data: { type: 'string' }, out: { type: 'string' }, layer: { type: 'string' }, ...ANALYSIS_OPTIONS },
  });
  if (positionals.length !== 1)
    throw new BadInputError('variants needs exactly one model: feature-complexity variants <model.json> --data <dataset> [--out DIR]');
  if (!values.data) throw new BadInputError('variants needs --data <dataset folder>');
  await useBackend(parseBackend(values.backend));
  const root = resolve(values.out ?? defaultOut(positionals[0], 'variants'));
  const compressed = join(root, 'compressed');
  const distilled = join(root, 'distilled');
  const seed = parseInteger('seed', values.seed, 0);
  // Resumable: a variant already built (its report is there) is reused.
  const creport = existsSync(join(compressed, 'compress.json'))
    ? (JSON.parse(readFileSync(join(compressed, 'compress.json'), 'utf8')) as CompressReport)
    : await compressModel(positionals[0], values.data, compressed, { seed }, { progress: stderrProgress() });
  process.stdout.write(compressSummary(creport));
  const dreport = existsSync(join(distilled, 'distill.json'))
    ? (JSON.parse(readFileSync(join(distilled, 'distill.json'), 'utf8')) as DistillReport)
    : await distillModel(positionals[0], values.data, distilled, { layer: values.layer, seed }, { progress: stderrProgress() });
  process.stdout.write(distillSummary(dreport));
  modelJsonPath(compressed);
  const results = await analyzeVariants(
    [
      { name: 'original', checkpoint: positionals[0], layer: values.layer },
      { name: 'compressed', checkpoint: compressed, layer: values.layer },
      { name: 'distilled', checkpoint: distilled, layer: dreport.studentLayer },
    ],
    values.data,
    values,
    values['results-dir'] ?? join(root, 'analysis'),
  );
  process.stdout.write(formatComparison(['original', 'compressed', 'distilled'], results));
};
