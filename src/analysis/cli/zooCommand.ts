/**
 * `feature-complexity zoo plan|run|status|submit|cancel|list`: many checkpoints analysed with one set of
 * settings, locally N at a time or as a Slurm job array (src/analysis/zoo/, src/shared/files/zoo.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandHandler } from './command';
import { ANALYZE_OPTIONS, analyzeCommand, parseInteger } from './commands';
import { BadInputError } from '../util/errors';
import { findZoo, planZoo } from '../zoo/manifest';
import { parseShard, runLocal, runRow } from '../zoo/runner';
import { cancelZoo, submitSlurm } from '../zoo/slurm';
import { zooStatus } from '../zoo/status';
import { ZOOS_FOLDER, zooCountsText, type ZooStatus } from '../../shared/files/zoo';

const WORKSPACE = { workspace: { type: 'string' } } as const;

const PLAN_OPTIONS = { ...ANALYZE_OPTIONS, ...WORKSPACE, name: { type: 'string' } } as const;

const plan: CommandHandler = async (argv) => {
  // The zoo's own flags (--name, --data, --workspace); every other flag is an analyze flag for every row.
  const { values, positionals, tokens } = parseArgs({ args: argv, allowPositionals: true, strict: true, tokens: true, options: PLAN_OPTIONS });
  if (positionals.length !== 1)
    throw new BadInputError('zoo plan needs one folder, glob or list file: feature-complexity zoo plan <folder> --name NAME --data DATASET');
  if (!values.name) throw new BadInputError('zoo plan needs --name NAME');
  if (!values.data) throw new BadInputError('zoo plan needs --data <dataset>');
  // Paths made absolute: a Slurm task may start in another folder.
  const args: string[] = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || t.name === 'name' || t.name === 'data' || t.name === 'workspace') continue;
    let value = t.value;
    if (value !== undefined && t.name === 'exemplars')
      value = value
        .split(',')
        .map((x) => resolve(x.trim()))
        .join(',');
    if (value !== undefined && t.name === 'python' && value.includes('/')) value = resolve(value);
    args.push(`--${t.name}`, ...(value !== undefined ? [value] : []));
  }
  const { dir, manifest, added } = planZoo({
    source: positionals[0],
    name: values.name,
    data: values.data,
    args,
    workspace: values.workspace ?? process.cwd(),
  });
  process.stdout.write(`zoo ${manifest.name}: ${manifest.rows.length} checkpoints (${added} new) in ${join(dir, 'zoo.json')}\n`);
  for (const r of manifest.rows) process.stdout.write(`  ${String(r.index).padStart(4)}  ${r.key}  ${r.checkpoint}\n`);
  process.stdout.write(`next: feature-complexity zoo run ${manifest.name}   or   feature-complexity zoo submit ${manifest.name} --slurm\n`);
};

const run: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...WORKSPACE, jobs: { type: 'string' }, shard: { type: 'string' }, row: { type: 'string' }, threads: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new BadInputError('zoo run needs the zoo: feature-complexity zoo run NAME [--jobs N] [--shard i/n]');
  const dir = findZoo(positionals[0], values.workspace ?? process.cwd());
  const threads = parseInteger('threads', values.threads, undefined, 1);
  if (values.row !== undefined) {
    await runRow(dir, parseInteger('row', values.row, 0, 0)!, { threads, analyze: analyzeCommand });
    return;
  }
  const s = await runLocal(dir, {
    jobs: parseInteger('jobs', values.jobs, undefined, 1),
    shard: values.shard ? parseShard(values.shard) : undefined,
    threads,
    onRowEnd: (i, ok) => process.stderr.write(`row ${i} ${ok ? 'done' : 'failed'}\n`),
  });
  const status = zooStatus(dir);
  process.stdout.write(formatStatus(status));
  process.stderr.write(`ran ${s.ran.length} rows in ${s.seconds.toFixed(1)} s: ${s.done} done, ${s.failed} failed\n`);
  if (s.failed > 0) throw new Error(`${s.failed} of ${s.ran.length} rows failed (zoo status ${status.name} shows why)`);
};

export function formatStatus(s: ZooStatus): string {
  const lines = [`zoo ${s.name}: ${zooCountsText(s)} (of ${s.total})`];
  if (s.note) lines.push(`note: ${s.note}`);
  for (const r of s.rows) {
    const what = r.state === 'done' ? r.result : r.state === 'failed' ? r.error : r.job ? `job ${r.job}` : '';
    lines.push(`  ${String(r.index).padStart(4)}  ${r.state.padEnd(7)}  ${r.checkpoint}${what ? `\n        ${what}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

const status: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...WORKSPACE, json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new BadInputError('zoo status needs the zoo: feature-complexity zoo status NAME');
  const s = zooStatus(findZoo(positionals[0], values.workspace ?? process.cwd()));
  process.stdout.write(values.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
};

const submit: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...WORKSPACE,
      slurm: { type: 'boolean' },
      partition: { type: 'string' },
      gres: { type: 'string' },
      'cpus-per-task': { type: 'string' },
      time: { type: 'string' },
      'max-running': { type: 'string' },
      'sbatch-arg': { type: 'string', multiple: true },
      'retry-failed': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new BadInputError('zoo submit needs the zoo: feature-complexity zoo submit NAME --slurm');
  if (!values.slurm) throw new BadInputError('zoo submit needs a scheduler: --slurm (or run the zoo here with: feature-complexity zoo run NAME)');
  const dir = findZoo(positionals[0], values.workspace ?? process.cwd());
  const r = submitSlurm(dir, {
    partition: values.partition,
    gres: values.gres,
    cpusPerTask: parseInteger('cpus-per-task', values['cpus-per-task'], undefined, 1),
    time: values.time,
    maxRunning: parseInteger('max-running', values['max-running'], undefined, 1),
    sbatchArgs: values['sbatch-arg'],
    retryFailed: values['retry-failed'],
    dryRun: values['dry-run'],
  });
  process.stdout.write(
    r.jobId
      ? `submitted job ${r.jobId}: rows ${r.rows.join(',')} (${r.script}); follow it with: feature-complexity zoo status ${positionals[0]}\n`
      : `wrote ${r.script} for rows ${r.rows.join(',')} (not submitted)\n`,
  );
};

const cancel: CommandHandler = async (argv) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: WORKSPACE });
  if (positionals.length !== 1) throw new BadInputError('zoo cancel needs the zoo: feature-complexity zoo cancel NAME');
  const said = cancelZoo(findZoo(positionals[0], values.workspace ?? process.cwd()));
  process.stdout.write(said.length ? said.join('\n') + '\n' : 'nothing of this zoo is running\n');
};

const list: CommandHandler = async (argv) => {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...WORKSPACE, json: { type: 'boolean' } } });
  const root = join(resolve(values.workspace ?? process.cwd()), ZOOS_FOLDER);
  const names = existsSync(root) ? readdirSync(root).filter((n) => existsSync(join(root, n, 'zoo.json'))) : [];
  const all = names.map((n) => zooStatus(join(root, n)));
  if (values.json) process.stdout.write(JSON.stringify(all, null, 2) + '\n');
  else process.stdout.write(all.length ? all.map((s) => `${s.name}: ${zooCountsText(s)} (of ${s.total})`).join('\n') + '\n' : `no zoos in ${root}\n`);
};

const SUB: Record<string, CommandHandler> = { plan, run, status, submit, cancel, list };

export const zooCommand: CommandHandler = async (argv) => {
  const [sub, ...rest] = argv;
  const handler = sub && Object.hasOwn(SUB, sub) ? SUB[sub] : undefined;
  if (!handler) throw new BadInputError(`zoo needs one of: ${Object.keys(SUB).join(', ')} (got '${sub ?? ''}')`);
  await handler(rest);
};
