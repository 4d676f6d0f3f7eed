/**
 * The task-complexity calibration's output file (METHOD.md §6, ARCHITECTURE.md): its type, the
 * reader every side uses (`parseTaskComplexity`), and its series per task net depth k (the
 * calibration panel plots them; the Analyses view summarises them).
 */

/**
 * What the calibration view reads of the task-complexity output (ARCHITECTURE.md:
 * `{tasks: [{k, components: [{order, rho}], residue}]}`); the rest is shown when present.
 */
export interface TaskComplexityOutput {
  kind?: 'task-complexity';
  engineVersion?: string;
  backend?: string;
  budget?: string;
  seed?: number;
  width?: number;
  /** ReLU blocks of the target DNN. */
  targetOrder?: number;
  /** The fit below which the engine flags a task's row `poorFit`. */
  poorFitThreshold?: number;
  orders?: number[];
  tasks: { k: number; components: { order: number; rho: number }[]; residue: { rho: number }; centreOfMass?: number; targetFit?: number; poorFit?: boolean }[];
  widthCheck?: { k: number; widths: [number, number]; rho: [number[], number[]]; centreOfMass: [number, number]; l1Distance: number };
  seconds?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export class CalibrationFormatError extends Error {
  override name = 'CalibrationFormatError';
}

/** Checks the ARCHITECTURE.md shape `{tasks: [{k, components: [{order, rho}], residue}]}`; one sentence when it is not there. */
export function parseTaskComplexity(v: unknown): TaskComplexityOutput {
  const bad = (what: string) => new CalibrationFormatError(`Not a task-complexity calibration: ${what}.`);
  if (!isObj(v) || !Array.isArray(v.tasks)) throw bad('it has no "tasks" list');
  if (v.tasks.length === 0) throw bad('its "tasks" list is empty');
  v.tasks.forEach((t, i) => {
    if (!isObj(t) || !Number.isInteger(t.k)) throw bad(`task ${i} has no integer k`);
    if (!Array.isArray(t.components) || !t.components.every((c) => isObj(c) && isNum(c.order) && isNum(c.rho)))
      throw bad(`task k=${String(t.k)} lacks components with order and rho`);
    if (!isObj(t.residue) || !isNum(t.residue.rho)) throw bad(`task k=${String(t.k)} lacks residue.rho`);
  });
  return v as unknown as TaskComplexityOutput;
}

/** The orders of the calibration: the file's list, else the union of the tasks' orders. */
export function calibrationOrders(o: TaskComplexityOutput): number[] {
  return o.orders ?? [...new Set(o.tasks.flatMap((t) => t.components.map((c) => c.order)))].sort((a, b) => a - b);
}

/**
 * Σ ρ·i / Σ ρ over the components (i = position in the order list) and the residue (i = number of
 * orders): the definition taskComplexity.ts records; computed here only for files without it.
 */
export function centreOfMass(rhos: number[], residue: number): number {
  const all = [...rhos, residue];
  const total = all.reduce((a, b) => a + b, 0);
  return total > 0 ? all.reduce((a, r, i) => a + r * i, 0) / total : 0;
}

export interface CalibrationSeries {
  k: number;
  /** ρ per order of `calibrationOrders`, then the residue; undefined where the task lacks an order. */
  rho: (number | undefined)[];
  centre: number;
  targetFit?: number;
  /** The target DNN reproduces its task net poorly: the engine's flag, else targetFit < POOR_FIT (older files). */
  poorFit: boolean;
}

/** One series per task, by increasing k. */
export function calibrationSeries(o: TaskComplexityOutput): CalibrationSeries[] {
  const orders = calibrationOrders(o);
  return [...o.tasks]
    .sort((a, b) => a.k - b.k)
    .map((t) => {
      const rho = orders.map((order) => t.components.find((c) => c.order === order)?.rho);
      return {
        k: t.k,
        rho: [...rho, t.residue.rho],
        centre:
          t.centreOfMass ??
          centreOfMass(
            rho.map((x) => x ?? 0),
            t.residue.rho,
          ),
        targetFit: t.targetFit,
        poorFit: t.poorFit ?? (t.targetFit !== undefined && !(t.targetFit >= (o.poorFitThreshold ?? POOR_FIT))),
      };
    });
}

/**
 * Below this fit the target DNN has not learned its task net, so its ρ says little about the task's
 * complexity: the engine's POOR_TARGET_FIT (src/analysis/experiments/taskComplexity.ts; a test keeps them equal), used for
 * files written before the engine recorded `poorFit`.
 */
export const POOR_FIT = 0.5;
