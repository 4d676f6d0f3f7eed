/**
 * A zoo: many checkpoints analysed with one set of settings (issue #16). The engine writes these
 * files under `<workspace>/.feature-complexity/zoos/<name>/` (src/analysis/zoo/); the host's
 * Feature Complexity view and `feature-complexity zoo status` read them.
 *
 *   zoo.json              the manifest: one row per checkpoint, the settings, the submissions
 *   results/<key>.json    each row's ordinary result file, named by its key
 *   rows/<index>.json     each row's last run: running (pid, host), done or failed (its one-line error)
 *   logs/<index>.out|err  each row's output and errors (progress lines, the ρ table)
 *   slurm-<n>.sbatch      each submission's batch script
 */

export const ZOO_SCHEMA_VERSION = 1;

/** Where the zoos of a workspace live, relative to it. */
export const ZOOS_FOLDER = '.feature-complexity/zoos';

/** Checkpoint files a zoo's plan picks up in a folder (a TF.js model is its `model.json`). */
export const ZOO_CHECKPOINT_EXTENSIONS = ['.onnx', '.h5', '.hdf5', '.keras', '.pt', '.pth'] as const;

export interface ZooRow {
  index: number;
  /** Absolute path of the checkpoint. */
  checkpoint: string;
  /** sha256 of the checkpoint's bytes and the zoo's settings, 16 hex digits: the result file's name. */
  key: string;
}

export interface ZooSubmission {
  scheduler: 'slurm';
  jobId: string;
  /** The row indices submitted: the array's task ids. */
  rows: number[];
  submitted: string;
  /** The batch script, relative to the zoo's folder. */
  script: string;
}

export interface ZooManifest {
  schemaVersion: typeof ZOO_SCHEMA_VERSION;
  kind: 'feature-complexity-zoo';
  name: string;
  created: string;
  /** What the plan was given: a folder, a glob or a list file. */
  source: string;
  /** The dataset, as an absolute path. */
  data: string;
  /** The analyze flags every row runs with (no checkpoint, --data or --out). */
  args: string[];
  rows: ZooRow[];
  submissions: ZooSubmission[];
}

/** A row's last run, written by the process that runs it. */
export interface ZooRowRecord {
  state: 'running' | 'done' | 'failed';
  pid: number;
  host: string;
  started: string;
  finished?: string;
  /** The one-line error of a failed run. */
  error?: string;
  /** The Slurm job and task, `<job>_<task>`, when Slurm ran it. */
  job?: string;
}

export const ZOO_ROW_STATES = ['done', 'running', 'queued', 'failed', 'waiting'] as const;
/** done: its result is there; running; queued: submitted, not started; failed: with its error; waiting: never started. */
export type ZooRowState = (typeof ZOO_ROW_STATES)[number];

export interface ZooRowStatus {
  index: number;
  checkpoint: string;
  key: string;
  state: ZooRowState;
  /** The result file (absolute), when done. */
  result?: string;
  error?: string;
  job?: string;
  /** Its log files (absolute). */
  out: string;
  err: string;
}

export interface ZooStatus {
  name: string;
  /** The zoo's folder (absolute). */
  dir: string;
  total: number;
  counts: Record<ZooRowState, number>;
  rows: ZooRowStatus[];
  /** Said when the scheduler could not be asked (no squeue on PATH, say): the states then come from the files alone. */
  note?: string;
}

/** "3 done · 1 running · 1 failed" (states with no rows left out). */
export function zooCountsText(s: Pick<ZooStatus, 'counts' | 'total'>): string {
  const parts = ZOO_ROW_STATES.filter((k) => s.counts[k] > 0).map((k) => `${s.counts[k]} ${k}`);
  return parts.length ? parts.join(' · ') : `${s.total} rows`;
}
