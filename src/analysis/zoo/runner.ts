/**
 * Running a zoo's rows: one row in this process (what a Slurm task and a local worker run), and
 * the local pool that runs N rows at a time, each in its own engine process, so that a crash
 * loses at most the analyses that were running.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { BadInputError } from '../util/errors';
import { writeJsonAtomic } from '../util/atomicWrite';
import { logPathsOf, readManifest, readRecord, resultPathOf, writeRecord } from './manifest';
import { zooStatus } from './status';
import type { ZooRowRecord } from '../../shared/files/zoo';

/** `i/n`: the rows whose index ≡ i − 1 (mod n), 1-based as schedulers count tasks. */
export function parseShard(v: string): { i: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i < 1 || i > n) throw new BadInputError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), got '${v}'`);
  return { i, n };
}

const hasFlag = (args: string[], flag: string): boolean => args.some((a) => a === flag || a.startsWith(`${flag}=`));

/**
 * Runs row `index` here: records it running, analyses it into its result file through `analyze`
 * (the CLI's own command), and records done, or failed with the one-line error. SIGTERM (scancel,
 * `zoo cancel`) records it failed as cancelled before the process ends.
 */
export async function runRow(dir: string, index: number, opts: { threads?: number; analyze: (argv: string[]) => Promise<void> }): Promise<void> {
  const m = readManifest(dir);
  const row = m.rows.find((r) => r.index === index);
  if (!row) throw new BadInputError(`zoo '${m.name}' has no row ${index} (rows 0–${m.rows.length - 1})`);
  const job =
    process.env.SLURM_ARRAY_JOB_ID && process.env.SLURM_ARRAY_TASK_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}` : undefined;
  const record: ZooRowRecord = { state: 'running', pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(job ? { job } : {}) };
  writeRecord(dir, index, record);
  // `on`, not `once`: a second SIGTERM while the first is being recorded must not end the process half-way.
  let terminating = false;
  const onTerm = () => {
    if (terminating) return;
    terminating = true;
    writeRecord(dir, index, {
      ...record,
      state: 'failed',
      finished: new Date().toISOString(),
      error: `cancelled (SIGTERM${job ? ` from Slurm, task ${job}` : ''})`,
    });
    process.exit(143);
  };
  process.on('SIGTERM', onTerm);
  const argv = [row.checkpoint, '--data', m.data, ...m.args];
  if (opts.threads !== undefined && !hasFlag(m.args, '--threads')) argv.push('--threads', String(opts.threads));
  argv.push('--out', resultPathOf(dir, row));
  process.stderr.write(`zoo ${m.name} row ${index}: feature-complexity analyze ${argv.join(' ')}\n`);
  try {
    await opts.analyze(argv);
    writeRecord(dir, index, { ...record, state: 'done', finished: new Date().toISOString() });
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    writeRecord(dir, index, { ...record, state: 'failed', finished: new Date().toISOString(), error: msg });
    throw e;
  } finally {
    process.removeListener('SIGTERM', onTerm);
  }
}

/** The command that starts this engine again: node, its flags (tsx when run from source), the entry file. */
export function engineCommand(): string[] {
  return [process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--inspect') && a !== '--test'), process.argv[1]];
}

export interface LocalRunSummary {
  ran: number[];
  done: number;
  failed: number;
  seconds: number;
}

/** The file that names the local pool running a zoo (so that `zoo cancel` can stop it). */
const poolFile = (dir: string) => join(dir, 'local-run.json');

/**
 * Analyses the rows with no result that nothing is running, `jobs` at a time, each in a child
 * engine process with `threads` threads (default: the cores shared out among the jobs). Output and
 * errors of row i go to logs/i.out and logs/i.err.
 */
export async function runLocal(
  dir: string,
  opts: {
    jobs?: number;
    shard?: { i: number; n: number };
    threads?: number;
    onRowEnd?: (index: number, ok: boolean) => void;
    /** The engine to start per row (default: this one, engineCommand()). */
    engine?: string[];
  },
): Promise<LocalRunSummary> {
  const started = Date.now();
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  const threads = opts.threads ?? Math.max(1, Math.floor(availableParallelism() / jobs));
  const status = zooStatus(dir);
  const todo = status.rows
    .filter((r) => r.state === 'waiting' || r.state === 'failed')
    .filter((r) => !opts.shard || r.index % opts.shard.n === opts.shard.i - 1)
    .map((r) => r.index);
  writeJsonAtomic(poolFile(dir), { pid: process.pid, host: hostname(), started: new Date().toISOString(), rows: todo });
  const children = new Set<ReturnType<typeof spawn>>();
  let next = 0;
  let stopping = false;
  // Cancelled: no new rows; the running ones are stopped, and record themselves cancelled before this process ends.
  const stop = () => {
    if (stopping) return;
    stopping = true;
    next = todo.length;
    const running = [...children];
    for (const c of running) c.kill('SIGTERM');
    const end = () => {
      rmSync(poolFile(dir), { force: true });
      process.exit(143);
    };
    const deadline = setTimeout(end, 10_000);
    const exited = running.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))));
    void Promise.all(exited).then(() => {
      clearTimeout(deadline);
      end();
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const [cmd, ...prefix] = opts.engine ?? engineCommand();
  let done = 0;
  let failed = 0;
  const worker = async () => {
    while (next < todo.length) {
      const index = todo[next++];
      const logs = logPathsOf(dir, index);
      mkdirSync(dirname(logs.out), { recursive: true });
      const out = openSync(logs.out, 'w');
      const err = openSync(logs.err, 'w');
      const child = spawn(cmd, [...prefix, 'zoo', 'run', dir, '--row', String(index), '--threads', String(threads)], {
        stdio: ['ignore', out, err],
      });
      children.add(child);
      const code = await new Promise<number>((res) => {
        child.on('error', () => res(-1));
        child.on('exit', (c, s) => res(c ?? (s ? 128 : 1)));
      });
      children.delete(child);
      closeSync(out);
      closeSync(err);
      // A process that died before it could say why (killed, out of memory) still gets its row marked.
      if (code !== 0 && readRecord(dir, index)?.state !== 'failed') {
        const rec = readRecord(dir, index);
        writeRecord(dir, index, {
          state: 'failed',
          pid: child.pid ?? 0,
          host: hostname(),
          started: rec?.started ?? new Date().toISOString(),
          finished: new Date().toISOString(),
          error: `the engine process ended with ${code} before finishing: ${lastLine(logs.err)}`,
        });
      }
      if (code === 0) done++;
      else failed++;
      opts.onRowEnd?.(index, code === 0);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, worker));
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
    rmSync(poolFile(dir), { force: true });
  }
  return { ran: todo, done, failed, seconds: (Date.now() - started) / 1000 };
}

function lastLine(path: string): string {
  if (!existsSync(path)) return '(no log)';
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return lines[lines.length - 1] || '(empty log)';
}

/** The pid of a local pool running this zoo on this host, if one is. */
export function localPool(dir: string): number | undefined {
  try {
    const p = JSON.parse(readFileSync(poolFile(dir), 'utf8')) as { pid: number; host: string };
    if (p.host !== hostname()) return undefined;
    process.kill(p.pid, 0);
    return p.pid;
  } catch {
    return undefined;
  }
}
