/**
 * The command lines of `feature-complexity zoo …` that the host runs for a folder of checkpoints
 * (issue #16), from the extension's settings; and what it reads back from the CLI's output.
 * No VS Code here: unit-tested in test/unit/extension/zooArgs.test.ts.
 */
import * as path from 'node:path';
import type { ClusterSettings, Settings } from '../config';

/** A zoo's name: what the engine accepts (letters, digits, '.', '_', '-'; at most 64, a letter or digit first). */
const ZOO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The folder's name made a zoo name: accents dropped, other characters become '-', leading '.', '_' and '-' go. */
export function defaultZooName(folder: string): string {
  const name = path
    .basename(folder)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name || 'zoo';
}

/** Why `name` cannot be a zoo's name (for the input box), or undefined. */
export function zooNameProblem(name: string): string | undefined {
  return ZOO_NAME.test(name) ? undefined : "Letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit).";
}

/**
 * The analyze flags every row of the zoo runs with, from the same settings a single checkpoint's
 * analysis sends the engine (flows/analyzeFlow.ts). The target layer is the engine's default for
 * each checkpoint; threads are the run's business (`zoo run --threads`, Slurm's cpus-per-task),
 * not the analysis's. Each flag is written `--flag=value`, so that a value that starts with '-'
 * stays a value.
 */
export function analyzeFlags(
  cfg: Pick<Settings, 'orders' | 'budget' | 'width' | 'backend' | 'seed' | 'exemplars' | 'reliabilityMethod' | 'shapley' | 'substitution'>,
  python?: string,
): string[] {
  const flags = [`--orders=${cfg.orders.join(',')}`, `--budget=${cfg.budget}`, `--width=${cfg.width}`, `--backend=${cfg.backend}`, `--seed=${cfg.seed}`];
  // The reliability method matters only with exemplars: without them it would only change the rows' keys.
  if (cfg.exemplars.length) flags.push(`--exemplars=${cfg.exemplars.join(',')}`, `--reliability-method=${cfg.reliabilityMethod}`);
  if (cfg.shapley) flags.push('--shapley');
  if (cfg.substitution) flags.push('--substitution');
  if (python) flags.push(`--python=${python}`);
  return flags;
}

/** `zoo submit NAME --slurm …` flags from the cluster settings (empty and 0 leave a flag out). */
export function submitFlags(c: ClusterSettings, retryFailed = false): string[] {
  const flags = ['--slurm'];
  if (c.partition) flags.push(`--partition=${c.partition}`);
  if (c.gres) flags.push(`--gres=${c.gres}`);
  if (c.cpusPerTask > 0) flags.push(`--cpus-per-task=${c.cpusPerTask}`);
  if (c.time) flags.push(`--time=${c.time}`);
  if (c.maxRunning > 0) flags.push(`--max-running=${c.maxRunning}`);
  for (const a of c.sbatchArgs) if (a.trim()) flags.push(`--sbatch-arg=${a.trim()}`);
  if (retryFailed) flags.push('--retry-failed');
  return flags;
}

/** The CLI's one-line error (`feature-complexity zoo: …` on stderr), else its last line. */
export function cliErrorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^feature-complexity [\w-]+: (.+)$/.exec(lines[i]);
    if (m) return m[1];
  }
  return lines[lines.length - 1] ?? '';
}

/** The Slurm job id in `zoo submit`'s answer ("submitted job 1234: rows 0,1,2 …"). */
export function submittedJob(stdout: string): { job: string; rows: number } | undefined {
  const m = /submitted job (\S+?):? rows ([\d,]+)/.exec(stdout);
  return m ? { job: m[1], rows: m[2].split(',').filter(Boolean).length } : undefined;
}
