/**
 * Training-step benchmark: one Adam step of a disentangler on the wasm backend against the same
 * network and step in PyTorch (bench/torch_step.py, CPU), measured in the same invocation.
 * Each size runs on 1 thread and on every core (pipeline/parallel.ts, the step split over worker
 * threads) beside PyTorch on 1 thread and on every core, and the whole demo analysis runs on 1
 * thread and on every core, all in one invocation (each whole analysis in a process of its own,
 * started with the V8 flags the product uses for that many threads: shared/engineFlags.ts).
 * Prints one JSON object per line: {bench, backend, threads, ours_ms, reference, reference_ms, ratio}.
 *
 *   npm run bench                       all sizes
 *   node --import tsx bench/run.ts --only platform --profile   per-kernel times of one size
 *   node --import tsx bench/run.ts --only 'whole quick' --pairs 3   the demo analysis, 1 thread and every core alternately, 3 times
 *   node --import tsx bench/run.ts --only 'whole default' --pairs 1  the default analysis (budget standard, width 32; minutes)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, useBackend } from '../src/analysis/tf/backend';
import { runDemo, trainDemoTeacher } from '../src/analysis/experiments/demo';
import { adam } from '../src/analysis/tf/kernels/adam';
import {
  DEFAULT_WIDTH,
  Disentangler,
  blocksPerStage,
  squaredError,
  stageStrides,
  trainStep,
  type DisentanglerSpec,
} from '../src/analysis/pipeline/disentangler';
import { StepPool } from '../src/analysis/pipeline/parallel';
import { DEFAULT_BUDGET } from '../src/shared/vocabulary';
import { PARALLEL_V8_FLAGS } from '../src/shared/engineFlags';

interface Size {
  bench: string;
  batch: number;
  spec: Omit<DisentanglerSpec, 'order'> & { order: number };
  warmup: number;
  steps: number;
}

const SIZES: Size[] = [
  {
    bench: 'step B32 32x32x3->8x8x64 C64 l4',
    batch: 32,
    spec: { order: 4, width: 64, inputShape: [32, 32, 3], targetShape: [8, 8, 64] },
    warmup: 3,
    steps: 10,
  },
  {
    bench: 'step B32 28x28x1->7x7x32 C32 l8',
    batch: 32,
    spec: { order: 8, width: 32, inputShape: [28, 28, 1], targetShape: [7, 7, 32] },
    warmup: 3,
    steps: 10,
  },
  {
    bench: 'step B32 28x28x1->7x7x16 C16 l32',
    batch: 32,
    spec: { order: 32, width: 16, inputShape: [28, 28, 1], targetShape: [7, 7, 16] },
    warmup: 3,
    steps: 10,
  },
  {
    bench: 'step B128 28x28x1->7x7x32 C32 l8',
    batch: 128,
    spec: { order: 8, width: 32, inputShape: [28, 28, 1], targetShape: [7, 7, 32] },
    warmup: 2,
    steps: 6,
  },
  {
    bench: 'step B32 32x32x3->8x8x128 C128 l8',
    batch: 32,
    spec: { order: 8, width: 128, inputShape: [32, 32, 3], targetShape: [8, 8, 128] },
    warmup: 1,
    steps: 3,
  },
];

interface Op {
  bench: string;
  op: 'matmul' | 'conv';
  /** matmul: [m, k, n]; conv: [batch, h, w, cin, cout, k] ('same', stride 1). */
  shape: number[];
  warmup: number;
  steps: number;
}

/** Single primitives: the floor under the training step is how fast each backend multiplies. */
const OPS: Op[] = [
  { bench: 'op matmul 2048x576 * 576x64', op: 'matmul', shape: [2048, 576, 64], warmup: 3, steps: 15 },
  { bench: 'op conv fwd B32 32x32 64->64 3x3', op: 'conv', shape: [32, 32, 32, 64, 64, 3], warmup: 2, steps: 7 },
];

const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomTensor(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomUniform(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
}

async function ours(size: Size, profile: boolean, threads = 1): Promise<{ ms: number; cpuMs: number }> {
  const net = Disentangler.create(size.spec, 1);
  const opt = adam(1e-3);
  const x = randomTensor([size.batch, ...size.spec.inputShape], 2);
  const y = randomTensor([size.batch, ...size.spec.targetShape], 3);
  const pool = await StepPool.open(threads, 'wasm');
  await pool?.bind(net);
  const step = () => (pool ? pool.step(opt, x, y, (a, b) => squaredError(net, a, b)) : trainStep(net, opt, x, y));
  for (let i = 0; i < size.warmup; i++) await step();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < size.steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    times.push(performance.now() - t0);
  }
  await pool?.close();
  if (profile && !pool) await printProfile(net, opt, x, y);
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return { ms: median(times), cpuMs: median(cpu) };
}

/**
 * Per-kernel CPU time of a few steps, summed by kernel name, to stderr. CPU time rather than wall
 * time, because this machine is shared; each wasm kernel is wrapped once (nested calls, such as the
 * convs inside the gradient kernels, count toward their caller).
 */
async function printProfile(net: Disentangler, opt: tf.Optimizer, x: tf.Tensor4D, y: tf.Tensor4D): Promise<void> {
  const byName = new Map<string, { ms: number; n: number }>();
  let depth = 0;
  const wrapped: tf.KernelConfig[] = [];
  for (const k of tf.getKernelsForBackend('wasm')) {
    const inner = k.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      if (depth++ > 0) {
        try {
          return inner(args);
        } finally {
          depth--;
        }
      }
      const c0 = process.cpuUsage();
      try {
        return inner(args);
      } finally {
        depth--;
        const c = process.cpuUsage(c0);
        const e = byName.get(k.kernelName) ?? { ms: 0, n: 0 };
        e.ms += (c.user + c.system) / 1000;
        e.n++;
        byName.set(k.kernelName, e);
      }
    };
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({ ...k, kernelFunc });
    wrapped.push(k);
  }
  const steps = 3;
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await trainStep(net, opt, x, y);
  const c = process.cpuUsage(c0);
  for (const k of wrapped) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelSum = rows.reduce((sum, [, e]) => sum + e.ms, 0) / steps;
  process.stderr.write(`profile (CPU ms per step): step ${((c.user + c.system) / 1000 / steps).toFixed(1)}, in kernels ${kernelSum.toFixed(1)}\n`);
  for (const [name, e] of rows)
    process.stderr.write(`  ${name.padEnd(24)} ${(e.ms / steps).toFixed(2).padStart(9)}  ${String(e.n / steps).padStart(4)} calls\n`);
}

async function oursOp(op: Op): Promise<{ ms: number; cpuMs: number }> {
  const [a, b] =
    op.op === 'matmul'
      ? [tf.randomNormal([op.shape[0], op.shape[1]]), tf.randomNormal([op.shape[1], op.shape[2]])]
      : [tf.randomNormal([op.shape[0], op.shape[1], op.shape[2], op.shape[3]]), tf.randomNormal([op.shape[5], op.shape[5], op.shape[3], op.shape[4]])];
  const run = () => (op.op === 'matmul' ? tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'));
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < op.warmup + op.steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = run();
    await out.data();
    const c = process.cpuUsage(c0);
    out.dispose();
    if (i >= op.warmup) {
      times.push(performance.now() - t0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  tf.dispose([a, b]);
  return { ms: median(times), cpuMs: median(cpu) };
}

function runPython(plan: object): { ms: number; cpuMs: number; threads: number; torch: string } {
  const out = execFileSync(PYTHON, [join(__dirname, 'torch_step.py'), JSON.stringify(plan)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop() as string) as { median_ms: number; median_cpu_ms: number; threads: number; torch: string };
  return { ms: r.median_ms, cpuMs: r.median_cpu_ms, threads: r.threads, torch: r.torch };
}

function line(
  bench: string,
  backend: string,
  ours: { ms: number; cpuMs: number },
  ref: { ms: number; cpuMs: number; threads: number; torch: string },
  threads = 1,
): string {
  return JSON.stringify({
    bench,
    backend,
    threads,
    ours_ms: round(ours.ms),
    reference: `pytorch ${ref.torch} cpu ${ref.threads} thread${ref.threads === 1 ? '' : 's'}`,
    reference_ms: round(ref.ms),
    ratio: round(ours.ms / ref.ms, 2),
    // CPU time (all threads) beside the wall clock: on a shared machine it shows contention.
    ours_cpu_ms: round(ours.cpuMs),
    reference_cpu_ms: round(ref.cpuMs),
    cpu_ratio: round(ours.cpuMs / ref.cpuMs, 2),
  });
}

function reference(size: Size, threads: number): { ms: number; cpuMs: number; threads: number; torch: string } {
  const plan = {
    width: size.spec.width,
    inputShape: size.spec.inputShape,
    targetShape: size.spec.targetShape,
    stages: blocksPerStage(size.spec.order).map((blocks, i) => ({
      blocks,
      strides: [stageStrides(size.spec.inputShape[0], size.spec.targetShape[0])[i], stageStrides(size.spec.inputShape[1], size.spec.targetShape[1])[i]],
    })),
    batch: size.batch,
    warmup: size.warmup,
    steps: size.steps,
    threads,
  };
  return runPython(plan);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--whole-child') {
    const [, kind, dir, threads] = args;
    await wholeAnalysis(kind as 'quick' | 'default', await useBackend('wasm'), dir, Number(threads));
    return;
  }
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const profile = args.includes('--profile');
  const noRef = args.includes('--no-reference');
  const backend = await useBackend('wasm');
  const sizes = SIZES.filter((s) => !only || s.bench.includes(only));
  const ops = noRef ? [] : OPS.filter((o) => !only || o.bench.includes(only));
  const withAnalysis = !only || 'whole quick analysis'.includes(only);
  // The default analysis (budget standard, width 32) takes minutes a run: only when asked for.
  const withDefault = only !== undefined && 'whole default analysis'.includes(only);
  if (sizes.length === 0 && ops.length === 0 && !withAnalysis && !withDefault) throw new Error(`no benchmark matches ${only}`);
  // Whole analyses alternate 1 thread and every core this many times: on a shared machine one pair is noise.
  const pairs = args.includes('--pairs') ? Number(args[args.indexOf('--pairs') + 1]) : 1;
  const cores = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : availableParallelism();
  const counts = cores > 1 ? [1, cores] : [1];
  for (const size of sizes) {
    for (const threads of counts) {
      const mine = await ours(size, profile, threads);
      if (noRef) {
        console.log(
          JSON.stringify({
            bench: size.bench,
            backend,
            threads,
            ours_ms: round(mine.ms),
            reference: null,
            reference_ms: null,
            ratio: null,
            ours_cpu_ms: round(mine.cpuMs),
          }),
        );
        continue;
      }
      // Beside PyTorch on as many threads (its own default here is 1: OpenMP sees one core).
      console.log(line(size.bench, backend, mine, reference(size, threads), threads));
    }
  }
  for (const op of ops) {
    const mine = await oursOp(op);
    console.log(line(op.bench, backend, mine, runPython({ op: op.op, shape: op.shape, warmup: op.warmup, steps: op.steps, threads: 1 })));
  }
  const kinds = [...(withAnalysis ? (['quick'] as const) : []), ...(withDefault ? (['default'] as const) : [])];
  if (kinds.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'fc-bench-'));
    try {
      await trainDemoTeacher(join(dir, 'teacher-seed0'), 0);
      for (const kind of kinds) {
        const ratios: number[] = [];
        for (let p = 0; p < pairs; p++) {
          const ms = [];
          for (const threads of counts) ms.push(wholeAnalysisAsUsersRunIt(kind, dir, threads));
          if (ms.length > 1) ratios.push(ms[ms.length - 1] / ms[0]);
        }
        if (ratios.length > 0)
          console.log(
            JSON.stringify({
              bench: `whole ${kind} analysis: ${cores} threads / 1 thread`,
              pairs: ratios.map((r) => round(r, 3)),
              median: round(median(ratios), 3),
            }),
          );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * wholeAnalysis in a process of its own, started with the V8 flags the product starts the
 * engine with for that many threads (shared/engineFlags.ts): none on one thread, PARALLEL_V8_FLAGS
 * on several. Prints the child's line and returns its wall time in ms.
 */
function wholeAnalysisAsUsersRunIt(kind: 'quick' | 'default', dir: string, threads: number): number {
  const flags = threads > 1 ? PARALLEL_V8_FLAGS : [];
  const r = spawnSync(process.execPath, [...process.execArgv, ...flags, process.argv[1], '--whole-child', kind, dir, String(threads)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const line = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) throw new Error(`the ${kind} analysis on ${threads} threads failed (exit ${r.status ?? r.signal})`);
  console.log(line);
  return (JSON.parse(line) as { ours_ms: number }).ours_ms;
}

/**
 * The whole analysis of the demo teacher (trained beforehand in `dir`, untimed) on wasm on
 * `threads` threads: teacher features, eight orders of disentanglers, significance, result file.
 * 'quick' is what `feature-complexity demo` runs (budget quick, width 16); 'default' is what
 * `analyze` runs with no flags (budget standard, width 32). PyTorch has no counterpart of this
 * pipeline here, so the line has no reference. Returns the wall time in ms.
 */
async function wholeAnalysis(kind: 'quick' | 'default', backend: string, dir: string, threads: number): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const res = await runDemo({
    budget: kind === 'quick' ? 'quick' : DEFAULT_BUDGET,
    ...(kind === 'default' ? { width: DEFAULT_WIDTH } : {}),
    backend: 'wasm',
    seed: 0,
    cacheDir: dir,
    threads,
    out: join(dir, `${kind}-${threads}.json`),
  });
  const c = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  console.log(
    JSON.stringify({
      bench:
        kind === 'quick'
          ? 'whole quick analysis (demo teacher, Fashion-MNIST subset, 8 orders, width 16)'
          : `whole default analysis (demo teacher, Fashion-MNIST subset, 8 orders, budget ${DEFAULT_BUDGET}, width ${DEFAULT_WIDTH})`,
      backend,
      threads,
      v8_flags: process.execArgv.filter((a) => PARALLEL_V8_FLAGS.includes(a)),
      ours_ms: round(ms),
      reference: null,
      reference_ms: null,
      ratio: null,
      ours_cpu_ms: round((c.user + c.system) / 1000),
      stages_s: res.result.timing,
      order_s: Object.fromEntries(res.result.components.map((c) => [c.order, round(c.seconds ?? NaN, 2)])),
      rho_test: Object.fromEntries(res.result.components.map((c) => [c.order, round(c.rhoTest ?? NaN, 4)])),
    }),
  );
  return ms;
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
