/**
 * Zoo benchmark (issue #16): 4 quick analyses of the demo CNN (4 copies, so 4 rows of the same
 * work) on the demo's Fashion-MNIST subset, as `zoo run --jobs 2` (one thread each) against the
 * same 4 one after another (`--jobs 1`, on one thread each and on every core each), all in one
 * invocation. Prints one JSON object per line, {bench, ours_s, reference, reference_s, ratio},
 * and checks that every way gave the same ρ.
 *
 *   npm run build && node --import tsx bench/zoo.ts
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ZooStatus } from '../src/shared/files/zoo';

const ROOT = resolve(__dirname, '..');
const ENGINE = join(ROOT, 'dist/engine.js');
const work = mkdtempSync(join(tmpdir(), 'fc-zoo-bench-'));
const cores = availableParallelism();

const fc = (args: string[]) =>
  execFileSync(process.execPath, [ENGINE, ...args, '--workspace', work], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function timedZoo(name: string, run: string[]): { seconds: number; rho: number[][] } {
  fc([
    'zoo',
    'plan',
    join(work, 'ck'),
    '--name',
    name,
    '--data',
    join(ROOT, 'media/demo/fashion-mnist'),
    '--budget',
    'quick',
    '--width',
    '16',
    '--orders',
    '0,2,4,8,14,20,26,32',
  ]);
  const t0 = performance.now();
  fc(['zoo', 'run', name, ...run]);
  const seconds = (performance.now() - t0) / 1000;
  const s = JSON.parse(fc(['zoo', 'status', name, '--json'])) as ZooStatus;
  if (s.counts.done !== s.total) throw new Error(`zoo ${name}: ${JSON.stringify(s.counts)}`);
  const rho = s.rows.map((r) => (JSON.parse(readFileSync(r.result!, 'utf8')) as { components: { rho: number }[] }).components.map((c) => c.rho));
  return { seconds, rho };
}

try {
  mkdirSync(join(work, 'ck'));
  for (const n of ['a', 'b', 'c', 'd']) cpSync(join(ROOT, 'media/demo/demo-cnn'), join(work, 'ck', n), { recursive: true });
  const seq1 = timedZoo('seq1', ['--jobs', '1', '--threads', '1']);
  const seqAll = timedZoo('seqall', ['--jobs', '1', '--threads', String(cores)]);
  const jobs = timedZoo('jobs', ['--jobs', String(cores), '--threads', '1']);
  const line = (bench: string, ours: number, reference: string, ref: number) =>
    process.stdout.write(JSON.stringify({ bench, ours_s: +ours.toFixed(1), reference, reference_s: +ref.toFixed(1), ratio: +(ours / ref).toFixed(3) }) + '\n');
  line(`zoo run --jobs ${cores} (1 thread each), 4 quick demo analyses`, jobs.seconds, 'one after another, 1 thread each', seq1.seconds);
  line(`zoo run --jobs ${cores} (1 thread each), 4 quick demo analyses`, jobs.seconds, `one after another, ${cores} threads each`, seqAll.seconds);
  const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((x, j) => Math.abs(x - b[i][j]))));
  process.stdout.write(
    JSON.stringify({ check: 'largest |Δρ| of a component', jobs_vs_seq1: maxDiff(jobs.rho, seq1.rho), jobs_vs_seqall: maxDiff(jobs.rho, seqAll.rho) }) + '\n',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
