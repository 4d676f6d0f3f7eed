/**
 * Training budgets of the disentanglers. `reference` is the authors' recipe (METHOD.md §1:
 * 500 epochs of 2000 resampled images, Adam, lr log-spaced 1e-3 → 1e-5). The others stop early
 * once the ρ estimates stop moving on a held-out monitor set.
 *
 * The stopping test compares the monitor's ρ now with its value at 2/3 of the epochs trained so
 * far (never less than `window` epochs back): a window that grows with training sees the slow,
 * roughly log-linear drift of ρ⁽⁰⁾ under Adam (PLATFORM.md) instead of taking it for convergence.
 */
import { BadInputError } from '../util/errors';
import type { Budget } from '../../shared/engineProtocol';
import { DEFAULT_BUDGET } from '../../shared/vocabulary';

export interface BudgetSpec {
  name: Budget;
  samplesPerEpoch: number;
  batchSize: number;
  minEpochs: number;
  maxEpochs: number;
  /** Evaluate ρ on the monitor set every this many epochs. */
  evalEvery: number;
  /** Smallest look-back of the stopping test, in epochs. */
  window: number;
  /** Stop when ρ of the order's component and the explained fraction moved less than this over the look-back. */
  tolerance: number;
  lrStart: number;
  lrEnd: number;
  /**
   * Learning-rate factor for orders warm-started from the previous one. Adam's first steps move
   * every weight by about the learning rate whatever its gradient, which would throw a deep net
   * far from the solution it inherited; the fresh blocks start at zero and need small steps.
   */
  warmFactor: number;
  /** Steps over which a warm-started order ramps its learning rate up from zero. */
  warmupSteps: number;
  /** Held-out training samples that the stopping test evaluates ρ on. */
  monitorSamples: number;
  /** False: run maxEpochs whatever ρ does. */
  earlyStop: boolean;
}

export const BUDGETS: Record<Budget, BudgetSpec> = {
  quick: {
    name: 'quick',
    samplesPerEpoch: 256,
    batchSize: 32,
    minEpochs: 6,
    maxEpochs: 40,
    evalEvery: 2,
    window: 4,
    tolerance: 0.01,
    lrStart: 1e-2,
    lrEnd: 1e-3,
    monitorSamples: 128,
    earlyStop: true,
    warmFactor: 0.2,
    warmupSteps: 24,
  },
  standard: {
    name: 'standard',
    samplesPerEpoch: 512,
    batchSize: 32,
    minEpochs: 12,
    maxEpochs: 60,
    evalEvery: 3,
    window: 6,
    tolerance: 0.01,
    lrStart: 1e-2,
    lrEnd: 1e-4,
    monitorSamples: 256,
    earlyStop: true,
    warmFactor: 0.2,
    warmupSteps: 32,
  },
  thorough: {
    name: 'thorough',
    samplesPerEpoch: 1024,
    batchSize: 64,
    minEpochs: 30,
    maxEpochs: 200,
    evalEvery: 5,
    window: 15,
    tolerance: 0.005,
    lrStart: 5e-3,
    lrEnd: 1e-5,
    monitorSamples: 512,
    earlyStop: true,
    warmFactor: 0.3,
    warmupSteps: 32,
  },
  reference: {
    name: 'reference',
    samplesPerEpoch: 2000,
    batchSize: 128,
    minEpochs: 500,
    maxEpochs: 500,
    evalEvery: 25,
    window: 500,
    tolerance: 0,
    lrStart: 1e-3,
    lrEnd: 1e-5,
    monitorSamples: 512,
    earlyStop: false,
    warmFactor: 1,
    warmupSteps: 0,
  },
};

/** The budget of an analysis that names none (CLI, settings and the engine's own default). */

export function budgetSpec(name: string | undefined): BudgetSpec {
  const b = BUDGETS[(name ?? DEFAULT_BUDGET) as Budget];
  if (!b) throw new BadInputError(`unknown budget '${name}' (quick, standard, thorough, reference)`);
  return b;
}

/** Learning rate at `epoch` (0-based): log-spaced from lrStart to lrEnd over maxEpochs. */
export function learningRate(b: BudgetSpec, epoch: number): number {
  if (b.maxEpochs <= 1) return b.lrStart;
  const t = Math.min(1, epoch / (b.maxEpochs - 1));
  return b.lrStart * Math.pow(b.lrEnd / b.lrStart, t);
}

/**
 * Learning rate of step `step` (0-based, counted over the whole order) in `epoch`: the budget's
 * schedule, and for an order warm-started from the previous one the warm factor and a linear
 * ramp over the first warmupSteps steps.
 */
export function stepLearningRate(b: BudgetSpec, epoch: number, step: number, warmStarted: boolean): number {
  if (!warmStarted) return learningRate(b, epoch);
  const ramp = step < b.warmupSteps ? (step + 1) / b.warmupSteps : 1;
  return learningRate(b, epoch) * b.warmFactor * ramp;
}

/**
 * Whether training may stop at `epoch` given the monitor's history (ascending epochs):
 * both ρ and the explained fraction moved less than the tolerance since the look-back point.
 */
export function converged(b: BudgetSpec, history: { epoch: number; rho: number; fit: number }[]): boolean {
  if (!b.earlyStop || history.length < 2) return false;
  const now = history[history.length - 1];
  if (now.epoch + 1 < b.minEpochs) return false;
  const back = Math.min(now.epoch - b.window, Math.floor((now.epoch * 2) / 3));
  const past = [...history].reverse().find((h) => h.epoch <= back);
  if (!past) return false;
  return Math.abs(now.rho - past.rho) < b.tolerance && Math.abs(now.fit - past.fit) < b.tolerance;
}
