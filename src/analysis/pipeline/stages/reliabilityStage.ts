/**
 * `--exemplars A,B` (METHOD.md §3): reliability of each order's component, with the target and
 * the exemplars as the K networks.
 *
 * Two methods (the request's `reliabilityMethod`; the result records the one used in
 * `reliabilitySettings` and, in words, in `reliabilityMethod`):
 *
 * - 'joint' (default, the paper's): for each order a second disentangler Φ⁽ˡ⁾, shared by the K
 *   networks, is trained jointly with K linear heads A_k under Σ_k MSE(A_k Φ⁽ˡ⁾(x), f_k(x))
 *   (reliabilityTrain.ts), on the same training pool, with the epochs the target's own Φ⁽ˡ⁾ of
 *   that order trained. Then, with Φ fixed, the heads are refitted in closed form (the exact
 *   minimiser of the same loss over A) and the back maps B_k fitted (metrics/reliability.ts), and
 *   the cycle runs T rounds. Costs about as much training again as the significance stage.
 * - 'target-phi' (fast): the shared disentangler of order l is the target's own trained Φ⁽ˡ⁾, with
 *   closed-form heads and back maps. Φ was shaped by the target alone, so the exemplars never
 *   compete for its capacity: what the target alone encodes stays in Φ, and the cycle can only
 *   remove the directions of Φ that some exemplar cannot reconstruct linearly.
 *
 * Either way the components c⁽ˡ⁾ are the significance disentanglers' ones, and their reliable
 * part is the difference of the reliable features A_1 h_T between consecutive orders.
 */
import type { AnalysisContext } from './types';
import { tf } from '../../tf/backend';
import {
  DEFAULT_CYCLE_ROUNDS,
  centred,
  checkCompatible,
  headResidualVariance,
  type LinearMap,
  reliabilityForOrder,
  reliabilitySplit,
  sampleVariance,
} from '../../metrics/reliability';
import type { ReliabilityMethod, ReliabilitySettings } from '../../../shared/engineProtocol';
import { jointFeatures, jointScales, standardFeatures, trainJoint, type JointSet } from '../reliabilityTrain';
import type { ResultFile } from '../result';
import { loadExemplar, mapBatchesAsync, type Teacher } from '../../teacher/teacher';
import type { FeatureSet } from '../train';
import { componentTensors, featureShape4, featureTensor, guarded, phiTensor, stageOptions, stageProgress, throwIfCancelled } from './common';
import { isOneOf, RELIABILITY_METHODS } from '../../../shared/vocabulary';

export const RELIABILITY_METHOD_DETAILS: Record<ReliabilityMethod, string> = {
  joint:
    "shared Φ⁽ˡ⁾ trained jointly with K linear heads A_k; heads refitted in closed form with Φ fixed, back maps B_k regressed from each network's own feature",
  'target-phi': "target's Φ⁽ˡ⁾ shared; closed-form least-squares heads A_k, back maps B_k regressed from each network's own feature",
};

/**
 * The reliability rule the numbers came from: 2 = back maps regressed on the networks' own
 * features and the scalar-projection split (metrics/reliability.ts); results without it were
 * made by the earlier rule (back maps on A_k h with a noise floor), whose shares are not
 * comparable.
 */
export const RELIABILITY_VERSION = 2;

export interface ExemplarFeatures {
  /** One per exemplar: n × dim, row i ↔ the set's indices[i]. */
  features: Float32Array[];
  shapes: [number, number, number][];
  names: string[];
}

/** Loads every exemplar (each refused with a BadInputError naming its file) and computes its feature on the samples of `set`. */
export async function exemplarFeatures(ctx: AnalysisContext, paths: string[], set: FeatureSet = ctx.trainEval): Promise<ExemplarFeatures> {
  const out: ExemplarFeatures = { features: [], shapes: [], names: [] };
  for (const path of paths) {
    throwIfCancelled(ctx);
    const ex: Teacher = await loadExemplar(path, ctx.teacher, { python: ctx.params.python, modelClass: ctx.params.modelClass });
    try {
      const { data } = await mapBatchesAsync(set.split, set.indices, 256, (x) => ex.runTrunk(x));
      out.features.push(data);
      out.shapes.push([...ex.featureShape] as [number, number, number]);
      out.names.push(`exemplar ${path} (layer '${ex.targetLayer}')`);
    } finally {
      await ex.dispose();
    }
  }
  return out;
}

function methodOf(ctx: AnalysisContext): ReliabilityMethod {
  const m = ctx.params.reliabilityMethod ?? 'joint';
  if (!isOneOf(RELIABILITY_METHODS, m)) throw new RangeError(`unknown reliability method '${String(m)}' (${RELIABILITY_METHODS.join(', ')})`);
  return m;
}

/** 1 − Σ‖f_k − A_k h‖² / Σ‖f_k − mean‖² per network (centred per dimension, as the heads were fitted): how much of each network's feature the shared h explains. */
async function headFits(h: tf.Tensor, heads: LinearMap[], fks: tf.Tensor[]): Promise<number[]> {
  const positions = h.size / h.shape[h.rank - 1];
  const hc = centred(h);
  const fcs = fks.map(centred);
  try {
    const residual = await headResidualVariance(hc, heads, fcs);
    const out: number[] = [];
    for (let k = 0; k < fks.length; k++) {
      const rss = residual[k] * Math.max(1, positions - h.shape[h.rank - 1]);
      const total = (await sampleVariance(fks[k])) * fks[k].shape[0];
      out.push(total > 0 ? 1 - rss / total : 0);
    }
    return out;
  } finally {
    tf.dispose([hc, ...fcs]);
  }
}

/** The target's reliable features per order on the training and the test samples. */
interface ReliableFeatures {
  train: tf.Tensor[];
  test: tf.Tensor[];
}

async function targetPhiReliable(
  ctx: AnalysisContext,
  fks: tf.Tensor[],
  names: string[],
  rounds: number,
  perOrder: NonNullable<ReliabilitySettings['perOrder']>,
  reliable: ReliableFeatures,
): Promise<void> {
  for (let k = 0; k < ctx.orders.length; k++) {
    throwIfCancelled(ctx);
    const h = phiTensor(ctx, 'train', k);
    const hTest = phiTensor(ctx, 'test', k);
    try {
      const r = await reliabilityForOrder(h, fks, { rounds, names });
      reliable.train.push(r.reliable);
      reliable.test.push(r.apply(hTest));
      perOrder.push({ order: ctx.orders[k].order, headFit: await headFits(h, r.heads, fks) });
    } finally {
      tf.dispose([h, hTest]);
    }
    stageProgress(ctx, 'reliability', (k + 1) / ctx.orders.length);
  }
}

async function jointReliable(
  ctx: AnalysisContext,
  paths: string[],
  rounds: number,
  perOrder: NonNullable<ReliabilitySettings['perOrder']>,
  reliable: ReliableFeatures,
): Promise<void> {
  const pool = ctx.trainPool;
  stageProgress(ctx, 'reliability: exemplar features on the training pool', 0);
  const ex = await exemplarFeatures(ctx, paths, pool);
  const names = [`the target ${ctx.teacher.checkpoint}`, ...ex.names];
  // The same refusal as the closed-form path: an exemplar whose feature has another spatial size.
  const probes = [pool.featureShape, ...ex.shapes].map((sh) => tf.zeros([1, ...sh]));
  try {
    checkCompatible(probes[0], probes, names);
  } finally {
    tf.dispose(probes);
  }
  const set: JointSet = {
    split: pool.split,
    indices: pool.indices,
    networks: [{ features: pool.features, shape: pool.featureShape }, ...ex.features.map((features, k) => ({ features, shape: ex.shapes[k] }))],
  };
  const scales = jointScales(set);
  const nEval = ctx.trainEval.indices.length;
  const evalRows = Int32Array.from({ length: nEval }, (_, i) => i);
  const target = scales.outputs[0];
  {
    const finished = await trainJoint({
      train: set,
      scales,
      orders: ctx.orders.map((o) => o.order),
      width: ctx.width,
      ...(ctx.geometry ? { geometry: ctx.geometry } : {}),
      budget: ctx.budget,
      seed: ctx.seed,
      // A linear order solved in closed form trained no epochs; the joint one trains the budget's.
      epochs: ctx.orders.map((o) => (o.solver === 'closed-form' ? ctx.budget.maxEpochs : Math.max(1, o.epochs))),
      isCancelled: ctx.hooks.isCancelled,
      progress: (f) => stageProgress(ctx, 'reliability: shared disentanglers', 0.95 * f),
      onOrderDone: async (o) => {
        // trainEval is the pool's first rows: the heads, back maps and variances are computed on it.
        const h = await jointFeatures(o.net, pool.split, ctx.trainEval.indices, scales.input);
        const hTest = await jointFeatures(o.net, ctx.testEval.split, ctx.testEval.indices, scales.input);
        const fks = set.networks.map((f, k) => standardFeatures(f, scales.outputs[k], evalRows));
        try {
          const r = await reliabilityForOrder(h, fks, { rounds, names });
          // Back to f's units: A_1 h_T · scale + mean.
          const toF = (x: tf.Tensor) =>
            tf.tidy(() => tf.add(tf.mul(x, target.scale), tf.tensor4d(target.mean, [1, ...(x.shape.slice(1) as [number, number, number])])));
          const test = r.apply(hTest);
          reliable.train.push(toF(r.reliable));
          reliable.test.push(toF(test));
          tf.dispose([r.reliable, test]);
          perOrder.push({ order: o.order, epochs: o.epochs, seconds: o.seconds, headFit: await headFits(h, r.heads, fks) });
        } finally {
          tf.dispose([h, hTest, ...fks]);
        }
      },
    });
    if (!finished) throwIfCancelled(ctx);
  }
}

export async function runReliability(ctx: AnalysisContext): Promise<Partial<ResultFile>> {
  const paths = ctx.params.exemplars ?? [];
  const rounds = stageOptions(ctx).reliabilityRounds ?? DEFAULT_CYCLE_ROUNDS;
  const method = methodOf(ctx);
  const f = featureTensor(ctx, 'train');
  const perOrder: NonNullable<ReliabilitySettings['perOrder']> = [];
  const reliable: ReliableFeatures = { train: [], test: [] };
  const fks: tf.Tensor[] = [f];
  const held: tf.Tensor[] = [];
  try {
    if (method === 'joint') {
      await jointReliable(ctx, paths, rounds, perOrder, reliable);
    } else {
      stageProgress(ctx, 'reliability: exemplar features', 0);
      const ex = await exemplarFeatures(ctx, paths);
      const n = ctx.trainEval.indices.length;
      ex.features.forEach((data, k) => fks.push(tf.tensor4d(data, [n, ...ex.shapes[k]])));
      await targetPhiReliable(ctx, fks, [`the target ${ctx.teacher.checkpoint}`, ...ex.names], rounds, perOrder, reliable);
    }
    const orders = ctx.orders.map((o) => o.order);
    // The maps were fitted on the training samples; the split is measured on both splits.
    const split = async (name: 'train' | 'test', reliableFeatures: tf.Tensor[]) => {
      const feature = name === 'train' ? f : featureTensor(ctx, name);
      const components = componentTensors(ctx, name, false);
      held.push(...components);
      if (feature !== f) held.push(feature);
      return reliabilitySplit({ orders, components, reliableFeatures, featureVariance: await sampleVariance(feature) });
    };
    const entries = await split('train', reliable.train);
    const testEntries = ctx.testEval.indices.length > 1 ? await split('test', reliable.test) : undefined;
    const samples = featureShape4(ctx.trainEval)[0];
    const settings: ReliabilitySettings = {
      method,
      networks: paths.length + 1,
      exemplars: [...paths],
      rounds,
      samples,
      perOrder,
      version: RELIABILITY_VERSION,
    };
    return {
      reliability: entries,
      ...(testEntries ? { reliabilityTest: testEntries } : {}),
      reliabilityMethod: `${RELIABILITY_METHOD_DETAILS[method]}; K = ${paths.length + 1}, T = ${rounds}, maps fitted on ${samples} training samples`,
      reliabilitySettings: settings,
    };
  } finally {
    tf.dispose([...fks, ...reliable.train, ...reliable.test, ...held]);
  }
}

export const reliabilityStage = guarded({ name: 'reliability', enabled: (p) => (p.exemplars?.length ?? 0) > 0, run: runReliability });
