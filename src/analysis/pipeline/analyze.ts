/**
 * One analysis (ARCHITECTURE.md, "Stages of one analysis"): load → teacher features (once) →
 * one disentangler per order, each warm-started from the previous → significance → optional
 * the optional stages of stages/index.ts, in its order (reliability, Shapley, substitution) → result file.
 * After each finished order the partial result is written, so a crash or a cancel keeps it.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { backendDetail, useBackend } from '../tf/backend';
import { setThreads, threadsFor } from './parallel';
import { budgetSpec } from './budget';
import { loadDataset, type Split } from '../data/dataset';
import { Rng } from '../util/random';
import { DEFAULT_WIDTH } from './disentangler';
import { BadInputError, CancelledError } from '../util/errors';
import { SignificanceAccumulator, type Significance } from '../metrics/significance';
import type { AnalyzeParams, AnalyzeResponse, BackendName, ProgressParams } from '../../shared/engineProtocol';
import { writeResult, type ResultFile } from './result';
import { checkTeacherFits, loadTeacher, mapBatchesAsync, teacherStats, type Teacher } from '../teacher/teacher';
import { featureDim, predictSet, trainOrders, type FeatureSet, type Hooks, type Progress, type TrainedOrder } from './train';
import { ENGINE_VERSION } from '../util/version';
import { describeGeometry, probeGeometry, type Geometry, type GeometryProbe } from './geometry';
import { resultFileName } from '../../shared/naming';
import { DEFAULT_ORDERS } from '../../shared/vocabulary';
import { STAGES } from './stages';
import type { AnalysisContext, AnalysisStage } from './stages/types';

/** Most training samples whose teacher features are cached (batches are resampled from them). */
export const MAX_TRAIN_POOL = 10000;
/** Most samples per split that significance is evaluated on. */
export const MAX_EVAL_SAMPLES = 2000;
/** Φ of every order on the evaluation samples is kept in memory up to this many floats. */
const MAX_CACHED_FLOATS = 2 ** 27;

export function parseOrders(text: string | undefined): number[] {
  if (text === undefined || text === '') return [...DEFAULT_ORDERS];
  const orders = text.split(',').map((s) => Number(s.trim()));
  if (orders.some((o) => !Number.isInteger(o) || o < 0)) throw new BadInputError(`--orders must be non-negative integers separated by commas, got '${text}'`);
  return checkOrders(orders);
}

export function checkOrders(orders: number[]): number[] {
  if (orders.length === 0) throw new BadInputError('at least one order is needed');
  for (let i = 1; i < orders.length; i++) if (orders[i] <= orders[i - 1]) throw new BadInputError(`orders must increase strictly, got ${orders.join(',')}`);
  return orders;
}

/** The folder a workspace would be: the nearest ancestor with .git, .vscode or .feature-complexity. */
function workspaceOf(path: string): string {
  let dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  const start = dir;
  for (;;) {
    if (['.git', '.vscode', '.feature-complexity'].some((m) => existsSync(join(dir, m)))) return dir;
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

/** `<workspace>/.feature-complexity/<model name>-<timestamp>.json` for a checkpoint. */
export function defaultResultPath(checkpoint: string, now = new Date()): string {
  const abs = resolve(checkpoint);
  return join(workspaceOf(abs), '.feature-complexity', resultFileName(abs, now));
}

/** Teacher features f(x) of `indices` of `split`. */
async function featureSet(fns: Teacher, split: Split, indices: Int32Array, featureShape: [number, number, number]): Promise<FeatureSet> {
  const { data: features } = await mapBatchesAsync(split, indices, 256, (x) => fns.runTrunk(x));
  return { split, indices, features, featureShape };
}

function prefix(set: FeatureSet, n: number): FeatureSet {
  const dim = featureDim(set);
  return { ...set, indices: set.indices.slice(0, n), features: set.features.slice(0, n * dim) };
}

function significanceOf(orders: number[], f: Float32Array, phis: Float32Array[], dim: number): Significance {
  const acc = new SignificanceAccumulator(orders, dim);
  acc.add(f, phis);
  return acc.result();
}

/** One analysis; `stages` are the optional stages in their order (tests add their own). */
export async function analyze(
  params: AnalyzeParams,
  hooks: Hooks = {},
  stages: readonly AnalysisStage[] = STAGES,
): Promise<AnalyzeResponse & { result: ResultFile }> {
  const t0 = performance.now();
  const timing: Record<string, number> = {};
  const lap = (name: string, since: number) => (timing[name] = (performance.now() - since) / 1000);
  const progress = (stage: string, fraction: number) => hooks.progress?.({ stage, fraction });

  const orders = checkOrders(params.orders ?? [...DEFAULT_ORDERS]);
  const budget = budgetSpec(params.budget);
  const seed = params.seed ?? 0;
  const width = params.width ?? DEFAULT_WIDTH;
  if (!Number.isInteger(seed)) throw new BadInputError(`--seed must be an integer, got ${seed}`);
  if (!Number.isInteger(width) || width < 1) throw new BadInputError(`--width must be a positive integer, got ${width}`);
  if (!params.out) throw new BadInputError('no output file given');
  const out = resolve(params.out);

  progress('load', 0);
  let since = performance.now();
  const backend: BackendName = await useBackend(params.backend ?? 'auto');
  if (params.threads !== undefined && (!Number.isInteger(params.threads) || params.threads < 1))
    throw new BadInputError(`--threads must be a positive integer, got ${params.threads}`);
  setThreads(params.threads);
  const dataset = loadDataset(params.data);
  // The data's image size fills what an ONNX model leaves symbolic and sizes a PyTorch export.
  const teacher = await loadTeacher(params.checkpoint, params.layer, {
    inputShape: [dataset.train.height, dataset.train.width, dataset.train.channels],
    python: params.python,
    modelClass: params.modelClass,
    cacheDir: join(dirname(out), 'onnx'),
  });
  try {
    await checkTeacherFits(teacher, dataset);
    const fns = teacher;
    // The disentanglers follow the trunk's sampling grid (geometry.ts) unless told not to or it has none.
    let geometry: Geometry | undefined;
    let geometryNote: string;
    if (params.geometry === 'same') {
      geometryNote = "not read (--geometry same): every conv pads 'same'";
    } else {
      const probe = await probeGeometry((x) => teacher.runTrunk(x), teacher.inputShape).catch((e: unknown): GeometryProbe => ({
        reason: `the probe failed: ${e instanceof Error ? e.message : String(e)}`,
      }));
      geometry = probe.geometry;
      geometryNote = probe.geometry ? describeGeometry(probe.geometry) : `the trunk's grid could not be read (${probe.reason}); every conv pads 'same'`;
    }
    lap('load', since);
    if (hooks.isCancelled?.()) throw new CancelledError();

    // Seeded split of the training samples: a monitor set for the stopping rule, the rest for training.
    const rng = new Rng(seed);
    const perm = rng.choose(dataset.train.count, dataset.train.count);
    const nMonitor = Math.min(budget.monitorSamples, Math.floor(dataset.train.count / 4));
    const monitorIdx = perm.slice(0, nMonitor);
    const poolIdx = perm.slice(nMonitor, nMonitor + MAX_TRAIN_POOL);
    const testIdx = rng.choose(dataset.test.count, dataset.test.count);
    const featureShape = teacher.featureShape as [number, number, number];
    const dim = featureShape[0] * featureShape[1] * featureShape[2];
    const evalCap = Math.max(16, Math.floor(MAX_CACHED_FLOATS / ((orders.length + 1) * dim)));
    const nTrainEval = Math.min(MAX_EVAL_SAMPLES, poolIdx.length, evalCap);
    const nTestEval = Math.min(MAX_EVAL_SAMPLES, testIdx.length, evalCap);

    progress('teacher features', 0.01);
    since = performance.now();
    const trainPool = await featureSet(fns, dataset.train, poolIdx, featureShape);
    const monitor = await featureSet(fns, dataset.train, monitorIdx, featureShape);
    const testEval = await featureSet(fns, dataset.test, testIdx.slice(0, nTestEval), featureShape);
    const trainEval = prefix(trainPool, nTrainEval);
    const trainStats = await teacherStats(fns, dataset.train, trainEval.indices);
    const testStats = await teacherStats(fns, dataset.test, testEval.indices);
    lap('teacherFeatures', since);
    if (hooks.isCancelled?.()) throw new CancelledError();

    const phiTrain: Float32Array[] = [];
    const phiTest: Float32Array[] = [];
    const base = (): Omit<ResultFile, 'components' | 'residue' | 'featureVariance' | 'complete' | 'orders'> => ({
      schemaVersion: 1,
      kind: 'analysis',
      engineVersion: ENGINE_VERSION,
      createdAt: new Date().toISOString(),
      checkpoint: { path: teacher.checkpoint, sha256: teacher.hash, format: teacher.format },
      targetLayer: teacher.targetLayer,
      featureShape: [...featureShape],
      dataset: {
        path: resolve(dataset.path),
        format: dataset.format,
        normalization: dataset.normalization,
        inputShape: [dataset.train.height, dataset.train.width, dataset.train.channels],
        trainSamples: nTrainEval,
        testSamples: nTestEval,
        monitorSamples: nMonitor,
        numClasses: dataset.numClasses,
        ...(dataset.notes && dataset.notes.length ? { notes: dataset.notes } : {}),
      },
      backend,
      threads: threadsFor(backend),
      ...(backendDetail() ? { backendDetail: backendDetail() } : {}),
      seed,
      budget: budget.name,
      width,
      ...(geometry ? { geometry } : {}),
      geometryNote,
      // The plan, so a partial file says how many orders are still to come.
      plannedOrders: [...orders],
      teacher: { trainAccuracy: trainStats.accuracy, testAccuracy: testStats.accuracy, trainLoss: trainStats.loss, testLoss: testStats.loss },
      timing: { ...timing },
    });
    const assemble = (done: TrainedOrder[], complete: boolean): ResultFile => {
      const os = done.map((d) => d.order);
      const tr = significanceOf(os, trainEval.features, phiTrain, dim);
      const te = significanceOf(os, testEval.features, phiTest, dim);
      return {
        ...base(),
        orders: os,
        components: done.map((d, k) => ({
          order: d.order,
          rho: tr.components[k].rho,
          variance: tr.components[k].variance,
          rhoTest: te.components[k].rho,
          varianceTest: te.components[k].variance,
          lossCurve: d.lossCurve,
          epochs: d.epochs,
          converged: d.converged,
          fit: d.fit,
          ...(d.solver ? { solver: d.solver } : {}),
          ...(d.restored ? { restored: d.restored } : {}),
          ...(d.lrDecays ? { lrDecays: d.lrDecays } : {}),
          seconds: d.seconds,
        })),
        residue: { rho: tr.residue.rho, variance: tr.residue.variance, rhoTest: te.residue.rho, varianceTest: te.residue.variance },
        featureVariance: tr.featureVariance,
        featureVarianceTest: te.featureVariance,
        complete,
      };
    };

    // Each training event also says which of the planned orders it is ("order 8, 4 of 8").
    const trainHooks: Hooks = {
      ...hooks,
      progress: (p: Progress) => {
        const k = p.order === undefined ? -1 : orders.indexOf(p.order);
        const placed: Progress & Pick<ProgressParams, 'orderIndex' | 'orderCount'> = k < 0 ? p : { ...p, orderIndex: k + 1, orderCount: orders.length };
        hooks.progress?.(placed);
      },
    };
    since = performance.now();
    const trained = await trainOrders(
      {
        train: trainPool,
        monitor,
        inputShape: teacher.inputShape as [number, number, number],
        orders,
        width,
        ...(geometry ? { geometry } : {}),
        budget,
        seed,
        span: [0.02, 0.95],
        onOrderDone: async (done) => {
          const last = done[done.length - 1];
          phiTrain.push(await predictSet(last.phi, trainEval));
          phiTest.push(await predictSet(last.phi, testEval));
          timing.disentanglers = (performance.now() - since) / 1000;
          timing.total = (performance.now() - t0) / 1000;
          writeResult(out, assemble(done, false));
        },
      },
      trainHooks,
    );
    lap('disentanglers', since);

    try {
      if (!trained.complete) {
        if (trained.orders.length === 0) throw new CancelledError('cancelled before the first order finished; nothing to save');
        timing.total = (performance.now() - t0) / 1000;
        const result = assemble(trained.orders, false);
        writeResult(out, result);
        return { resultFile: out, complete: false, result };
      }

      progress('significance', 0.95);
      since = performance.now();
      let result = assemble(trained.orders, true);
      lap('significance', since);

      const ctx: AnalysisContext = {
        params,
        teacher,
        dataset,
        trainPool,
        trainEval,
        testEval,
        orders: trained.orders,
        phiTrain,
        phiTest,
        seed,
        width,
        budget,
        hooks,
        ...(geometry ? { geometry } : {}),
      };
      for (const stage of stages) {
        if (!stage.enabled(params)) continue;
        if (hooks.isCancelled?.()) {
          result = { ...result, complete: false };
          break;
        }
        progress(stage.name, 0.96);
        since = performance.now();
        result = { ...result, ...(await stage.run(ctx)) };
        lap(stage.name, since);
      }
      timing.total = (performance.now() - t0) / 1000;
      result = { ...result, timing: { ...timing } };
      writeResult(out, result);
      progress('done', 1);
      return { resultFile: out, complete: result.complete, result };
    } finally {
      for (const o of trained.orders) o.phi.net.dispose();
    }
  } finally {
    await teacher.dispose();
  }
}
