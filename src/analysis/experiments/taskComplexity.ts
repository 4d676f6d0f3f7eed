/**
 * Calibration by task complexity (METHOD.md §6, the paper's Exp. 1): a random "task net" with
 * k ReLU layers maps random inputs to a target tensor; a target DNN is trained to reproduce it;
 * the target DNN's output is disentangled. The significance should move to higher orders as k
 * grows; the centre of mass Σ ρ·index / Σ ρ (index = position in the order list, the residue
 * counted as one past the last order) summarises where it sits. A width check disentangles one
 * target DNN with two disentangler widths: their ρ distributions should be close.
 */
import { tf, useBackend } from '../tf/backend';
import { setThreads } from '../pipeline/parallel';
import { budgetSpec } from '../pipeline/budget';
import type { Split } from '../data/dataset';
import { Rng } from '../util/random';
import { BadInputError, CancelledError } from '../util/errors';
import { SignificanceAccumulator } from '../metrics/significance';
import type { BackendName, Budget, TaskComplexityParams } from '../../shared/engineProtocol';
import { predictSet, trainOrders, type FeatureSet, type Hooks, type ScaledDisentangler } from '../pipeline/train';
import { ENGINE_VERSION } from '../util/version';
import { writeJsonAtomic } from '../util/atomicWrite';
import { DEFAULT_ORDERS } from '../../shared/vocabulary';

export const DEFAULT_TASKS = [0, 2, 8, 26, 80];
/** Smaller than the analysis default: the calibration runs on tiny inputs in minutes. */
export const TASK_ORDERS: number[] = [...DEFAULT_ORDERS];
const INPUT: [number, number, number] = [8, 8, 2];
const TARGET: [number, number, number] = [4, 4, 4];
const TASK_WIDTH = 16;
/** ReLU blocks of the target DNN (the CLI help says this number; a test keeps them in step). */
export const TARGET_DNN_ORDER = 20;
/**
 * Below this fit (1 − MSE / Var of the target DNN against the task net, test inputs) a task's row
 * is flagged: the target DNN has not learned its task net, so its ρ describes an under-fit net,
 * not the task.
 */
export const POOR_TARGET_FIT = 0.5;
const DEFAULT_WIDTH = 16;
const N_TRAIN = 2000;
const N_TEST = 500;

/** The request's settings (protocol.ts), with the output file optional and knobs for tests. */
export interface TaskComplexityOptions extends Omit<TaskComplexityParams, 'out' | 'progressToken'> {
  /** Second disentangler width for the robustness check on the middle task; 0 = skip. Default: 2 × width. */
  checkWidth?: number;
  out?: string;
  /** Random inputs per split (default 2000 train, 500 test). */
  samples?: { train: number; test: number };
  /** ReLU blocks of the target DNN (default TARGET_DNN_ORDER = 20). */
  targetOrder?: number;
}

export interface TaskEntry {
  k: number;
  components: { order: number; rho: number }[];
  residue: { rho: number };
  centreOfMass: number;
  /** How well the target DNN reproduces the task net: 1 − MSE / Var on test inputs. */
  targetFit: number;
  /** targetFit < poorFitThreshold: the row measures an under-fit target DNN, not the task. */
  poorFit: boolean;
}

export interface TaskComplexityResult {
  schemaVersion: 1;
  kind: 'task-complexity';
  engineVersion: string;
  backend: BackendName;
  seed: number;
  budget: Budget;
  width: number;
  targetOrder: number;
  /** The fit below which a task's row is flagged `poorFit` (POOR_TARGET_FIT). */
  poorFitThreshold: number;
  orders: number[];
  tasks: TaskEntry[];
  widthCheck?: { k: number; widths: [number, number]; rho: [number[], number[]]; centreOfMass: [number, number]; l1Distance: number };
  seconds: number;
}

export function parseTasks(text: string | undefined): number[] {
  if (text === undefined || text === '') return DEFAULT_TASKS;
  const ks = text.split(',').map((s) => Number(s.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 0))
    throw new BadInputError(`--tasks must be non-negative integers separated by commas, got '${text}'`);
  return ks;
}

/** Σ ρ_i · i / Σ ρ_i over the components (i = position) and the residue (i = number of orders). */
export function centreOfMass(componentRhos: number[], residueRho: number): number {
  const all = [...componentRhos, residueRho];
  const total = all.reduce((a, b) => a + b, 0);
  return total > 0 ? all.reduce((a, r, i) => a + r * i, 0) / total : 0;
}

/** Whether a target DNN with this fit reproduces its task net too poorly for its row to describe the task (NaN counts as poor). */
export function isPoorFit(targetFit: number): boolean {
  return !(targetFit >= POOR_TARGET_FIT);
}

/** Gaussian inputs as a dataset split (labels unused). */
function randomSplit(rng: Rng, n: number): Split {
  const [h, w, c] = INPUT;
  const images = Float32Array.from({ length: n * h * w * c }, () => rng.normal());
  return { images, labels: new Int32Array(n), count: n, height: h, width: w, channels: c };
}

/** Residual branch weight of the task net's ReLU blocks. */
const TASK_BRANCH = 0.5;

/**
 * The task net with k ReLU layers: a 3×3 conv to TASK_WIDTH channels, k residual blocks
 * h ← (h + β·conv3×3(ReLU(h))) / s, then a linear map to the target shape (2×2 average pooling
 * and a 1×1 conv). A plain stack of k random ReLU layers forgets its input as k grows (the
 * outputs of different inputs become nearly parallel), leaving a target no network can learn
 * from a few thousand samples; the residual form keeps the input's information while every
 * block adds one more nonlinear layer, so the task grows in complexity but stays learnable.
 * s is fixed per block from the first batch of the train set (calibrate), so the scale of h
 * stays put at any depth and the net is one fixed function of x afterwards.
 */
function taskNet(k: number, seed: number): { calibrate: (x: tf.Tensor4D) => Promise<void>; apply: (x: tf.Tensor4D) => tf.Tensor4D; dispose: () => void } {
  const rng = new Rng(seed);
  const kernel = (cin: number, cout: number, size: number, gain: number) =>
    tf.tensor4d(
      Float32Array.from({ length: size * size * cin * cout }, () => rng.normal() * Math.sqrt(gain / (size * size * cin))),
      [size, size, cin, cout],
    );
  const first = kernel(INPUT[2], TASK_WIDTH, 3, 1);
  const hidden = Array.from({ length: k }, () => kernel(TASK_WIDTH, TASK_WIDTH, 3, 2));
  const last = kernel(TASK_WIDTH, TARGET[2], 1, 1);
  const scales: number[] = [];
  const pool: [number, number] = [INPUT[0] / TARGET[0], INPUT[1] / TARGET[1]];
  const block = (h: tf.Tensor4D, i: number) => tf.add(h, tf.mul(tf.conv2d(tf.relu(h), hidden[i], 1, 'same'), TASK_BRANCH)) as tf.Tensor4D;
  // Asynchronous reads only: the webgpu backend has no synchronous ones in Node.
  const calibrate = async (x: tf.Tensor4D) => {
    let h = tf.conv2d(x, first, 1, 'same');
    for (let i = 0; i < hidden.length; i++) {
      const next = block(h, i);
      const [vNext, vH] = tf.tidy(() => [tf.moments(next).variance, tf.moments(h).variance]);
      const ratio = (await vNext.data())[0] / Math.max((await vH.data())[0], 1e-12);
      scales[i] = Math.sqrt(ratio) || 1;
      const scaled = tf.div(next, scales[i]) as tf.Tensor4D;
      tf.dispose([h, next, vNext, vH]);
      h = scaled;
    }
    h.dispose();
  };
  const apply = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      if (scales.length < hidden.length) throw new Error('task net used before calibrate()');
      let h = tf.conv2d(x, first, 1, 'same');
      hidden.forEach((_, i) => {
        h = tf.div(block(h, i), scales[i]);
      });
      return tf.conv2d(tf.avgPool(h, pool, pool, 'valid'), last, 1, 'same');
    });
  return { calibrate, apply, dispose: () => tf.dispose([first, ...hidden, last]) };
}

async function mapSet(split: Split, fn: (x: tf.Tensor4D) => tf.Tensor4D, shape: [number, number, number]): Promise<FeatureSet> {
  const indices = Int32Array.from({ length: split.count }, (_, i) => i);
  const features = await predictSet({ apply: fn }, { split, indices, features: new Float32Array(0), featureShape: shape });
  return { split, indices, features, featureShape: shape };
}

function fitOf(target: FeatureSet, pred: Float32Array): number {
  const n = target.indices.length;
  const dim = target.features.length / n;
  const acc = new SignificanceAccumulator([0], dim);
  acc.add(target.features, [pred]);
  const s = acc.result();
  return 1 - s.residue.variance / s.featureVariance;
}

async function disentangle(
  train: FeatureSet,
  test: FeatureSet,
  orders: number[],
  width: number,
  budget: Budget,
  seed: number,
  hooks: Hooks,
  span: [number, number],
): Promise<{ rho: number[]; residue: number } | undefined> {
  const spec = budgetSpec(budget);
  const monitor = {
    ...train,
    indices: train.indices.slice(0, spec.monitorSamples),
    features: train.features.slice(0, spec.monitorSamples * (train.features.length / train.indices.length)),
  };
  const res = await trainOrders({ train, monitor, inputShape: INPUT, orders, width, budget: spec, seed, span }, hooks);
  try {
    if (!res.complete) return undefined;
    const phis = [];
    for (const o of res.orders) phis.push(await predictSet(o.phi, test));
    const acc = new SignificanceAccumulator(orders, test.features.length / test.indices.length);
    acc.add(test.features, phis);
    const s = acc.result();
    return { rho: s.components.map((c) => c.rho), residue: s.residue.rho };
  } finally {
    for (const o of res.orders) o.phi.net.dispose();
  }
}

export async function runTaskComplexity(opts: TaskComplexityOptions, hooks: Hooks = {}): Promise<TaskComplexityResult> {
  const t0 = performance.now();
  const tasks = opts.tasks ?? DEFAULT_TASKS;
  const orders = opts.orders ?? TASK_ORDERS;
  const budget = opts.budget ?? 'quick';
  const seed = opts.seed ?? 0;
  const width = opts.width ?? DEFAULT_WIDTH;
  const checkWidth = opts.checkWidth ?? 2 * width;
  const backend = await useBackend(opts.backend ?? 'auto');
  setThreads(opts.threads);
  const rng = new Rng(seed);
  const trainX = randomSplit(rng, opts.samples?.train ?? N_TRAIN);
  const testX = randomSplit(rng, opts.samples?.test ?? N_TEST);
  const targetOrder = opts.targetOrder ?? TARGET_DNN_ORDER;
  const checkK = checkWidth > 0 ? tasks[Math.floor(tasks.length / 2)] : undefined;
  const jobs = tasks.length + (checkK !== undefined ? 1 : 0);
  const entries: TaskEntry[] = [];
  let widthCheck: TaskComplexityResult['widthCheck'];
  let checkSets: { train: FeatureSet; test: FeatureSet; rho: number[]; residue: number } | undefined;

  for (let t = 0; t < tasks.length; t++) {
    const k = tasks[t];
    const span = (part: number, of: number): [number, number] => [(t + part / of) / jobs, (t + (part + 1) / of) / jobs];
    hooks.progress?.({ stage: `task k=${k}: target DNN`, fraction: t / jobs });
    const task = taskNet(k, seed * 7919 + k);
    // The block scales come from the first batch that the train set's pass would run (predictSet's 128).
    const firstBatch = tf.tensor4d(trainX.images.subarray(0, Math.min(128, trainX.count) * INPUT[0] * INPUT[1] * INPUT[2]), [
      Math.min(128, trainX.count),
      ...INPUT,
    ]);
    await task.calibrate(firstBatch);
    firstBatch.dispose();
    const taskTrain = await mapSet(trainX, task.apply, TARGET);
    const taskTest = await mapSet(testX, task.apply, TARGET);
    task.dispose();

    // The target DNN: a deep residual ReLU net trained to reproduce the task net.
    // Trained longer and more gently than a disentangler: it starts cold and deep, and its fit
    // bounds how much of the task's complexity there is to find.
    const base = budgetSpec(budget);
    const minEpochs = 2 * base.minEpochs + 4;
    const spec = { ...base, lrStart: base.lrStart * 0.3, lrEnd: base.lrEnd * 0.3, minEpochs, maxEpochs: Math.max(minEpochs, base.maxEpochs) };
    const monitor = {
      ...taskTrain,
      indices: taskTrain.indices.slice(0, spec.monitorSamples),
      features: taskTrain.features.slice(0, spec.monitorSamples * TARGET[0] * TARGET[1] * TARGET[2]),
    };
    const fitted = await trainOrders(
      { train: taskTrain, monitor, inputShape: INPUT, orders: [targetOrder], width, budget: spec, seed: seed + 1000 + k, span: span(0, 3) },
      { ...hooks, progress: (p) => hooks.progress?.({ ...p, stage: `task k=${k}: target DNN` }) },
    );
    if (!fitted.complete) throw new CancelledError();
    const targetNet: ScaledDisentangler = fitted.orders[0].phi;
    const targetTrain = await mapSet(trainX, (x) => targetNet.apply(x), TARGET);
    const targetTest = await mapSet(testX, (x) => targetNet.apply(x), TARGET);
    const targetFit = fitOf(taskTest, targetTest.features);
    targetNet.net.dispose();

    const stageHooks = (label: string): Hooks => ({
      ...hooks,
      progress: (p) => hooks.progress?.({ ...p, stage: `task k=${k}: ${label}${p.order !== undefined ? ` order ${p.order}` : ''}` }),
    });
    const d = await disentangle(targetTrain, targetTest, orders, width, budget, seed, stageHooks('disentangle'), [span(1, 3)[0], span(2, 3)[1]]);
    if (!d) throw new CancelledError();
    entries.push({
      k,
      components: orders.map((order, i) => ({ order, rho: d.rho[i] })),
      residue: { rho: d.residue },
      centreOfMass: centreOfMass(d.rho, d.residue),
      targetFit,
      poorFit: isPoorFit(targetFit),
    });

    if (k === checkK) checkSets = { train: targetTrain, test: targetTest, rho: d.rho, residue: d.residue };
  }
  // The width check last, so that progress only goes forward.
  if (checkK !== undefined && checkSets) {
    const cs = checkSets;
    const k = checkK;
    const t2 = tasks.length;
    const hooks2: Hooks = {
      ...hooks,
      progress: (p) => hooks.progress?.({ ...p, stage: `task k=${k}: width ${checkWidth}${p.order !== undefined ? ` order ${p.order}` : ''}` }),
    };
    const d2 = await disentangle(cs.train, cs.test, orders, checkWidth, budget, seed, hooks2, [t2 / jobs, (t2 + 1) / jobs]);
    if (!d2) throw new CancelledError();
    const a = [...cs.rho, cs.residue];
    const b = [...d2.rho, d2.residue];
    const l1 = a.reduce((acc, r, i) => acc + Math.abs(r - b[i]), 0);
    widthCheck = {
      k,
      widths: [width, checkWidth],
      rho: [cs.rho, d2.rho],
      centreOfMass: [centreOfMass(cs.rho, cs.residue), centreOfMass(d2.rho, d2.residue)],
      l1Distance: l1,
    };
  }
  const result: TaskComplexityResult = {
    schemaVersion: 1,
    kind: 'task-complexity',
    engineVersion: ENGINE_VERSION,
    backend,
    seed,
    budget,
    width,
    targetOrder,
    poorFitThreshold: POOR_TARGET_FIT,
    orders,
    tasks: entries,
    widthCheck,
    seconds: (performance.now() - t0) / 1000,
  };
  if (opts.out) {
    writeJsonAtomic(opts.out, result);
  }
  hooks.progress?.({ stage: 'done', fraction: 1 });
  return result;
}

export function formatTaskComplexity(r: TaskComplexityResult): string {
  const lines: string[] = [];
  lines.push(
    `task complexity: ρ of the target DNN's components per task net depth k (budget ${r.budget}, width ${r.width}, target DNN ${r.targetOrder} ReLU blocks, backend ${r.backend}, test inputs)`,
  );
  lines.push(['    k', ...r.orders.map((o) => `l=${o}`.padStart(6)), 'resid'.padStart(6), '  centre', '  fit'].join(' '));
  for (const t of r.tasks) {
    const row = [
      String(t.k).padStart(5),
      ...t.components.map((c) => c.rho.toFixed(3).padStart(6)),
      t.residue.rho.toFixed(3).padStart(6),
      t.centreOfMass.toFixed(2).padStart(8),
      t.targetFit.toFixed(3).padStart(5),
    ].join(' ');
    lines.push(t.poorFit ? `${row}  POOR FIT` : row);
  }
  lines.push(
    'centre = Σ ρ·index / Σ ρ (index of the order in the list, residue = one past the last); it should rise with k. fit = 1 − MSE/Var of the target DNN against the task net.',
  );
  const poor = r.tasks.filter((t) => t.poorFit);
  if (poor.length) {
    lines.push(
      `warning: the target DNN fits its task net poorly (fit < ${r.poorFitThreshold}) for ${poor.map((t) => `k = ${t.k} (${t.targetFit.toFixed(3)})`).join(', ')}: those rows measure an under-fit net, not the task; a larger --budget trains it longer.`,
    );
  }
  if (r.widthCheck) {
    const w = r.widthCheck;
    lines.push(`width check (k=${w.k}): width ${w.widths[0]}: ${w.rho[0].map((x) => x.toFixed(3)).join(' ')}  centre ${w.centreOfMass[0].toFixed(2)}`);
    lines.push(
      `                     width ${w.widths[1]}: ${w.rho[1].map((x) => x.toFixed(3)).join(' ')}  centre ${w.centreOfMass[1].toFixed(2)}   L1 distance ${w.l1Distance.toFixed(3)}`,
    );
  }
  lines.push(`took ${r.seconds.toFixed(0)} s`);
  return lines.join('\n') + '\n';
}
