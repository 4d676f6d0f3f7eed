/**
 * Handing a zoo to Slurm: an sbatch script whose array task i runs row i
 * (`feature-complexity zoo run <zoo> --row i`), submitted with `sbatch --parsable`; and cancelling
 * what runs (scancel for Slurm's tasks, SIGTERM for local ones).
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { BadInputError } from '../util/errors';
import { writeFileAtomic } from '../util/atomicWrite';
import { readManifest, readRecord, recordPathOf, writeManifest } from './manifest';
import { engineCommand, localPool } from './runner';
import { zooStatus } from './status';
import { mkdirSync, rmSync } from 'node:fs';

export interface SlurmOptions {
  partition?: string;
  gres?: string;
  cpusPerTask?: number;
  time?: string;
  /** At most this many tasks at once (`--array=…%max`). */
  maxRunning?: number;
  /** More `#SBATCH` lines, each a flag as sbatch takes it (`--mem=8G`). */
  sbatchArgs?: string[];
  /** Only the failed rows. */
  retryFailed?: boolean;
  /** Write the script, do not submit it. */
  dryRun?: boolean;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `0-3,7,9-10`: Slurm's array range syntax for sorted row indices. */
export function arrayRange(rows: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < rows.length;) {
    let j = i;
    while (j + 1 < rows.length && rows[j + 1] === rows[j] + 1) j++;
    parts.push(j > i ? `${rows[i]}-${rows[j]}` : String(rows[i]));
    i = j + 1;
  }
  return parts.join(',');
}

export function sbatchScript(dir: string, name: string, rows: number[], o: SlurmOptions): string {
  const lines = ['#!/bin/bash', `#SBATCH --job-name=fc-zoo-${name}`, `#SBATCH --array=${arrayRange(rows)}${o.maxRunning ? `%${o.maxRunning}` : ''}`];
  lines.push(`#SBATCH --output=${join(dir, 'logs', '%a.out')}`, `#SBATCH --error=${join(dir, 'logs', '%a.err')}`);
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.gres) lines.push(`#SBATCH --gres=${o.gres}`);
  if (o.cpusPerTask) lines.push(`#SBATCH --cpus-per-task=${o.cpusPerTask}`);
  if (o.time) lines.push(`#SBATCH --time=${o.time}`);
  for (const a of o.sbatchArgs ?? []) {
    if (!a.startsWith('-') || /[\n\r]/.test(a)) throw new BadInputError(`--sbatch-arg must be one sbatch flag such as --mem=8G, got '${a}'`);
    lines.push(`#SBATCH ${a}`);
  }
  const engine = engineCommand();
  const cmd = engine.map(quote).join(' ');
  lines.push('');
  // An editor's own binary (VS Code's extension host on a login node) runs the engine as Node only with this set.
  if (!/^node(\.exe)?$/i.test(basename(engine[0]))) lines.push('export ELECTRON_RUN_AS_NODE=1');
  lines.push(
    '# Task i analyses row i of the zoo into results/<key>.json and records how it went in rows/i.json.',
    `cd ${quote(process.cwd())}`,
    `exec ${cmd} zoo run ${quote(dir)} --row "$SLURM_ARRAY_TASK_ID" --threads "\${SLURM_CPUS_PER_TASK:-1}"`,
    '',
  );
  return lines.join('\n');
}

function slurmCommand(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new BadInputError(`${cmd} is not on PATH: submit from a Slurm login node (or run the zoo here with: feature-complexity zoo run NAME)`);
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || String(r.error ?? '')).trim().split('\n')[0]}`);
  return r.stdout.trim();
}

export function submitSlurm(dir: string, o: SlurmOptions): { jobId?: string; rows: number[]; script: string } {
  const status = zooStatus(dir);
  const rows = status.rows.filter((r) => (o.retryFailed ? r.state === 'failed' : r.state === 'waiting' || r.state === 'failed')).map((r) => r.index);
  if (rows.length === 0)
    throw new BadInputError(
      o.retryFailed
        ? `zoo '${status.name}' has no failed rows to resubmit`
        : `zoo '${status.name}' has nothing to submit: every row is done, running or queued`,
    );
  const m = readManifest(dir);
  const n = m.submissions.length + 1;
  const script = `slurm-${n}.sbatch`;
  writeFileAtomic(join(dir, script), sbatchScript(dir, m.name, rows, o));
  if (o.dryRun) return { rows, script: join(dir, script) };
  // Slurm fails a task whose output folder is missing (JobLaunchFailure, no log at all).
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const jobId = slurmCommand('sbatch', ['--parsable', join(dir, script)]).split(';')[0];
  if (!/^\d+$/.test(jobId)) throw new Error(`sbatch answered '${jobId}', not a job id`);
  // The rows start afresh: their last run's record would otherwise say failed until the task starts.
  for (const r of rows) rmSync(recordPathOf(dir, r), { force: true });
  m.submissions.push({ scheduler: 'slurm', jobId, rows, submitted: new Date().toISOString(), script });
  writeManifest(dir, m);
  return { jobId, rows, script: join(dir, script) };
}

/** Stops what runs the zoo: its Slurm jobs that still have tasks (scancel), the local pool and its analyses (SIGTERM). */
export function cancelZoo(dir: string): string[] {
  const m = readManifest(dir);
  const status = zooStatus(dir);
  const said: string[] = [];
  const active = new Set(status.rows.filter((r) => r.job && (r.state === 'running' || r.state === 'queued')).map((r) => r.job!.split('_')[0]));
  for (const job of active) {
    slurmCommand('scancel', [job]);
    said.push(`scancel ${job}`);
  }
  const pool = localPool(dir);
  if (pool !== undefined) {
    // The pool stops its rows itself and waits until they have recorded it: signalling them too would race it.
    process.kill(pool, 'SIGTERM');
    said.push(`stopped the local run (pid ${pool})`);
    return said;
  }
  for (const r of m.rows) {
    const rec = readRecord(dir, r.index);
    if (rec?.state === 'running' && !rec.job && rec.host === hostname()) {
      try {
        process.kill(rec.pid, 'SIGTERM');
        said.push(`stopped row ${r.index} (pid ${rec.pid})`);
      } catch {
        // already gone
      }
    }
  }
  return said;
}
