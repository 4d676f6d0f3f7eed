/**
 * The convergence suite's comparison (issue #12): analyses each suite teacher with the engine's
 * command line and sets its ρ beside the independent PyTorch reference (suite.py), per order.
 *
 *   node --import tsx bench/suite/compare.ts [--budget B] [--width N] [--teachers a,b] [--split tune|check]
 *
 * Needs `npm run build` (dist/engine.js) and the teachers and references of suite.py under
 * $FC_SUITE_DIR (default ../fc-suite). Prints a Markdown table of ρ on the test samples (ours vs
 * the reference) and appends each run's summary to bench/suite/measured.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const HERE = __dirname;
const ROOT = resolve(HERE, '..', '..');
const SUITE = process.env.FC_SUITE_DIR ?? resolve(ROOT, '..', 'fc-suite');
const REFS = join(HERE, 'references.json');
const MEASURED = join(HERE, 'measured.json');

interface Reference {
  data: string;
  split: 'tune' | 'check';
  targetLayer: string;
  reference?: { orders: Record<string, { rhoTest: number; fitTest: number }>; residueTest: number; width: number; epochs: number };
}

interface Measured {
  teacher: string;
  split: string;
  budget: string;
  width: number;
  seconds: number;
  rhoTest: Record<string, number>;
  residueTest: number;
  fit: Record<string, number>;
  date: string;
  /** The engine's commit (git describe --always --dirty). */
  engine?: string;
}

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: 'standard' },
    width: { type: 'string' },
    teachers: { type: 'string' },
    split: { type: 'string' },
    orders: { type: 'string' },
  },
});

const refs = JSON.parse(readFileSync(REFS, 'utf8')) as Record<string, Reference>;
const names = (values.teachers?.split(',') ?? Object.keys(refs)).filter((n) => !values.split || refs[n]?.split === values.split);
const outDir = join(SUITE, 'results');
mkdirSync(outDir, { recursive: true });

const rows: string[] = [];
for (const name of names) {
  const ref = refs[name];
  if (!ref) throw new Error(`no teacher '${name}' in ${REFS}`);
  const out = join(outDir, `${name}-${values.budget}${values.width ? `-w${values.width}` : ''}.json`);
  const args = [
    join(ROOT, 'dist', 'engine.js'),
    'analyze',
    join(SUITE, `${name}.onnx`),
    '--data',
    join(SUITE, 'data', `${ref.data}.npz`),
    '--layer',
    ref.targetLayer,
    '--budget',
    values.budget!,
    '--out',
    out,
  ];
  if (values.width) args.push('--width', values.width);
  if (values.orders) args.push('--orders', values.orders);
  const started = Date.now();
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const seconds = (Date.now() - started) / 1000;
  const r = JSON.parse(readFileSync(out, 'utf8')) as {
    components: { order: number; rhoTest: number; fit?: number }[];
    residue: { rhoTest: number };
    width?: number;
  };
  const m: Measured = {
    teacher: name,
    split: ref.split,
    budget: values.budget!,
    width: Number(values.width ?? r.width ?? 64),
    seconds: Math.round(seconds),
    rhoTest: Object.fromEntries(r.components.map((c) => [String(c.order), c.rhoTest])),
    residueTest: r.residue.rhoTest,
    fit: Object.fromEntries(r.components.map((c) => [String(c.order), c.fit ?? NaN])),
    date: new Date().toISOString(),
    engine: execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim(),
  };
  // Read again before appending: another compare may have written meanwhile.
  const measured: Measured[] = existsSync(MEASURED) ? (JSON.parse(readFileSync(MEASURED, 'utf8')) as Measured[]) : [];
  measured.push(m);
  writeFileSync(MEASURED, `${JSON.stringify(measured, null, 1)}\n`);
  rows.push(row(name, ref, m));
  process.stderr.write(`${rows[rows.length - 1]}\n`);
}

/** Σ of ρ over orders ≥ 4 (the residue apart). */
function high(rho: Record<string, number>): number {
  return Object.entries(rho)
    .filter(([o]) => Number(o) >= 4)
    .reduce((a, [, v]) => a + v, 0);
}

function row(name: string, ref: Reference, m: Measured): string {
  const r = ref.reference;
  const cell = (o: string) => `${m.rhoTest[o]?.toFixed(3) ?? '–'} / ${r?.orders[o]?.rhoTest.toFixed(3) ?? '–'}`;
  const refHigh = r ? high(Object.fromEntries(Object.entries(r.orders).map(([o, v]) => [o, v.rhoTest]))) : NaN;
  const worst = r ? Math.max(...['0', '2'].map((o) => Math.abs((m.rhoTest[o] ?? NaN) - r.orders[o].rhoTest))) : NaN;
  return `| ${name} (${ref.split}) | ${m.budget}, w${m.width} | ${cell('0')} | ${cell('2')} | ${high(m.rhoTest).toFixed(3)} / ${refHigh.toFixed(3)} | ${worst.toFixed(3)} | ${m.seconds} s |`;
}

process.stdout.write(
  '| teacher | settings | ρ⁽⁰⁾ ours / ref | ρ⁽²⁾ ours / ref | Σ ρ orders ≥ 4 ours / ref | max abs diff ρ⁽⁰⁾, ρ⁽²⁾ | time |\n|---|---|---|---|---|---|---|\n',
);
process.stdout.write(`${rows.join('\n')}\n`);
