/**
 * The result file of one analysis (ARCHITECTURE.md "Result file", schemaVersion 1), written once:
 * each TypeBox schema here is the JSON schema the engine checks with ajv on write and read
 * (src/analysis/pipeline/result.ts), and its `Static` type is the TypeScript type of the file.
 * The panels read files more tolerantly (analysis.ts `parseResult`: older and partial files too).
 */
import { Type, type Static } from '@sinclair/typebox';
import { BACKENDS, BUDGETS, RELIABILITY_METHODS } from '../vocabulary';

const num = Type.Number();
const nonneg = Type.Number({ minimum: 0 });
const share = Type.Number({ minimum: 0, maximum: 1 });
const count = (minimum = 0) => Type.Integer({ minimum });
const order = count(0);
const map = Type.Array(Type.Array(Type.Number()));
const oneOf = <T extends string>(names: readonly T[]) => Type.Union(names.map((n) => Type.Literal(n)));
const opt = Type.Optional;

/** One axis of the grid: output i reads input [stride·i − offset, stride·i − offset + field − 1]. */
export const AxisGeometrySchema = Type.Object({ stride: count(1), offset: Type.Integer(), field: count(1) });
export type AxisGeometry = Static<typeof AxisGeometrySchema>;

/** The trunk's grid along the height and the width. */
export const GeometrySchema = Type.Object({ height: AxisGeometrySchema, width: AxisGeometrySchema });
export type Geometry = Static<typeof GeometrySchema>;

export const ResultComponentSchema = Type.Object({
  order,
  /** ρ⁽ˡ⁾ = Var[c⁽ˡ⁾] / Var[f] on training samples. */
  rho: nonneg,
  variance: nonneg,
  rhoTest: opt(nonneg),
  varianceTest: opt(nonneg),
  /** Mean training MSE per epoch of Φ⁽ˡ⁾. */
  lossCurve: opt(Type.Array(nonneg)),
  epochs: opt(count()),
  /** True when the stopping rule ended training before the budget's last epoch (or the closed form solved it). */
  converged: opt(Type.Boolean()),
  /** 1 − Var[f − Φ⁽ˡ⁾] / Var[f] on the monitor samples (the error about each position's mean): how close Φ⁽ˡ⁾ got to f. */
  fit: opt(num),
  /** 'closed-form': the linear order solved by least squares, not trained. */
  solver: opt(Type.Literal('closed-form')),
  /** Training left the fit below the warm start's, so the warm start (the previous order's Φ) was kept: the component is zero. */
  restored: opt(Type.Boolean()),
  /** Times the learning rate was cut tenfold on a plateau before the stop. */
  lrDecays: opt(count()),
  seconds: opt(nonneg),
});
export type ResultComponent = Static<typeof ResultComponentSchema>;

const reliabilityRows = Type.Array(Type.Object({ order, reliableRho: num, reliableVariance: nonneg, unreliableVariance: nonneg }));

/** What a result file records of its reliability stage. */
export const ReliabilitySettingsSchema = Type.Object({
  method: oneOf(RELIABILITY_METHODS),
  /** K: the target and its exemplars. */
  networks: count(1),
  exemplars: opt(Type.Array(Type.String())),
  /** Cycle rounds T. */
  rounds: count(0),
  /** Training samples the heads, back maps and variances are computed on. */
  samples: count(1),
  /** Per order: epochs and seconds of the shared Φ (joint), and the fraction of each network's feature variance that A_k Φ explains on those samples. */
  perOrder: opt(Type.Array(Type.Object({ order, epochs: opt(count()), seconds: opt(nonneg), headFit: Type.Array(num) }))),
  /** The reliability rule (pipeline/stages/reliabilityStage.ts RELIABILITY_VERSION); absent = the earlier rule, not comparable. */
  version: opt(count(1)),
});
export type ReliabilitySettings = Static<typeof ReliabilitySettingsSchema>;

export const ResultVisualizationSchema = Type.Object({
  channel: count(),
  samples: Type.Array(
    Type.Object({
      index: count(),
      label: Type.Integer(),
      f: map,
      /** Φ⁽ˡ⁾ per order, keyed by the order. */
      phi: Type.Record(Type.String(), map),
      /** c⁽ˡ⁾ per order, keyed by the order. */
      components: Type.Record(Type.String(), map),
    }),
  ),
});
export type ResultVisualization = Static<typeof ResultVisualizationSchema>;

const lossPair = Type.Object({ lossEmpty: num, lossFull: num });

export const ResultFileSchema = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    kind: opt(Type.Literal('analysis')),
    engineVersion: opt(Type.String()),
    createdAt: opt(Type.String()),
    checkpoint: Type.Object({ path: Type.String({ minLength: 1 }), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), format: opt(Type.String()) }),
    targetLayer: Type.String({ minLength: 1 }),
    featureShape: opt(Type.Array(count(1))),
    dataset: Type.Object({
      path: Type.String(),
      format: Type.String(),
      normalization: Type.String(),
      inputShape: opt(Type.Array(count(1))),
      trainSamples: count(),
      testSamples: count(),
      monitorSamples: opt(count()),
      numClasses: opt(count(1)),
      notes: opt(Type.Array(Type.String())),
    }),
    backend: oneOf(BACKENDS),
    /** Threads each training step was split over (pipeline/parallel.ts); absent in files made before they were. */
    threads: opt(count(1)),
    /** The backend in words: its package and, for webgpu, the adapter (GPU) the numbers came from. */
    backendDetail: opt(Type.String()),
    seed: Type.Integer(),
    budget: oneOf(BUDGETS),
    width: opt(count(1)),
    /** The teacher trunk's grid the disentanglers followed (pipeline/geometry.ts). */
    geometry: opt(GeometrySchema),
    /** In words: the grid, or why the disentanglers pad 'same' instead. */
    geometryNote: opt(Type.String()),
    /** The orders that finished (all of them when `complete`). */
    orders: Type.Array(order),
    /** Every order the run was asked for, written from the first partial file on; absent in older files. */
    plannedOrders: opt(Type.Array(order)),
    components: Type.Array(ResultComponentSchema),
    residue: Type.Object({ rho: nonneg, variance: nonneg, rhoTest: opt(nonneg), varianceTest: opt(nonneg) }),
    featureVariance: nonneg,
    featureVarianceTest: opt(nonneg),
    teacher: Type.Object({ trainAccuracy: share, testAccuracy: share, trainLoss: nonneg, testLoss: nonneg }),
    /** Seconds per stage. */
    timing: Type.Record(Type.String(), nonneg),
    /** False when cancelled or still running: the file holds the orders that finished. */
    complete: Type.Boolean(),
    reliability: opt(reliabilityRows),
    /** The same split on the test samples, with the maps fitted on the training samples. */
    reliabilityTest: opt(reliabilityRows),
    /** How the reliability heads were obtained (e.g. the target's Φ reused, closed-form heads and back maps). */
    reliabilityMethod: opt(Type.String()),
    /** The reliability stage's settings, as run. */
    reliabilitySettings: opt(ReliabilitySettingsSchema),
    /** α is null where the ratio is undefined (a component with no variance, or φ_train = 0). */
    effectiveness: opt(Type.Array(Type.Object({ order, phiTrain: num, alpha: Type.Union([num, Type.Null()]) }))),
    overfitting: opt(Type.Array(Type.Object({ order, phiGap: num, alpha: Type.Union([num, Type.Null()]) }))),
    shapley: opt(
      Type.Object({
        baseline: Type.String(),
        /** 'exact' (all 2ⁿ coalitions) or 'permutation' (sampled; players then carry standard errors). */
        method: opt(oneOf(['exact', 'permutation'] as const)),
        permutations: opt(count(2)),
        players: Type.Array(Type.Object({ name: Type.String(), phiTrain: num, phiGap: num, phiTrainStdErr: opt(nonneg), phiGapStdErr: opt(nonneg) })),
        train: lossPair,
        test: lossPair,
      }),
    ),
    substitution: opt(Type.Array(Type.Object({ order, testAccuracy: share, testLoss: num }))),
    /** Maps (H×W, row-major rows) of the most activated channel of f for a few samples (METHOD.md §4). */
    visualization: opt(ResultVisualizationSchema),
    /** Optional stages that failed; the orders and the other stages are still in the file. */
    errors: opt(Type.Array(Type.Object({ stage: Type.String(), message: Type.String() }))),
  },
  { $id: 'https://feature-complexity/result.schema.json', title: 'feature-complexity analysis result, schemaVersion 1' },
);
export type ResultFile = Static<typeof ResultFileSchema>;
