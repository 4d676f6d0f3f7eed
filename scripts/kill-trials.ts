/**
 * Fault trials (issue #17): the engine killed with SIGKILL at random points of an analysis must
 * leave the result file as it was before (the previous run's) or as a valid result (partial or
 * complete), never a torn one; and the next run must work.
 *
 *   npm run kill-trials                    20 trials (the run of record: README, "Reliability")
 *   npm run kill-trials -- --trials 5 --seed 3
 *
 * Each trial starts from the previous run's finished result at the output path, starts an
 * analysis (ONNX checkpoint, .npz data, orders 0, 2, 4, 8, one thread) and kills it after a random
 * share of a full run's time. test/unit/analysis/faults.test.ts runs a few trials in `npm test`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateResult } from '../src/analysis/pipeline/result';
import { mulberry32 } from '../src/analysis/util/random';

const ROOT = resolve(__dirname, '..');
const F = join(ROOT, 'test', 'fixtures', 'formats');

export type TrialOutcome = 'previous-kept' | 'valid-partial' | 'valid-complete' | 'torn';

export interface TrialsReport {
  trials: { killAfterSeconds: number; outcome: TrialOutcome; detail: string }[];
  /** Files other than the result left in the results folder (temporary files of an interrupted write). */
  leftovers: string[];
  fullRunSeconds: number;
  /** The run after the trials finished with a complete, valid result. */
  nextRunWorks: boolean;
}

function engine(): string[] {
  const built = join(ROOT, 'dist', 'engine.js');
  return existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src', 'analysis', 'main.ts')];
}

function analyzeArgs(dir: string, out: string): string[] {
  return [
    ...engine(),
    'analyze',
    join(dir, 'cnn.onnx'),
    '--data',
    join(dir, 'data.npz'),
    '--orders',
    '0,2,4,8',
    '--budget',
    'quick',
    '--threads',
    '1',
    '--out',
    out,
  ];
}

/** The result file's state: valid and complete, valid and partial, or torn (with why). */
function inspect(out: string, previous: string): { outcome: TrialOutcome; detail: string } {
  const text = readFileSync(out, 'utf8');
  if (text === previous) return { outcome: 'previous-kept', detail: '' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { outcome: 'torn', detail: `not JSON (${e instanceof Error ? e.message : String(e)}), ${text.length} bytes` };
  }
  const problems = validateResult(value);
  if (problems) return { outcome: 'torn', detail: problems.slice(0, 3).join('; ') };
  return (value as { complete?: boolean }).complete
    ? { outcome: 'valid-complete', detail: '' }
    : { outcome: 'valid-partial', detail: `${(value as { components: unknown[] }).components.length} orders` };
}

export async function runKillTrials(count: number, seed = 1): Promise<TrialsReport> {
  const dir = mkdtempSync(join(tmpdir(), 'fc-kill-'));
  try {
    cpSync(join(F, 'cnn.onnx'), join(dir, 'cnn.onnx'));
    cpSync(join(F, 'data.npz'), join(dir, 'data.npz'));
    const results = join(dir, 'results');
    const out = join(results, 'cnn.json');
    const t0 = performance.now();
    const first = spawnSync(process.execPath, analyzeArgs(dir, out), { encoding: 'utf8' });
    const fullRunSeconds = (performance.now() - t0) / 1000;
    if (first.status !== 0) throw new Error(`the uninterrupted run failed: ${first.stderr.trim().split('\n').pop()}`);
    const r = mulberry32(seed);
    const trials: TrialsReport['trials'] = [];
    for (let i = 0; i < count; i++) {
      const previous = readFileSync(out, 'utf8');
      // Startup included: a kill may land while the model loads, between orders or during a write.
      const killAfterSeconds = r() * fullRunSeconds;
      await new Promise<void>((done) => {
        const child = spawn(process.execPath, analyzeArgs(dir, out), { stdio: 'ignore' });
        const timer = setTimeout(() => child.kill('SIGKILL'), killAfterSeconds * 1000);
        child.on('close', () => {
          clearTimeout(timer);
          done();
        });
      });
      trials.push({ killAfterSeconds, ...inspect(out, previous) });
    }
    const leftovers = readdirSync(results).filter((f) => f !== 'cnn.json');
    const last = spawnSync(process.execPath, analyzeArgs(dir, out), { encoding: 'utf8' });
    const nextRunWorks = last.status === 0 && inspect(out, '').outcome === 'valid-complete';
    return { trials, leftovers, fullRunSeconds, nextRunWorks };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
  const report = await runKillTrials(flag('--trials', 20), flag('--seed', 1));
  const counts = new Map<TrialOutcome, number>();
  for (const t of report.trials) {
    counts.set(t.outcome, (counts.get(t.outcome) ?? 0) + 1);
    if (t.outcome === 'torn') console.log(`torn after ${t.killAfterSeconds.toFixed(2)} s: ${t.detail}`);
  }
  console.log(
    `kill-trials: ${report.trials.length} SIGKILLs over a ${report.fullRunSeconds.toFixed(1)} s analysis: ` +
      (['previous-kept', 'valid-partial', 'valid-complete', 'torn'] as const).map((o) => `${o} ${counts.get(o) ?? 0}`).join(', ') +
      `; files left beside the result: ${report.leftovers.length ? report.leftovers.join(', ') : 'none'}; the next run ${report.nextRunWorks ? 'works' : 'FAILS'}`,
  );
  process.exitCode = (counts.get('torn') ?? 0) > 0 || !report.nextRunWorks ? 1 : 0;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`kill-trials: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
