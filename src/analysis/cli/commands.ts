/**
 * The analysis commands of the CLI (`capabilities`, `analyze`, `layers`, `task-complexity`, `demo`)
 * and the argument parsers every command shares.
 */
import { parseArgs } from 'node:util';
import { analyze, defaultResultPath, parseOrders } from '../pipeline/analyze';
import { useBackend } from '../tf/backend';
import type { CommandHandler } from './command';
import { capabilities } from '../tf/capabilities';
import { runDemo } from '../experiments/demo';
import { BadInputError } from '../util/errors';
import { type BackendChoice, type Budget, type ReliabilityMethod } from '../../shared/engineProtocol';
import type { ResultFile } from '../pipeline/result';
import { formatTaskComplexity, parseTasks, runTaskComplexity } from '../experiments/taskComplexity';
import type { Progress } from '../pipeline/train';
import { BACKEND_CHOICES, BUDGETS, isOneOf, RELIABILITY_METHODS } from '../../shared/vocabulary';
import { checkpointLayers } from '../teacher/teacher';

export function parseBudget(v: string | undefined, fallback: Budget): Budget {
  if (v === undefined) return fallback;
  if (!isOneOf(BUDGETS, v)) throw new BadInputError(`--budget must be one of ${BUDGETS.join(', ')}, got '${v}'`);
  return v;
}

export function parseBackend(v: string | undefined): BackendChoice {
  if (v === undefined) return 'auto';
  if (!isOneOf(BACKEND_CHOICES, v)) throw new BadInputError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got '${v}'`);
  return v;
}

export function parseInteger(name: string, v: string | undefined, fallback: number | undefined, min = -Infinity): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new BadInputError(`--${name} must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got '${v}'`);
  return n;
}

export function parseReliabilityMethod(v: string | undefined): ReliabilityMethod | undefined {
  if (v === undefined) return undefined;
  if (!isOneOf(RELIABILITY_METHODS, v)) throw new BadInputError(`--reliability-method must be one of ${RELIABILITY_METHODS.join(', ')}, got '${v}'`);
  return v;
}

/** The flags every training command takes: orders, budget, backend, seed and width of the disentanglers. */
export const TRAINING_OPTIONS = {
  orders: { type: 'string' },
  budget: { type: 'string' },
  backend: { type: 'string' },
  seed: { type: 'string' },
  width: { type: 'string' },
  threads: { type: 'string' },
} as const;

/** Budget, backend, seed, width and threads from the flags of TRAINING_OPTIONS, each checked with one clear message. */
export function trainingSettings(
  values: { budget?: string; backend?: string; seed?: string; width?: string; threads?: string },
  budget: Budget,
): { budget: Budget; backend: BackendChoice; seed: number | undefined; width: number | undefined; threads: number | undefined } {
  return {
    budget: parseBudget(values.budget, budget),
    backend: parseBackend(values.backend),
    seed: parseInteger('seed', values.seed, 0),
    width: parseInteger('width', values.width, undefined, 1),
    threads: parseInteger('threads', values.threads, undefined, 1),
  };
}

/** Progress lines on stderr: every stage change, and within a stage at most one line every 2 s. */
export function stderrProgress(): (p: Progress) => void {
  let lastStage = '';
  let lastTime = 0;
  return (p) => {
    const now = Date.now();
    if (p.stage === lastStage && now - lastTime < 2000 && p.fraction < 1) return;
    lastStage = p.stage;
    lastTime = now;
    const parts = [`[${(100 * p.fraction).toFixed(0).padStart(3)}%]`, p.stage];
    if (p.epoch !== undefined) parts.push(`epoch ${p.epoch}`);
    if (p.loss !== undefined) parts.push(`loss ${p.loss.toPrecision(3)}`);
    process.stderr.write(parts.join('  ') + '\n');
  };
}

function fmt(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function parseRounds(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new BadInputError(`--reliability-rounds must be a whole number 0–1000 (the cycle rounds T), got '${v}'`);
  return n;
}

function parseGeometry(v: string): 'teacher' | 'same' {
  if (v !== 'teacher' && v !== 'same')
    throw new BadInputError(`--geometry must be 'teacher' (follow the trunk's sampling grid) or 'same' (pad 'same' everywhere), got '${v}'`);
  return v;
}

/** Σ_l Var[c_rel⁽ˡ⁾] / Σ_l Var[c⁽ˡ⁾] over the orders of a reliability split. */
export function reliableShare(rows: ResultFile['reliability']): number | undefined {
  if (!rows?.length) return undefined;
  const rel = rows.reduce((a, x) => a + x.reliableVariance, 0);
  const all = rows.reduce((a, x) => a + x.reliableVariance + x.unreliableVariance, 0);
  return all > 0 ? rel / all : undefined;
}

/** The ρ table of a result, one row per order plus the residue. */
export function formatResult(r: ResultFile): string {
  const lines: string[] = [];
  lines.push(`checkpoint  ${r.checkpoint.path}`);
  lines.push(
    `target      ${r.targetLayer}${r.featureShape ? ` [${r.featureShape.join('×')}]` : ''}   budget ${r.budget}   backend ${r.backend}${r.threads ? ` (${r.threads} thread${r.threads > 1 ? 's' : ''})` : ''}   seed ${r.seed}${r.width ? `   width ${r.width}` : ''}`,
  );
  lines.push(
    `teacher     train acc ${fmt(r.teacher.trainAccuracy)}  loss ${fmt(r.teacher.trainLoss)}   test acc ${fmt(r.teacher.testAccuracy)}  loss ${fmt(r.teacher.testLoss)}`,
  );
  lines.push(
    `Var[f]      train ${r.featureVariance.toPrecision(4)}   test ${r.featureVarianceTest === undefined ? '-' : r.featureVarianceTest.toPrecision(4)}`,
  );
  lines.push('');
  // The optional stages' numbers per order, as extra columns where the run computed them.
  const extra: { head: string; cell: (order: number) => string; note: string }[] = [];
  const byOrder =
    <T extends { order: number }>(xs: T[] | undefined, f: (x: T) => number | null | undefined) =>
    (order: number) => {
      const x = xs?.find((e) => e.order === order);
      return x === undefined ? '-' : fmt(f(x) ?? undefined);
    };
  if (r.reliability)
    extra.push({
      head: 'ρ_rel',
      cell: byOrder(r.reliability, (x) => x.reliableRho),
      note: `ρ_rel = Var[reliable part] / Var[component] (${r.reliabilityMethod ?? `${r.reliabilitySettings?.networks ?? '?'} networks`})`,
    });
  if (r.reliabilityTest)
    extra.push({
      head: 'ρ_rel test',
      cell: byOrder(r.reliabilityTest, (x) => x.reliableRho),
      note: 'ρ_rel test = the same on the test samples, with the maps fitted on the training samples',
    });
  if (r.effectiveness)
    extra.push({
      head: 'α_effective',
      cell: byOrder(r.effectiveness, (x) => x.alpha),
      note: 'α_effective = φ_train / √Var[component]: its Shapley value on the decrease of the training loss per unit of its standard deviation',
    });
  if (r.overfitting)
    extra.push({
      head: 'α_overfit',
      cell: byOrder(r.overfitting, (x) => x.alpha),
      note: 'α_overfit = φ_gap / φ_train: the increase of the test–train gap per unit of training-loss decrease that it brings',
    });
  if (r.substitution)
    extra.push({
      head: 'subst. test acc',
      cell: byOrder(r.substitution, (x) => x.testAccuracy),
      note: `subst. test acc = the head's test accuracy on Φ⁽ˡ⁾(x) instead of f(x) (teacher ${fmt(r.teacher.testAccuracy)})`,
    });
  lines.push('order   ρ train   ρ test   epochs   final loss     fit' + extra.map((e) => `  ${e.head.padStart(Math.max(7, e.head.length))}`).join(''));
  for (const c of r.components) {
    const last = c.lossCurve && c.lossCurve.length ? c.lossCurve[c.lossCurve.length - 1].toPrecision(3) : '-';
    const cells = extra.map((e) => `  ${e.cell(c.order).padStart(Math.max(7, e.head.length))}`).join('');
    const how = c.solver === 'closed-form' ? 'LS' : c.converged ? '*' : ' ';
    const fitCell = `${fmt(c.fit)}${c.restored ? '!' : ' '}`;
    lines.push(
      `${String(c.order).padStart(5)}   ${fmt(c.rho).padStart(7)}   ${fmt(c.rhoTest).padStart(6)}   ${String(c.epochs ?? '-').padStart(6)} ${how.padEnd(2)}${last.padStart(10)}  ${fitCell.padStart(6)}${cells}`,
    );
  }
  lines.push(`residue   ${fmt(r.residue.rho).padStart(7)}   ${fmt(r.residue.rhoTest).padStart(6)}`);
  const share = reliableShare(r.reliability);
  if (share !== undefined) lines.push(`reliable share Σ Var[reliable] / Σ Var[component]: train ${fmt(share)}   test ${fmt(reliableShare(r.reliabilityTest))}`);
  if (r.reliability && r.reliabilitySettings?.version === undefined)
    lines.push('(reliability made by the earlier rule, before version 2: not comparable with newer results)');
  lines.push('');
  lines.push(
    'ρ = Var[component] / Var[f]; * = stopped when ρ stopped moving at a low learning rate, without * = stopped by the budget (not settled); LS = solved by least squares. ρ is a relative distribution for comparing models analysed with the same settings, not an exact decomposition.',
  );
  if (r.components.some((c) => c.fit !== undefined))
    lines.push(
      "fit = 1 − Var[f − Φ⁽ˡ⁾] / Var[f] on the monitor samples; ! = training made the fit worse than where it started (the previous order's Φ, or the least-squares solution), so that start was kept (for a higher order the component is then zero).",
    );
  if (r.geometryNote) lines.push(`disentangler grid: ${r.geometryNote}`);
  for (const e of extra) lines.push(e.note + '.');
  for (const e of r.errors ?? []) lines.push(`FAILED stage ${e.stage}: ${e.message}`);
  if (!r.complete) lines.push('INCOMPLETE: the run stopped early; the orders above are the ones that finished.');
  const total = Object.entries(r.timing)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');
  lines.push(`timing: ${total}`);
  return lines.join('\n') + '\n';
}

export const capabilitiesCommand: CommandHandler = async (argv) => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true });
  const caps = await capabilities();
  if (values.json) {
    process.stdout.write(JSON.stringify(caps, null, 2) + '\n');
    return;
  }
  process.stdout.write(`feature-complexity engine ${caps.engineVersion} on node ${caps.nodeVersion} (${caps.platform})\n`);
  for (const b of caps.backends) process.stdout.write(`  ${b.available ? 'yes' : 'no '}  ${b.name.padEnd(10)} ${b.detail}\n`);
  process.stdout.write(`auto picks: ${caps.autoBackend}\n`);
  if (caps.threads) process.stdout.write(`threads per training step on wasm and cpu: ${caps.threads} by default (--threads N)\n`);
};

/** The flags of `analyze` (a zoo's plan checks its flags against them). */
export const ANALYZE_OPTIONS = {
  ...TRAINING_OPTIONS,
  data: { type: 'string' },
  layer: { type: 'string' },
  out: { type: 'string' },
  exemplars: { type: 'string' },
  'reliability-method': { type: 'string' },
  'reliability-rounds': { type: 'string' },
  geometry: { type: 'string' },
  shapley: { type: 'boolean' },
  substitution: { type: 'boolean' },
  python: { type: 'string' },
  'model-class': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const analyzeCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: ANALYZE_OPTIONS });
  if (positionals.length !== 1) throw new BadInputError('analyze needs exactly one checkpoint: feature-complexity analyze <checkpoint> --data <dataset>');
  if (!values.data) throw new BadInputError('analyze needs --data <dataset folder>');
  const checkpoint = positionals[0];
  const out = values.out ?? defaultResultPath(checkpoint);
  const res = await analyze(
    {
      checkpoint,
      data: values.data,
      layer: values.layer,
      orders: parseOrders(values.orders),
      ...trainingSettings(values, 'standard'),
      exemplars: values.exemplars
        ? values.exemplars
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined,
      reliabilityMethod: parseReliabilityMethod(values['reliability-method']),
      ...(values['reliability-rounds'] !== undefined ? { reliabilityRounds: parseRounds(values['reliability-rounds']) } : {}),
      ...(values.geometry !== undefined ? { geometry: parseGeometry(values.geometry) } : {}),
      shapley: values.shapley,
      substitution: values.substitution,
      // The interpreter and model class the user named, for a PyTorch checkpoint's export.
      ...(values.python !== undefined ? { python: values.python } : {}),
      ...(values['model-class'] !== undefined ? { modelClass: values['model-class'] } : {}),
      out,
      progressToken: 'cli',
    },
    { progress: stderrProgress() },
  );
  process.stdout.write(values.json ? JSON.stringify(res.result, null, 2) + '\n' : formatResult(res.result));
  process.stderr.write(`result: ${res.resultFile}\n`);
};

export const layersCommand: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      backend: { type: 'string' },
      data: { type: 'string' },
      python: { type: 'string' },
      'model-class': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new BadInputError('layers needs exactly one checkpoint: feature-complexity layers <checkpoint>');
  await useBackend(parseBackend(values.backend));
  const { layers, defaultLayer } = await checkpointLayers({
    checkpoint: positionals[0],
    data: values.data,
    python: values.python,
    modelClass: values['model-class'],
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ layers, defaultLayer }, null, 2) + '\n');
    return;
  }
  const w = Math.max(5, ...layers.map((l) => l.name.length));
  const cw = Math.max(5, ...layers.map((l) => l.className.length));
  process.stdout.write(`${'layer'.padEnd(w)}  ${'class'.padEnd(cw)}  output shape\n`);
  for (const l of layers) {
    const mark = l.name === defaultLayer ? '   <- default target layer' : '';
    process.stdout.write(`${l.name.padEnd(w)}  ${l.className.padEnd(cw)}  [${l.outputShape.map((d) => (d === null ? 'N' : d)).join(', ')}]${mark}\n`);
  }
};

export const taskComplexityCommand: CommandHandler = async (argv) => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...TRAINING_OPTIONS,
      tasks: { type: 'string' },
      'check-width': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const res = await runTaskComplexity(
    {
      tasks: parseTasks(values.tasks),
      orders: values.orders ? parseOrders(values.orders) : undefined,
      ...trainingSettings(values, 'quick'),
      checkWidth: parseInteger('check-width', values['check-width'], undefined, 0),
      out: values.out,
    },
    { progress: stderrProgress() },
  );
  process.stdout.write(values.json ? JSON.stringify(res, null, 2) + '\n' : formatTaskComplexity(res));
  if (values.out) process.stderr.write(`result: ${values.out}\n`);
};

export const demoCommand: CommandHandler = async (argv) => {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...TRAINING_OPTIONS,
      out: { type: 'string' },
      retrain: { type: 'boolean' },
    },
  });
  const res = await runDemo(
    {
      ...trainingSettings(values, 'quick'),
      orders: values.orders ? parseOrders(values.orders) : undefined,
      out: values.out,
      retrain: values.retrain,
    },
    { progress: stderrProgress() },
  );
  process.stdout.write(formatResult(res.result));
  process.stderr.write(`teacher: ${res.checkpoint}\nresult: ${res.resultFile}\ndemo took ${res.seconds.toFixed(0)} s\n`);
};
