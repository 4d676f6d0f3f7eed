/**
 * The result file of one analysis (ARCHITECTURE.md, `schemaVersion: 1`): its type, its JSON
 * schema (result.schema.json beside this file, checked with ajv), and an atomic writer.
 */
import Ajv from 'ajv';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BadInputError } from './errors';
import type { BackendName, Budget, ReliabilitySettings } from './protocol';
import schema from './result.schema.json';
import type { Geometry } from './geometry';

export interface ResultComponent {
  order: number;
  /** ρ⁽ˡ⁾ = Var[c⁽ˡ⁾] / Var[f] on training samples. */
  rho: number;
  variance: number;
  rhoTest?: number;
  varianceTest?: number;
  /** Mean training MSE per epoch of Φ⁽ˡ⁾. */
  lossCurve?: number[];
  epochs?: number;
  /** True when the stopping rule ended training before the budget's last epoch (or the closed form solved it). */
  converged?: boolean;
  /** 1 − Var[f − Φ⁽ˡ⁾] / Var[f] on the monitor samples (the error about each position's mean): how close Φ⁽ˡ⁾ got to f. */
  fit?: number;
  /** 'closed-form': the linear order solved by least squares, not trained. */
  solver?: 'closed-form';
  /** Training left the fit below the warm start's, so the warm start (the previous order's Φ) was kept: the component is zero. */
  restored?: boolean;
  /** Times the learning rate was cut tenfold on a plateau before the stop. */
  lrDecays?: number;
  seconds?: number;
}

export interface ResultFile {
  schemaVersion: 1;
  kind?: 'analysis';
  engineVersion?: string;
  createdAt?: string;
  checkpoint: { path: string; sha256: string; format?: string };
  targetLayer: string;
  featureShape?: number[];
  dataset: { path: string; format: string; normalization: string; inputShape?: number[]; trainSamples: number; testSamples: number; monitorSamples?: number; numClasses?: number; notes?: string[] };
  backend: BackendName;
  seed: number;
  budget: Budget;
  width?: number;
  /** The teacher trunk's grid the disentanglers followed (geometry.ts). */
  geometry?: Geometry;
  /** In words: the grid, or why the disentanglers pad 'same' instead. */
  geometryNote?: string;
  /** The orders that finished (all of them when `complete`). */
  orders: number[];
  /** Every order the run was asked for, written from the first partial file on; absent in older files. */
  plannedOrders?: number[];
  components: ResultComponent[];
  residue: { rho: number; variance: number; rhoTest?: number; varianceTest?: number };
  featureVariance: number;
  featureVarianceTest?: number;
  teacher: { trainAccuracy: number; testAccuracy: number; trainLoss: number; testLoss: number };
  /** Seconds per stage. */
  timing: Record<string, number>;
  /** False when cancelled or still running: the file holds the orders that finished. */
  complete: boolean;
  reliability?: { order: number; reliableRho: number; reliableVariance: number; unreliableVariance: number }[];
  /** The same split on the test samples, with the maps fitted on the training samples. */
  reliabilityTest?: { order: number; reliableRho: number; reliableVariance: number; unreliableVariance: number }[];
  /** How the reliability heads were obtained (e.g. the target's Φ reused, closed-form heads and back maps). */
  reliabilityMethod?: string;
  /** The reliability stage's settings, as run. */
  reliabilitySettings?: ReliabilitySettings;
  /** α is null where the ratio is undefined (a component with no variance, or φ_train = 0). */
  effectiveness?: { order: number; phiTrain: number; alpha: number | null }[];
  overfitting?: { order: number; phiGap: number; alpha: number | null }[];
  shapley?: {
    baseline: string;
    /** 'exact' (all 2ⁿ coalitions) or 'permutation' (sampled; players then carry standard errors). */
    method?: string;
    permutations?: number;
    players: { name: string; phiTrain: number; phiGap: number; phiTrainStdErr?: number; phiGapStdErr?: number }[];
    train: { lossEmpty: number; lossFull: number };
    test: { lossEmpty: number; lossFull: number };
  };
  substitution?: { order: number; testAccuracy: number; testLoss: number }[];
  /** Maps (H×W, row-major rows) of the most activated channel of f for a few samples (METHOD.md §4). */
  visualization?: ResultVisualization;
  /** Optional stages that failed; the orders and the other stages are still in the file. */
  errors?: { stage: string; message: string }[];
}

export interface ResultVisualization {
  channel: number;
  samples: {
    index: number;
    label: number;
    f: number[][];
    /** Φ⁽ˡ⁾ per order, keyed by the order. */
    phi: Record<string, number[][]>;
    /** c⁽ˡ⁾ per order, keyed by the order. */
    components: Record<string, number[][]>;
  }[];
}

export const resultSchema = schema;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateFn = ajv.compile(schema);

/** Null when `value` is a valid result file, else the schema errors as one line each. */
export function validateResult(value: unknown): string[] | null {
  if (validateFn(value)) return null;
  return (validateFn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Writes `result` to `path` through a temp file and a rename, after validating it. */
export function writeResult(path: string, result: ResultFile): void {
  const errors = validateResult(result);
  if (errors) throw new Error(`internal: the result does not match its schema: ${errors.join('; ')}`);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
  renameSync(tmp, path);
}

export function readResult(path: string): ResultFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BadInputError(`${path}: not a readable result file (${e instanceof Error ? e.message : String(e)})`);
  }
  const errors = validateResult(value);
  if (errors) throw new BadInputError(`${path}: not a valid result file (${errors[0]})`);
  return value as ResultFile;
}
