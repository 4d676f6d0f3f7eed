/**
 * Fuzz campaign (issue #17): valid inputs of every supported kind, mutated with a fixed seed, each
 * analysed by the command-line engine as a user would run it. Every case must end within its time
 * limit either in a valid result file (the mutation left the input usable) or in one readable
 * line with exit code 2 (bad input); anything else is counted against us: exit 1 (an internal
 * error), a stack trace, more than one error line, a signal or an out-of-memory abort, a hang.
 *
 *   npm run fuzz                           every case (the run of record: README, "Reliability")
 *   npm run fuzz -- --cases 40 --seed 7    a subset or another seed
 *   npm run fuzz -- --jobs 2 --json        two at a time; one JSON line per case
 *
 * The unit test test/unit/analysis/fuzz.test.ts runs a fixed subset in `npm test`.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { validateResult } from '../src/analysis/pipeline/result';
import { mulberry32 } from '../src/analysis/util/random';

const ROOT = resolve(__dirname, '..');
const F = join(ROOT, 'test', 'fixtures', 'formats');
const DEMO = join(ROOT, 'media', 'demo');

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** One checkpoint (its files) and one dataset (a file or a folder), as copied into a case folder. */
interface Input {
  name: string;
  /** Files or folders to copy, relative name → source. */
  files: Record<string, string>;
  /** The path given to the CLI, relative to the case folder. */
  arg: string;
}

const CHECKPOINTS: Input[] = [
  {
    name: 'tfjs-graph',
    files: { 'graph/model.json': join(F, 'graph', 'model.json'), 'graph/group1-shard1of1.bin': join(F, 'graph', 'group1-shard1of1.bin') },
    arg: 'graph/model.json',
  },
  { name: 'keras-h5', files: { 'm.h5': join(F, 'keras_cnn.h5') }, arg: 'm.h5' },
  { name: 'keras-v3', files: { 'm.keras': join(F, 'keras_cnn.keras') }, arg: 'm.keras' },
  { name: 'onnx', files: { 'm.onnx': join(F, 'cnn.onnx') }, arg: 'm.onnx' },
  { name: 'torchscript', files: { 'm.pt': join(F, 'cnn.torchscript.pt') }, arg: 'm.pt' },
  {
    name: 'tfjs-layers',
    files: { 'demo/model.json': join(DEMO, 'demo-cnn', 'model.json'), 'demo/weights.bin': join(DEMO, 'demo-cnn', 'weights.bin') },
    arg: 'demo/model.json',
  },
];

const DATASETS: Input[] = [
  { name: 'npz', files: { 'd.npz': join(F, 'data.npz') }, arg: 'd.npz' },
  { name: 'npy-folder', files: { npy: join(F, 'data-npy') }, arg: 'npy' },
  { name: 'image-folder', files: { img: join(F, 'images') }, arg: 'img' },
  { name: 'cifar-binary', files: { cifar: join(F, 'cifar') }, arg: 'cifar' },
  { name: 'idx', files: { idx: join(DEMO, 'fashion-mnist') }, arg: 'idx' },
];

/** The checkpoint each dataset is paired with when the dataset is the mutated one (same input size where one exists). */
const PAIR: Record<string, string> = { npz: 'onnx', 'npy-folder': 'keras-h5', 'image-folder': 'tfjs-graph', 'cifar-binary': 'onnx', idx: 'tfjs-layers' };
const DATA_FOR: Record<string, string> = { 'tfjs-layers': 'idx' };

export interface Case {
  id: number;
  /** What was mutated, e.g. "onnx: truncate to 31 %". */
  what: string;
  checkpoint: Input;
  data: Input;
  /** Applied to the case folder after the copy. */
  mutate: (dir: string) => void;
}

/** Files of an input below the case folder (folders expanded). */
function filesOf(dir: string, input: Input): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    try {
      const entries = readdirSync(p, { withFileTypes: true });
      for (const e of entries) (e.isDirectory() ? walk : (q: string) => out.push(q))(join(p, e.name));
    } catch {
      out.push(p);
    }
  };
  for (const rel of Object.keys(input.files)) walk(join(dir, rel));
  return out.sort();
}

/** Byte-level mutations of one file; `gz` files are mutated inside the compression half of the time. */
function byteMutation(r: Rand): { label: string; apply: (b: Buffer) => Buffer } {
  const kind = pick(r, ['truncate', 'bitflip', 'zero-run', 'append', 'empty', 'swap-halves'] as const);
  const u = r();
  const k = 1 + Math.floor(r() * 16);
  const seed = Math.floor(r() * 2 ** 31);
  switch (kind) {
    case 'truncate':
      return { label: `truncated to ${Math.round(u * 95)} %`, apply: (b) => b.subarray(0, Math.floor(b.length * u * 0.95)) };
    case 'bitflip':
      return {
        label: `${k} bit flips`,
        apply: (b) => {
          const c = Buffer.from(b);
          const rr = mulberry32(seed);
          for (let i = 0; i < k && c.length; i++) c[Math.floor(rr() * c.length)] ^= 1 << Math.floor(rr() * 8);
          return c;
        },
      };
    case 'zero-run':
      return {
        label: 'a run of zero bytes',
        apply: (b) => {
          const c = Buffer.from(b);
          const at = Math.floor(u * c.length);
          c.fill(0, at, Math.min(c.length, at + 64 * k));
          return c;
        },
      };
    case 'append':
      return { label: 'garbage appended', apply: (b) => Buffer.concat([b, Buffer.from(Array.from({ length: 100 * k }, (_, i) => (i * 37 + seed) & 255))]) };
    case 'empty':
      return { label: 'emptied', apply: () => Buffer.alloc(0) };
    case 'swap-halves':
      return { label: 'halves swapped', apply: (b) => Buffer.concat([b.subarray(b.length >> 1), b.subarray(0, b.length >> 1)]) };
  }
}

function mutateFile(path: string, m: { apply: (b: Buffer) => Buffer }, inside: boolean): void {
  const b = readFileSync(path);
  if (inside && path.endsWith('.gz')) writeFileSync(path, gzipSync(m.apply(gunzipSync(b))));
  else writeFileSync(path, m.apply(b));
}

/** Structural mutations that keep the file readable but wrong: shapes, dtypes, sizes, labels, missing parts. */
function structural(r: Rand, kind: string): { label: string; apply: (dir: string, files: string[]) => void } | undefined {
  const rewriteJson = (label: string, f: (j: Record<string, unknown>) => void) => ({
    label,
    apply: (_dir: string, files: string[]) => {
      const p = files.find((x) => x.endsWith('model.json'))!;
      const j = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
      f(j);
      writeFileSync(p, JSON.stringify(j));
    },
  });
  const firstWeight = (j: Record<string, unknown>) => (j.weightsManifest as { weights: { shape: number[]; dtype: string; name: string }[] }[])[0].weights[0];
  const npyHeader = (label: string, from: RegExp, to: string, which: (f: string) => boolean) => ({
    label,
    apply: (_dir: string, files: string[]) => {
      for (const p of files.filter(which)) {
        const b = readFileSync(p);
        const text = b.subarray(0, Math.min(b.length, 256)).toString('latin1');
        if (!from.test(text)) continue;
        const replaced = Buffer.from(text.replace(from, to), 'latin1');
        writeFileSync(p, Buffer.concat([replaced, b.subarray(Math.min(b.length, 256))]));
      }
    },
  });
  const remove = (label: string, which: (f: string) => boolean) => ({
    label,
    apply: (_dir: string, files: string[]) => {
      const hit = files.filter(which);
      if (hit.length) rmSync(hit[Math.floor(r() * hit.length)], { recursive: true, force: true });
    },
  });
  const options: Record<string, { label: string; apply: (dir: string, files: string[]) => void }[]> = {
    'tfjs-graph': [
      rewriteJson('a weight shape declared 10⁶ times larger', (j) => (firstWeight(j).shape = firstWeight(j).shape.map((d) => d * 1000))),
      rewriteJson('a weight dtype that is not one', (j) => (firstWeight(j).dtype = 'complex128')),
      rewriteJson('no weightsManifest', (j) => delete j.weightsManifest),
      rewriteJson('the topology replaced by a number', (j) => (j.modelTopology = 42)),
      remove('the weights shard missing', (f) => f.endsWith('.bin')),
    ],
    'tfjs-layers': [
      rewriteJson('a weight shape declared 10⁶ times larger', (j) => (firstWeight(j).shape = firstWeight(j).shape.map((d) => d * 1000))),
      rewriteJson('a weight named that the model lacks', (j) => (firstWeight(j).name = 'nowhere/kernel')),
      rewriteJson('the layers list emptied', (j) => ((j.modelTopology as { config: { layers: unknown[] } }).config.layers = [])),
      remove('weights.bin missing', (f) => f.endsWith('weights.bin')),
    ],
    npz: [],
    'npy-folder': [
      npyHeader('an image array declared with 10⁹ samples', /\(96, 8, 8, 3\)/, '(999999999, 8, 8, 3)', (f) => f.endsWith('x_train.npy')),
      npyHeader('a complex dtype', /'descr': '[|<]u1'/, "'descr': '<c16'", (f) => f.endsWith('x_train.npy')),
      npyHeader('images with 5 channels', /\(96, 8, 8, 3\)/, '(96, 8, 8, 5)', (f) => f.endsWith('x_train.npy')),
      npyHeader('labels of another count', /\(96,\)/, '(95,)', (f) => f.endsWith('y_train.npy')),
      {
        label: 'labels out of range',
        apply: (_d, files) => {
          const p = files.find((f) => f.endsWith('y_train.npy'))!;
          const b = Buffer.from(readFileSync(p));
          b[b.length - 1] = 200;
          writeFileSync(p, b);
        },
      },
      remove('one array missing', (f) => f.endsWith('.npy')),
    ],
    'image-folder': [
      remove('an image missing', (f) => /class_\d\/\d+\.png$/.test(f)),
      {
        label: 'a text file posing as an image',
        apply: (_d, files) =>
          writeFileSync(
            files.find((f) => f.endsWith('.png'))!,
            'not a png at all',
          ),
      },
    ],
    'cifar-binary': [remove('a batch missing', (f) => f.endsWith('.bin'))],
    idx: [
      remove('the test labels missing', (f) => f.includes('t10k-labels')),
      {
        label: 'an image count that disagrees with the labels',
        apply: (_d, files) => {
          const p = files.find((f) => f.includes('train-images'))!;
          const b = Buffer.from(gunzipSync(readFileSync(p)));
          b.writeUInt32BE(b.readUInt32BE(4) + 7, 4);
          writeFileSync(p, gzipSync(b));
        },
      },
      {
        label: 'labels out of range',
        apply: (_d, files) => {
          const p = files.find((f) => f.includes('train-labels'))!;
          const b = Buffer.from(gunzipSync(readFileSync(p)));
          b[20] = 77;
          writeFileSync(p, gzipSync(b));
        },
      },
      {
        label: 'a wrong magic number',
        apply: (_d, files) => {
          const p = files.find((f) => f.includes('t10k-images'))!;
          const b = Buffer.from(gunzipSync(readFileSync(p)));
          b.writeUInt32BE(0x00000c03, 0);
          writeFileSync(p, gzipSync(b));
        },
      },
    ],
  };
  const list = options[kind] ?? [];
  return list.length ? pick(r, list) : undefined;
}

/** The cases of a campaign: deterministic in `seed`. */
export function generateCases(count: number, seed = 1): Case[] {
  const r = mulberry32(seed);
  const byName = (list: Input[], name: string) => list.find((i) => i.name === name)!;
  const cases: Case[] = [];
  for (let id = 0; id < count; id++) {
    const onCheckpoint = r() < 0.5;
    const target = onCheckpoint ? pick(r, CHECKPOINTS) : pick(r, DATASETS);
    const checkpoint = onCheckpoint ? target : byName(CHECKPOINTS, PAIR[target.name]);
    const data = onCheckpoint ? byName(DATASETS, DATA_FOR[target.name] ?? 'npz') : target;
    const s = r() < 0.35 ? structural(r, target.name) : undefined;
    const m = byteMutation(r);
    const inside = r() < 0.5;
    const fileIndex = r();
    const what = s ? `${target.name}: ${s.label}` : `${target.name}: one file ${m.label}`;
    cases.push({
      id,
      what,
      checkpoint,
      data,
      mutate: (dir) => {
        const files = filesOf(dir, target);
        if (s) s.apply(dir, files);
        else if (files.length) mutateFile(files[Math.floor(fileIndex * files.length)], m, inside);
      },
    });
  }
  return cases;
}

export type Outcome = 'result' | 'rejected' | 'internal-error' | 'crash' | 'stack-trace' | 'hang';

export interface CaseResult {
  id: number;
  what: string;
  outcome: Outcome;
  /** The line the user saw (the last of stderr), or why the result counts against us. */
  line: string;
  seconds: number;
  code: number | null;
  signal: string | null;
}

/** How the CLI is started: the bundle when built, else the TypeScript source through tsx. */
function engineCommand(): string[] {
  const built = join(ROOT, 'dist', 'engine.js');
  return existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src', 'analysis', 'main.ts')];
}

/** Runs one case in its own folder under `work`; the folder is removed afterwards. */
export async function runCase(c: Case, work: string, timeoutSeconds = 120): Promise<CaseResult> {
  const dir = join(work, `case-${c.id}`);
  mkdirSync(dir, { recursive: true });
  for (const input of [c.checkpoint, c.data]) {
    for (const [rel, from] of Object.entries(input.files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      cpSync(from, join(dir, rel), { recursive: true });
    }
  }
  c.mutate(dir);
  const out = join(dir, 'result.json');
  const args = [
    // A bounded heap: a declared size that the engine believed would abort here instead of swapping the machine.
    '--max-old-space-size=2048',
    ...engineCommand(),
    'analyze',
    join(dir, c.checkpoint.arg),
    '--data',
    join(dir, c.data.arg),
    '--orders',
    '0',
    '--budget',
    'quick',
    '--threads',
    '1',
    '--python',
    '/usr/bin/python3',
    '--out',
    out,
  ];
  const t0 = performance.now();
  const res = await new Promise<{ code: number | null; signal: string | null; stderr: string; timedOut: boolean }>((done) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FC_DEBUG: '' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-100_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stderr, timedOut });
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  try {
    return judge(c, res, seconds, out, timeoutSeconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function judge(
  c: Case,
  res: { code: number | null; signal: string | null; stderr: string; timedOut: boolean },
  seconds: number,
  out: string,
  timeoutSeconds: number,
): CaseResult {
  // Progress lines ("[ 12%] …") are not errors; what is left is what the user reads as the outcome.
  const lines = res.stderr.split('\n').filter((l) => l.trim() && !/^\[\s*\d+%\]/.test(l) && !/^result: /.test(l));
  const line = lines[lines.length - 1] ?? '';
  const base = { id: c.id, what: c.what, seconds, code: res.code, signal: res.signal };
  if (res.timedOut) return { ...base, outcome: 'hang', line: `no answer within ${timeoutSeconds} s` };
  if (lines.some((l) => /^\s+at .+[:(]/.test(l))) return { ...base, outcome: 'stack-trace', line: lines.slice(0, 3).join(' | ') };
  if (res.code === 0) {
    let problems: string[] | null;
    try {
      problems = validateResult(JSON.parse(readFileSync(out, 'utf8')));
    } catch (e) {
      problems = [e instanceof Error ? e.message : String(e)];
    }
    return problems
      ? { ...base, outcome: 'crash', line: `exit 0 without a valid result file (${problems.slice(0, 2).join('; ')})` }
      : { ...base, outcome: 'result', line: '' };
  }
  const oneLine = lines.length === 1 && /^feature-complexity analyze: \S/.test(line);
  if (res.code === 2 && oneLine) return { ...base, outcome: 'rejected', line };
  if (res.code === 1 && oneLine) return { ...base, outcome: 'internal-error', line };
  return { ...base, outcome: 'crash', line: lines.slice(-3).join(' | ') || `exit ${res.code} ${res.signal ?? ''}` };
}

/** Runs the cases `jobs` at a time; calls `each` as they finish. */
export async function runCampaign(cases: Case[], jobs: number, each?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'fc-fuzz-'));
  const results: CaseResult[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.max(1, jobs) }, async () => {
        while (next < cases.length) {
          const c = cases[next++];
          const r = await runCase(c, work);
          results.push(r);
          each?.(r);
        }
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return results.sort((a, b) => a.id - b.id);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
  const count = flag('--cases', 320);
  const seed = flag('--seed', 1);
  const jobs = flag('--jobs', availableParallelism());
  const json = argv.includes('--json');
  const t0 = performance.now();
  const results = await runCampaign(generateCases(count, seed), jobs, (r) => {
    if (json) console.log(JSON.stringify(r));
    else if (r.outcome !== 'result' && r.outcome !== 'rejected') console.log(`#${r.id} ${r.outcome}: ${r.what} → ${r.line}`);
  });
  const counts = new Map<Outcome, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const order: Outcome[] = ['result', 'rejected', 'internal-error', 'stack-trace', 'crash', 'hang'];
  const slowest = Math.max(...results.map((r) => r.seconds));
  console.log(
    `fuzz: ${results.length} cases (seed ${seed}) in ${((performance.now() - t0) / 1000).toFixed(0)} s, slowest ${slowest.toFixed(1)} s: ` +
      order.map((o) => `${o} ${counts.get(o) ?? 0}`).join(', '),
  );
  const bad = results.filter((r) => r.outcome !== 'result' && r.outcome !== 'rejected').length;
  process.exitCode = bad ? 1 : 0;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`fuzz: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
