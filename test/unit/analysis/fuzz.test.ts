/**
 * Fuzz: every fixture (checkpoints and datasets) is mutated — truncated, bytes flipped, header
 * overwritten — and loaded; each case must end in a successful load or a BadInputError, never
 * another exception, a crash or a hang. Cases run in a worker thread so that a case stuck in
 * synchronous code can be stopped: the main thread gives each case its own deadline and ends
 * the worker when one passes. Seeded: the same cases every run.
 */
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { BadInputError } from '../../../src/analysis/util/errors';
import { loadTeacher } from '../../../src/analysis/teacher/teacher';

const F = join(__dirname, '..', '..', 'fixtures', 'formats');
const CASE_TIMEOUT_MS = 20000;

interface Target {
  /** What is loaded: a file or a folder under F. */
  unit: string;
  /** The file inside it that is mutated. */
  file: string;
  kind: 'teacher' | 'dataset';
  cases: number;
}

const TARGETS: Target[] = [
  { unit: 'cnn.onnx', file: 'cnn.onnx', kind: 'teacher', cases: 45 },
  { unit: 'keras_cnn.h5', file: 'keras_cnn.h5', kind: 'teacher', cases: 40 },
  { unit: 'keras_cnn.keras', file: 'keras_cnn.keras', kind: 'teacher', cases: 35 },
  { unit: 'graph', file: 'graph/model.json', kind: 'teacher', cases: 30 },
  { unit: 'graph', file: 'graph/group1-shard1of1.bin', kind: 'teacher', cases: 20 },
  { unit: 'data.npz', file: 'data.npz', kind: 'dataset', cases: 30 },
  { unit: 'data-npy', file: 'data-npy/x_train.npy', kind: 'dataset', cases: 30 },
  { unit: 'data-npy', file: 'data-npy/y_test.npy', kind: 'dataset', cases: 15 },
  { unit: 'cifar', file: 'cifar/data_batch_1.bin', kind: 'dataset', cases: 20 },
  { unit: 'images', file: 'images/train/class_2/10.png', kind: 'dataset', cases: 25 },
  { unit: 'images', file: 'images/test/class_0/1.jpg', kind: 'dataset', cases: 25 },
];

interface Case {
  id: string;
  target: Target;
  mutation: string;
  /** The mutated file's bytes. */
  bytes: Uint8Array;
}

/** mulberry32: the cases must repeat run to run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, k: number, next: () => number): { mutation: string; bytes: Uint8Array } {
  const n = src.length;
  const pos = () => Math.floor(next() * n);
  switch (k % 5) {
    case 0: {
      const cut = [0, 1, 7, 16, Math.floor(n / 2), n - 1][Math.floor(k / 5) % 6] ?? pos();
      const at = k < 30 ? cut : pos();
      return { mutation: `truncated to ${at} of ${n} bytes`, bytes: src.subarray(0, at) };
    }
    case 1:
    case 2: {
      const b = Uint8Array.from(src);
      const flips = 1 + Math.floor(next() * 16);
      for (let i = 0; i < flips; i++) b[pos()] ^= 1 << Math.floor(next() * 8);
      return { mutation: `${flips} bit flips`, bytes: b };
    }
    case 3: {
      const b = Uint8Array.from(src);
      const len = Math.min(n, 4 + Math.floor(next() * 28));
      for (let i = 0; i < len; i++) b[i] = Math.floor(next() * 256);
      return { mutation: `first ${len} bytes (header) replaced`, bytes: b };
    }
    default: {
      const b = Uint8Array.from(src);
      const at = pos();
      const len = Math.min(n - at, 1 + Math.floor(next() * 64));
      b.fill(next() < 0.5 ? 0 : 0xff, at, at + len);
      return { mutation: `${len} bytes at ${at} set to ${b[at]}`, bytes: b };
    }
  }
}

function makeCases(): Case[] {
  const next = rng(20260101);
  const out: Case[] = [];
  for (const t of TARGETS) {
    const src = readFileSync(join(F, t.file));
    for (let k = 0; k < t.cases; k++) {
      const m = mutate(src, k, next);
      out.push({ id: `${t.file}#${k}`, target: t, ...m });
    }
  }
  return out;
}

type Outcome = { id: string; result: 'loaded' | 'bad-input' | 'other'; message: string };

async function runCase(c: Case, dir: string): Promise<Outcome> {
  await useBackend('cpu');
  const root = join(dir, c.id.replace(/[^a-z0-9]+/gi, '_'));
  cpSync(join(F, c.target.unit), join(root, c.target.unit), { recursive: statSync(join(F, c.target.unit)).isDirectory() });
  writeFileSync(join(root, c.target.file), c.bytes);
  const path = join(root, c.target.unit);
  try {
    if (c.target.kind === 'teacher') {
      const t = await loadTeacher(path);
      const [h, w, ch] = t.inputShape;
      const x = tf.zeros([2, h, w, ch]) as tf.Tensor4D;
      const f = await t.runTrunk(x);
      const y = await t.runHead(f);
      tf.dispose([x, f, y]);
      await t.dispose();
    } else {
      loadDataset(path);
    }
    return { id: c.id, result: 'loaded', message: c.mutation };
  } catch (e) {
    const message = `${c.mutation}: ${e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e)}`;
    return { id: c.id, result: e instanceof BadInputError ? 'bad-input' : 'other', message };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (!isMainThread) {
  // Worker: run the cases from `start`, reporting each before and after.
  const { start, dir } = workerData as { start: number; dir: string };
  const cases = makeCases();
  (async () => {
    for (let i = start; i < cases.length; i++) {
      parentPort?.postMessage({ type: 'start', index: i });
      parentPort?.postMessage({ type: 'done', index: i, outcome: await runCase(cases[i], dir) });
    }
    parentPort?.postMessage({ type: 'end' });
  })().catch((e) => parentPort?.postMessage({ type: 'fatal', message: e instanceof Error ? e.stack : String(e) }));
} else {
  test('fuzz: mutated checkpoints and datasets load or fail with BadInputError, within a deadline', { timeout: 600000 }, async () => {
    const cases = makeCases();
    assert.ok(cases.length >= 300, `${cases.length} cases`);
    const dir = mkdtempSync(join(tmpdir(), 'fc-fuzz-'));
    const outcomes: Outcome[] = [];
    const failures: string[] = [];
    const started = Date.now();
    try {
      let start = 0;
      while (start < cases.length) {
        // One worker until a case hangs or the worker dies; then a fresh one from the next case.
        start = await new Promise<number>((resolve) => {
          const w = new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: { start, dir } });
          let current = start;
          let timer: NodeJS.Timeout | undefined;
          const arm = () => {
            clearTimeout(timer);
            timer = setTimeout(() => {
              failures.push(`${cases[current].id} (${cases[current].mutation}): no result within ${CASE_TIMEOUT_MS} ms`);
              void w.terminate();
            }, CASE_TIMEOUT_MS);
          };
          w.on('message', (m: { type: string; index?: number; outcome?: Outcome; message?: string }) => {
            if (m.type === 'start') {
              current = m.index as number;
              arm();
            } else if (m.type === 'done' && m.outcome) {
              outcomes.push(m.outcome);
              if (m.outcome.result === 'other') failures.push(`${m.outcome.id}: ${m.outcome.message}`);
            } else if (m.type === 'fatal') {
              failures.push(`worker failed at ${cases[current].id}: ${m.message}`);
            }
          });
          w.on('error', (e) => failures.push(`${cases[current].id} (${cases[current].mutation}): worker crashed: ${e.message}`));
          w.on('exit', () => {
            clearTimeout(timer);
            resolve(
              outcomes.length >= cases.length
                ? cases.length
                : Math.max(current + 1, outcomes.length > 0 ? cases.findIndex((c) => c.id === outcomes[outcomes.length - 1].id) + 1 : start + 1),
            );
          });
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const count = (r: Outcome['result']) => outcomes.filter((o) => o.result === r).length;
    process.stdout.write(
      `# fuzz: ${cases.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${count('loaded')} loaded, ${count('bad-input')} BadInputError, ${count('other')} other\n`,
    );
    // Every BadInputError names the file it is about (or the folder that holds it).
    for (const o of outcomes.filter((x) => x.result === 'bad-input')) {
      const c = cases.find((x) => x.id === o.id) as Case;
      if (!o.message.includes(c.target.unit) && !o.message.includes(relative(c.target.unit, c.target.file)))
        failures.push(`${o.id}: the error does not name the file: ${o.message}`);
    }
    assert.deepEqual(failures, []);
  });
}
