/**
 * Where each row of a zoo stands: its result file, the record its last run left, and what Slurm
 * says about its task (squeue; sacct when accounting is on). The files alone decide when the
 * scheduler cannot be asked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { logPathsOf, readManifest, readRecord, resultPathOf } from './manifest';
import { ZOO_ROW_STATES, type ZooManifest, type ZooRowState, type ZooRowStatus, type ZooStatus } from '../../shared/files/zoo';

/** Slurm's state of each array task, `<job>_<task>` → state (PENDING, RUNNING, …); undefined when it cannot be asked. */
export interface SchedulerView {
  tasks: Map<string, string>;
  /** Final states from accounting (sacct), when it is on. */
  finished: Map<string, string>;
  note?: string;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string; missing: boolean; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: !r.error && r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim().split('\n')[0] ?? '', missing };
}

/** What squeue (and sacct, where accounting is on) says about the zoo's jobs. */
export function askSlurm(m: ZooManifest): SchedulerView | undefined {
  if (m.submissions.length === 0) return undefined;
  const jobs = new Set(m.submissions.map((s) => s.jobId));
  const view: SchedulerView = { tasks: new Map(), finished: new Map() };
  // All of the user's tasks, one a line: asking by job id fails once a job has left the queue.
  const q = run('squeue', ['-h', '-r', '-o', '%i|%T']);
  if (!q.ok) {
    view.note = q.missing
      ? 'squeue is not on PATH: the states come from the zoo’s files alone (run this where Slurm’s commands are, e.g. the login node)'
      : `squeue failed (${q.err}): the states come from the zoo’s files alone`;
    return view;
  }
  for (const line of q.out.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (id && state && jobs.has(id.split('_')[0])) view.tasks.set(id, state);
  }
  const a = run('sacct', ['-n', '-P', '-X', '-j', [...jobs].join(','), '-o', 'JobID,State']);
  if (a.ok)
    for (const line of a.out.split('\n')) {
      const [id, state] = line.trim().split('|');
      if (id && state && !view.tasks.has(id)) view.finished.set(id, state.split(' ')[0]);
    }
  return view;
}

function isComplete(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { complete?: boolean }).complete === true;
  } catch {
    return false;
  }
}

/** Whether process `pid` is running (on this host): signal 0 reaches it, or it exists but belongs to another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ACTIVE_RUNNING = new Set(['RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'STAGE_OUT', 'RESIZING', 'SIGNALING']);

export function zooStatus(dir: string, scheduler?: (m: ZooManifest) => SchedulerView | undefined): ZooStatus {
  const m = readManifest(dir);
  const view = (scheduler ?? askSlurm)(m);
  const here = hostname();
  const rows: ZooRowStatus[] = m.rows.map((row) => {
    const logs = logPathsOf(dir, row.index);
    const base = { index: row.index, checkpoint: row.checkpoint, key: row.key, ...logs };
    const result = resultPathOf(dir, row);
    if (isComplete(result)) return { ...base, state: 'done' as const, result };
    const sub = [...m.submissions].reverse().find((s) => s.rows.includes(row.index));
    const task = sub ? `${sub.jobId}_${row.index}` : undefined;
    const slurmState = task ? view?.tasks.get(task) : undefined;
    if (slurmState === 'PENDING' || slurmState === 'REQUEUED') return { ...base, state: 'queued' as const, job: task };
    if (slurmState && ACTIVE_RUNNING.has(slurmState)) return { ...base, state: 'running' as const, job: task };
    const rec = readRecord(dir, row.index);
    const status = (state: ZooRowState, error?: string): ZooRowStatus => ({
      ...base,
      state,
      ...(error ? { error } : {}),
      ...(rec?.job ? { job: rec.job } : {}),
    });
    if (rec?.state === 'failed') return status('failed', rec.error ?? 'failed');
    if (rec?.state === 'done') return status('failed', `its result file ${result} is missing or incomplete`);
    if (rec?.state === 'running') {
      if (rec.job) {
        // A Slurm task: running while squeue lists it; gone from the queue without a result, it failed.
        if (!view || view.note) return status('running');
        const acct = view.finished.get(rec.job);
        return status(
          'failed',
          `the Slurm task ${rec.job} ended without finishing${acct ? ` (${acct})` : ' (cancelled, killed or out of time)'}; see ${logs.err}`,
        );
      }
      if (rec.host !== here) return status('running');
      if (processAlive(rec.pid)) return status('running');
      return status('failed', `its analysis (pid ${rec.pid}) stopped without finishing; see ${logs.err}`);
    }
    // Submitted, never started, and no longer queued.
    if (task && view && !view.note) {
      const acct = view.finished.get(task);
      return status(
        'failed',
        `the Slurm task ${task} left the queue before its analysis started${acct ? ` (${acct})` : ' (cancelled, or it could not start)'}; see ${logs.err}`,
      );
    }
    if (task) return status('queued');
    return status('waiting');
  });
  const counts = Object.fromEntries(ZOO_ROW_STATES.map((s) => [s, 0])) as Record<ZooRowState, number>;
  for (const r of rows) counts[r.state]++;
  return { name: m.name, dir, total: rows.length, counts, rows, ...(view?.note ? { note: view.note } : {}) };
}
