/**
 * The numbers of the task-complexity calibration view (METHOD.md §6): the ρ distribution of the
 * target DNN for each task net depth k, and where its mass sits. Pure; `parseTaskComplexity` is
 * also the host's reader of a saved calibration file.
 */
import type { TaskComplexityOutput } from './protocol';
import { fixed, orderLabel } from './render';

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
    if (!Array.isArray(t.components) || !t.components.every((c) => isObj(c) && isNum(c.order) && isNum(c.rho))) throw bad(`task k=${String(t.k)} lacks components with order and rho`);
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
        centre: t.centreOfMass ?? centreOfMass(rho.map((x) => x ?? 0), t.residue.rho),
        targetFit: t.targetFit,
        poorFit: t.poorFit ?? (t.targetFit !== undefined && !(t.targetFit >= (o.poorFitThreshold ?? POOR_FIT))),
      };
    });
}

export const calibrationLabels = (o: TaskComplexityOutput): string[] => [...calibrationOrders(o).map(orderLabel), 'residue Δf'];

/** Whether the self-test holds: the centre of mass rises with k (each step at least level). */
export function centreRises(series: CalibrationSeries[]): boolean {
  return series.every((s, i) => i === 0 || s.centre >= series[i - 1].centre - 1e-9);
}

export function calibrationVerdict(series: CalibrationSeries[]): string {
  if (series.length < 2) return 'One task only: the calibration needs several k to show a trend.';
  const first = series[0];
  const last = series[series.length - 1];
  const trend = `centre of mass ${fixed(first.centre, 2)} at k = ${first.k} → ${fixed(last.centre, 2)} at k = ${last.k}`;
  if (centreRises(series)) return `The self-test holds: the mass of ρ moves to higher orders as the task net gets deeper (${trend}).`;
  const drops = series.filter((s, i) => i > 0 && s.centre < series[i - 1].centre - 1e-9).map((s) => `k = ${s.k}`);
  return `The centre of mass does not rise at every step (it drops at ${drops.join(', ')}; ${trend}). With a small budget the disentanglers may be too short-trained to separate deep tasks; try a larger budget.`;
}

/**
 * Below this fit the target DNN has not learned its task net, so its ρ says little about the task's
 * complexity: the engine's POOR_TARGET_FIT (taskComplexity.ts; a test keeps them equal), used for
 * files written before the engine recorded `poorFit`.
 */
export const POOR_FIT = 0.5;

/** A warning naming the tasks whose target DNN fits the task net poorly; empty when all fit (or no fit is recorded). */
export function poorFitWarning(series: CalibrationSeries[]): string {
  const poor = series.filter((s) => s.poorFit);
  if (poor.length === 0) return '';
  return `The target DNN reproduces the task net poorly for ${poor.map((s) => `k = ${s.k} (fit ${fixed(s.targetFit, 3)})`).join(', ')}: those rows measure an under-fit net, not the task's complexity. A larger budget trains it longer.`;
}

/** ρ table: one row per component, one column per task (t0, t1, …). */
export function calibrationTable(o: TaskComplexityOutput, series: CalibrationSeries[]): Record<string, string>[] {
  return calibrationLabels(o).map((label, j) => Object.fromEntries([['c', label], ...series.map((s, i) => [`t${i}`, fixed(s.rho[j], 3)])]));
}

export function centreTable(series: CalibrationSeries[]): Record<string, string>[] {
  return series.map((s) => ({ k: String(s.k), centre: fixed(s.centre, 3), fit: s.poorFit ? `${fixed(s.targetFit, 3)} (poor)` : fixed(s.targetFit, 3) }));
}

export function calibrationSettings(o: TaskComplexityOutput): [string, string][] {
  const rows: [string, string][] = [['Tasks k', o.tasks.map((t) => t.k).join(', ')], ['Orders', calibrationOrders(o).join(', ')]];
  if (o.budget) rows.push(['Budget', o.budget]);
  if (o.width !== undefined) rows.push(['Disentangler width', String(o.width)]);
  if (o.targetOrder !== undefined) rows.push(['Target DNN', `${o.targetOrder} ReLU blocks${o.width !== undefined ? `, width ${o.width}` : ''}`]);
  if (o.poorFitThreshold !== undefined) rows.push(['Poor fit below', fixed(o.poorFitThreshold, 2)]);
  if (o.seed !== undefined) rows.push(['Seed', String(o.seed)]);
  if (o.backend) rows.push(['Backend', o.backend]);
  if (o.seconds !== undefined) rows.push(['Took', `${o.seconds.toFixed(0)} s`]);
  if (o.engineVersion) rows.push(['Engine version', o.engineVersion]);
  const w = o.widthCheck;
  if (w) {
    rows.push([`Width check (k = ${w.k})`, `widths ${w.widths[0]} and ${w.widths[1]}: centre ${fixed(w.centreOfMass[0], 2)} vs ${fixed(w.centreOfMass[1], 2)}, L1 distance of ρ ${fixed(w.l1Distance, 3)}`]);
  }
  return rows;
}
