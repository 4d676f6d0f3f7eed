/**
 * The numbers of the task-complexity calibration view (METHOD.md §6): the ρ distribution of the
 * target DNN for each task net depth k, and where its mass sits: the verdict, warnings and tables
 * of the panel (the file's reader and series: src/shared/files/calibration.ts). Pure.
 */
import { calibrationOrders, type CalibrationSeries } from '../../shared/files/calibration';
import type { TaskComplexityOutput } from '../../shared/webviewProtocol';
import { fixed, orderLabel } from '../common/format';

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
  const rows: [string, string][] = [
    ['Tasks k', o.tasks.map((t) => t.k).join(', ')],
    ['Orders', calibrationOrders(o).join(', ')],
  ];
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
    rows.push([
      `Width check (k = ${w.k})`,
      `widths ${w.widths[0]} and ${w.widths[1]}: centre ${fixed(w.centreOfMass[0], 2)} vs ${fixed(w.centreOfMass[1], 2)}, L1 distance of ρ ${fixed(w.l1Distance, 3)}`,
    ]);
  }
  return rows;
}
