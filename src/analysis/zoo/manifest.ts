/**
 * A zoo's manifest (src/shared/files/zoo.ts): finding the checkpoints of a folder, glob or list
 * file, keying each by its bytes and the settings, and reading/writing `zoo.json`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { BadInputError } from '../util/errors';
import { writeJsonAtomic } from '../util/atomicWrite';
import { ZOO_CHECKPOINT_EXTENSIONS, ZOO_SCHEMA_VERSION, ZOOS_FOLDER, type ZooManifest, type ZooRow, type ZooRowRecord } from '../../shared/files/zoo';

/** A zoo's name: what a folder may be called on every platform, and a Slurm job name. */
export function checkZooName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new BadInputError(`zoo name '${name}' must be letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)`);
  return name;
}

/** The folder of zoo NAME in `workspace`. */
export function zooDir(workspace: string, name: string): string {
  return join(resolve(workspace), ZOOS_FOLDER, checkZooName(name));
}

/** A zoo given by name (in `workspace`), by its folder or by its zoo.json: its folder, which must hold a manifest. */
export function findZoo(ref: string, workspace: string): string {
  const candidates = [resolve(ref), join(resolve(workspace), ZOOS_FOLDER, ref)];
  for (const c of candidates) {
    const dir = basename(c) === 'zoo.json' ? dirname(c) : c;
    if (existsSync(join(dir, 'zoo.json'))) return dir;
  }
  throw new BadInputError(
    `no zoo '${ref}' in ${join(resolve(workspace), ZOOS_FOLDER)} (plan one with: feature-complexity zoo plan <folder> --name NAME --data DATASET)`,
  );
}

export function readManifest(dir: string): ZooManifest {
  const path = join(dir, 'zoo.json');
  let m: ZooManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as ZooManifest;
  } catch (e) {
    throw new BadInputError(`${path}: not a readable zoo manifest (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (m?.kind !== 'feature-complexity-zoo' || m.schemaVersion !== ZOO_SCHEMA_VERSION || !Array.isArray(m.rows))
    throw new BadInputError(`${path}: not a zoo manifest of schema version ${ZOO_SCHEMA_VERSION}`);
  m.submissions ??= [];
  return m;
}

export function writeManifest(dir: string, m: ZooManifest): void {
  writeJsonAtomic(join(dir, 'zoo.json'), m);
}

export const resultPathOf = (dir: string, row: ZooRow): string => join(dir, 'results', `${row.key}.json`);
export const recordPathOf = (dir: string, index: number): string => join(dir, 'rows', `${index}.json`);
export const logPathsOf = (dir: string, index: number): { out: string; err: string } => ({
  out: join(dir, 'logs', `${index}.out`),
  err: join(dir, 'logs', `${index}.err`),
});

export function readRecord(dir: string, index: number): ZooRowRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPathOf(dir, index), 'utf8')) as ZooRowRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(dir: string, index: number, r: ZooRowRecord): void {
  writeJsonAtomic(recordPathOf(dir, index), r);
}

const isCheckpointFile = (name: string): boolean =>
  name === 'model.json' || (ZOO_CHECKPOINT_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());

/** Checkpoints under a folder, depth first, sorted; `.feature-complexity`, `node_modules` and dot folders are skipped. */
function walk(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory()) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      walk(join(dir, e.name), out);
    } else if (e.isFile() && isCheckpointFile(e.name)) out.push(join(dir, e.name));
  }
}

/**
 * The checkpoints a plan's source names: a folder (every checkpoint under it), a list file
 * (`.txt`/`.list`/`.lst`: one path a line, relative to the file, `#` comments), or a glob.
 */
export function findCheckpoints(source: string, cwd = process.cwd()): string[] {
  const abs = resolve(cwd, source);
  let found: string[];
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    found = [];
    walk(abs, found);
  } else if (existsSync(abs) && /\.(txt|list|lst)$/i.test(abs)) {
    found = readFileSync(abs, 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean)
      .map((l) => resolve(dirname(abs), l));
    const missing = found.find((p) => !existsSync(p));
    if (missing) throw new BadInputError(`${source}: lists ${missing}, which does not exist`);
  } else if (existsSync(abs)) {
    found = [abs];
  } else {
    found = globSync(source, { cwd, absolute: true, onlyFiles: false, dot: false }).sort();
  }
  found = [...new Set(found.map((p) => resolve(p)))];
  if (found.length === 0)
    throw new BadInputError(`${source}: no checkpoints found (a folder, a glob or a list file of model.json, ${ZOO_CHECKPOINT_EXTENSIONS.join(', ')} files)`);
  return found;
}

/** The bytes that make a checkpoint: its file, and for a TF.js model.json the weight files beside it that it names. */
function checkpointFiles(path: string): string[] {
  const file = statSync(path).isDirectory() ? join(path, 'model.json') : path;
  if (basename(file) !== 'model.json' || !existsSync(file)) return [file];
  try {
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest?: { paths?: string[] }[] };
    const shards = (manifest.weightsManifest ?? []).flatMap((g) => g.paths ?? []).map((p) => join(dirname(file), p));
    return [file, ...shards.filter((p) => existsSync(p))];
  } catch {
    return [file];
  }
}

/** A row's key: what it is (its bytes) and how it is analysed (the dataset and the flags). */
export function rowKey(checkpoint: string, data: string, args: string[]): string {
  const h = createHash('sha256');
  for (const f of checkpointFiles(checkpoint)) {
    h.update(f.slice(dirname(checkpoint).length));
    h.update(readFileSync(f));
  }
  h.update(JSON.stringify({ data, args }));
  return h.digest('hex').slice(0, 16);
}

/** The analyze flags that a zoo fixes per row itself. */
const ROW_FLAGS = new Set(['--out', '--data', '--json']);

export function planZoo(opts: { source: string; name: string; data: string; args: string[]; workspace: string; cwd?: string }): {
  dir: string;
  manifest: ZooManifest;
  added: number;
} {
  const bad = opts.args.find((a) => ROW_FLAGS.has(a.split('=')[0]));
  if (bad) throw new BadInputError(`${bad.split('=')[0]} is set by the zoo for each row; leave it out of the plan`);
  const cwd = opts.cwd ?? process.cwd();
  const data = resolve(cwd, opts.data);
  if (!existsSync(data)) throw new BadInputError(`dataset ${opts.data} does not exist`);
  const dir = zooDir(opts.workspace, opts.name);
  const checkpoints = findCheckpoints(opts.source, cwd);
  // A re-plan keeps the rows (and submissions) it had, and adds the new checkpoints at the end.
  const old = existsSync(join(dir, 'zoo.json')) ? readManifest(dir) : undefined;
  if (old && (old.data !== data || JSON.stringify(old.args) !== JSON.stringify(opts.args)))
    throw new BadInputError(`zoo '${opts.name}' exists with other settings (data ${old.data}, flags '${old.args.join(' ')}'); pick another --name`);
  const rows: ZooRow[] = old ? [...old.rows] : [];
  const known = new Set(rows.map((r) => r.checkpoint));
  let added = 0;
  for (const checkpoint of checkpoints) {
    if (known.has(checkpoint)) continue;
    // A checkpoint that cannot be read still gets a row: its analysis fails with the one-line reason.
    let key: string;
    try {
      key = rowKey(checkpoint, data, opts.args);
    } catch {
      key = createHash('sha256').update(checkpoint).digest('hex').slice(0, 16);
    }
    rows.push({ index: rows.length, checkpoint, key });
    added++;
  }
  const manifest: ZooManifest = {
    schemaVersion: ZOO_SCHEMA_VERSION,
    kind: 'feature-complexity-zoo',
    name: opts.name,
    created: old?.created ?? new Date().toISOString(),
    source: old?.source ?? (isAbsolute(opts.source) ? opts.source : resolve(cwd, opts.source)),
    data,
    args: opts.args,
    rows,
    submissions: old?.submissions ?? [],
  };
  writeManifest(dir, manifest);
  return { dir, manifest, added };
}
