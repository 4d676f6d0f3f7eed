/**
 * What the Feature Complexity tree shows, without VS Code: which files of the results folder are
 * analyses, saved calibrations (task-complexity-*.json) or saved predictions (the report of
 * "Predict Performance", exported as JSON or written by `feature-complexity predict --out`), the
 * one line each row shows, and how the rows are grouped; and the zoos (issue #16) with their rows,
 * from the engine's `zoo list --json` (the engine alone decides a row's state). analysesView.ts
 * turns these into tree items.
 */
import * as path from 'node:path';
import type { PredictReport, TaskComplexityOutput } from '../../shared/engineProtocol';
import { formatSummary, summarize, type Summary, type SummarySource } from '../../shared/summary';
import { calibrationSeries, parseTaskComplexity } from '../../shared/files/calibration';
import { checkpointName, timeInFileName } from '../../shared/naming';
import { zooCountsText, type ZooRowState, type ZooRowStatus, type ZooStatus } from '../../shared/files/zoo';

/** A file of the results folder, as the tree needs it: where it is, and when it was made. */
export interface StoredFile<U = string> {
  uri: U;
  fileName: string;
  /** ms since the epoch: the file's createdAt when it has one, else its modification time. */
  createdAt: number;
}

export interface AnalysisHead {
  checkpoint: string;
  targetLayer?: string;
  budget?: string;
  complete: boolean;
  /** Orders that finished, and how many the run was asked for (undefined in older files that do not say). */
  finishedOrders: number;
  plannedOrders?: number;
  summary: Summary;
}

export interface CalibrationHead {
  budget?: string;
  /** Centre of mass of ρ per task net depth k, by increasing k. */
  centres: { k: number; centre: number }[];
}

export interface PredictionHead {
  target: string;
  models: number;
  maeTest: number;
  maeTestStd?: number;
  r2Test?: number;
  /** The model kept out of the fit, when the report predicted one. */
  prediction?: { label: string; predicted: number; actual: number };
  report: PredictReport;
}

export type StoredHead =
  { kind: 'analysis'; head: AnalysisHead } | { kind: 'calibration'; head: CalibrationHead } | { kind: 'prediction'; head: PredictionHead };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

interface ResultHead extends SummarySource {
  schemaVersion?: number;
  checkpoint?: { path?: string };
  targetLayer?: string;
  budget?: string;
  plannedOrders?: number[];
}

function analysisHead(raw: ResultHead): AnalysisHead | undefined {
  if (raw.schemaVersion !== 1 || !raw.checkpoint?.path || !Array.isArray(raw.components) || !Array.isArray(raw.orders) || !isObj(raw.residue)) return undefined;
  return {
    checkpoint: raw.checkpoint.path,
    targetLayer: raw.targetLayer,
    budget: raw.budget,
    complete: raw.complete !== false,
    finishedOrders: raw.components.length,
    plannedOrders: Array.isArray(raw.plannedOrders) ? raw.plannedOrders.length : undefined,
    summary: summarize(raw),
  };
}

function calibrationHead(raw: unknown): CalibrationHead | undefined {
  let out: TaskComplexityOutput;
  try {
    out = parseTaskComplexity(raw);
  } catch {
    return undefined;
  }
  return { budget: out.budget, centres: calibrationSeries(out).map((s) => ({ k: s.k, centre: s.centre })) };
}

/** A PredictReport: a target, the fitted models and the cross-validated error. */
function predictionHead(raw: unknown): PredictionHead | undefined {
  if (!isObj(raw) || typeof raw.target !== 'string' || !Array.isArray(raw.models) || !isObj(raw.crossValidation) || !isNum(raw.crossValidation.maeTest))
    return undefined;
  const cv = raw.crossValidation;
  const p = raw.prediction;
  return {
    target: raw.target,
    models: raw.models.length,
    maeTest: cv.maeTest as number,
    maeTestStd: isNum(cv.maeTestStd) ? cv.maeTestStd : undefined,
    r2Test: isNum(cv.r2Test) ? cv.r2Test : undefined,
    prediction:
      isObj(p) && typeof p.label === 'string' && isNum(p.predicted) && isNum(p.actual)
        ? { label: p.label, predicted: p.predicted, actual: p.actual }
        : undefined,
    report: raw as unknown as PredictReport,
  };
}

/**
 * When a file says it was made: its createdAt, else the time in its name (shared/naming.ts), else
 * undefined (then its mtime).
 */
export function createdAtOf(fileName: string, raw: unknown): number | undefined {
  const created = isObj(raw) && typeof raw.createdAt === 'string' ? Date.parse(raw.createdAt) : NaN;
  if (Number.isFinite(created)) return created;
  return timeInFileName(fileName);
}

/** What a JSON file of the results folder is; undefined for anything else (links.json, a file being written). */
export function classifyStored(fileName: string, raw: unknown): StoredHead | undefined {
  const analysis = analysisHead(raw as ResultHead);
  if (analysis) return { kind: 'analysis', head: analysis };
  if (/^task-complexity-.*\.json$/i.test(fileName) || (isObj(raw) && raw.kind === 'task-complexity')) {
    const head = calibrationHead(raw);
    return head && { kind: 'calibration', head };
  }
  const prediction = predictionHead(raw);
  return prediction && { kind: 'prediction', head: prediction };
}

/** "incomplete: 1 of 2 orders", or "incomplete: 1 order" when an older file does not say how many were planned. */
export function ordersText(a: Pick<AnalysisHead, 'finishedOrders' | 'plannedOrders'>): string {
  if (a.plannedOrders !== undefined) return `incomplete: ${a.finishedOrders} of ${a.plannedOrders} orders`;
  return `incomplete: ${a.finishedOrders} order${a.finishedOrders === 1 ? '' : 's'}`;
}

/** The analysis row's line: first whether it is incomplete (a narrow view still shows that), then budget, layer and the ρ summary. */
export function analysisDescription(a: AnalysisHead): string {
  // formatSummary names "N/M orders" itself when the orders list is longer than the finished ones; said once here instead.
  const summary = formatSummary({ ...a.summary, total: a.summary.finished });
  return [a.complete ? '' : ordersText(a), [a.budget, a.targetLayer].filter(Boolean).join(' '), summary].filter(Boolean).join(' · ');
}

/** e.g. "k=0: 1.78 · k=2: 3.04 · k=8: 3.20": the centre of mass of ρ per task net depth. */
export function calibrationDescription(c: CalibrationHead): string {
  return c.centres.map((x) => `k=${x.k}: ${x.centre.toFixed(2)}`).join(' · ');
}

/** Accuracy errors in percentage points, loss errors as they are: as the prediction view writes them. */
function errorText(p: Pick<PredictionHead, 'target'>, x: number): string {
  return p.target === 'accuracy' ? `${(100 * x).toFixed(2)} pts` : x.toFixed(4);
}

/** e.g. "MAE 3.44 pts ± 0.81 pts · 40 models · cnn-d3 predicted 79.10 % (actual 80.20 %)". */
export function predictionDescription(p: PredictionHead): string {
  const parts = [`MAE ${errorText(p, p.maeTest)}${p.maeTestStd !== undefined ? ` ± ${errorText(p, p.maeTestStd)}` : ''}`, `${p.models} models`];
  if (p.prediction) {
    const v = (x: number) => (p.target === 'accuracy' ? `${(100 * x).toFixed(2)} %` : x.toFixed(4));
    parts.push(`${p.prediction.label} predicted ${v(p.prediction.predicted)} (actual ${v(p.prediction.actual)})`);
  }
  return parts.join(' · ');
}

export type TreeNode<U = string> =
  | { kind: 'checkpoint'; checkpoint: string; analyses: (StoredFile<U> & AnalysisHead)[] }
  | { kind: 'analysis'; analysis: StoredFile<U> & AnalysisHead }
  | { kind: 'group'; group: 'calibrations' | 'predictions'; files: (StoredFile<U> & (CalibrationHead | PredictionHead))[] }
  | { kind: 'calibration'; calibration: StoredFile<U> & CalibrationHead }
  | { kind: 'prediction'; prediction: StoredFile<U> & PredictionHead }
  | { kind: 'zoos'; zoos: ZooStatus[] }
  | { kind: 'zoo'; zoo: ZooStatus }
  | { kind: 'zooRow'; zoo: ZooStatus; row: ZooRowStatus };

export const GROUP_LABELS = { calibrations: 'Task-complexity calibrations', predictions: 'Predictions' } as const;
export const ZOOS_LABEL = 'Zoos';

const newestFirst = <T extends { createdAt: number }>(xs: T[]) => [...xs].sort((a, b) => b.createdAt - a.createdAt);

/**
 * The top rows: one per checkpoint (newest analysis first), then a group of zoos, one of
 * calibrations and one of predictions when there are any.
 */
export function rootNodes<U>(
  analyses: (StoredFile<U> & AnalysisHead)[],
  calibrations: (StoredFile<U> & CalibrationHead)[],
  predictions: (StoredFile<U> & PredictionHead)[],
  zoos: ZooStatus[] = [],
): TreeNode<U>[] {
  const byCheckpoint = new Map<string, (StoredFile<U> & AnalysisHead)[]>();
  for (const a of newestFirst(analyses)) byCheckpoint.set(a.checkpoint, [...(byCheckpoint.get(a.checkpoint) ?? []), a]);
  const roots: TreeNode<U>[] = [...byCheckpoint].map(([checkpoint, list]) => ({ kind: 'checkpoint', checkpoint, analyses: list }));
  if (zoos.length) roots.push({ kind: 'zoos', zoos: [...zoos].sort((a, b) => a.name.localeCompare(b.name) || a.dir.localeCompare(b.dir)) });
  if (calibrations.length) roots.push({ kind: 'group', group: 'calibrations', files: newestFirst(calibrations) });
  if (predictions.length) roots.push({ kind: 'group', group: 'predictions', files: newestFirst(predictions) });
  return roots;
}

export function childNodes<U>(node: TreeNode<U>): TreeNode<U>[] {
  if (node.kind === 'checkpoint') return node.analyses.map((analysis) => ({ kind: 'analysis', analysis }));
  if (node.kind === 'zoos') return node.zoos.map((zoo) => ({ kind: 'zoo', zoo }));
  if (node.kind === 'zoo') return node.zoo.rows.map((row) => ({ kind: 'zooRow', zoo: node.zoo, row }));
  if (node.kind !== 'group') return [];
  return node.group === 'calibrations'
    ? node.files.map((f) => ({ kind: 'calibration', calibration: f as StoredFile<U> & CalibrationHead }))
    : node.files.map((f) => ({ kind: 'prediction', prediction: f as StoredFile<U> & PredictionHead }));
}

/** The codicon of a zoo row's state. */
export const ZOO_STATE_ICONS: Record<ZooRowState, string> = {
  done: 'pass-filled',
  running: 'sync~spin',
  queued: 'clock',
  failed: 'error',
  waiting: 'circle-outline',
};

/** The workspace folder a zoo belongs to: its folder is `<workspace>/.feature-complexity/zoos/<name>`. */
export function zooWorkspace(zoo: Pick<ZooStatus, 'dir'>): string {
  return path.resolve(zoo.dir, '..', '..', '..');
}

/** Its rows that are running or queued: the view asks again every few seconds while there are any. */
export function zooIsActive(zoo: Pick<ZooStatus, 'counts'>): boolean {
  return zoo.counts.running + zoo.counts.queued > 0;
}

/** The result files of its finished rows, in row order. */
export function zooDoneResults(zoo: Pick<ZooStatus, 'rows'>): string[] {
  return zoo.rows.filter((r) => r.state === 'done' && r.result).map((r) => r.result!);
}

/** "2 done · 1 running · 2 waiting of 5": a zoo's progress. */
export function zooProgressText(zoo: Pick<ZooStatus, 'counts' | 'total'>): string {
  return `${zooCountsText(zoo)} of ${zoo.total}`;
}

/**
 * The zoo row's context value, `zoo` then what its menus depend on: `active` (rows running or
 * queued: Cancel), `done` (finished rows: Predict), `unfinished` (rows not done: Run Again),
 * `failed` (Resubmit Failed Rows).
 */
export function zooContextValue(zoo: Pick<ZooStatus, 'counts' | 'total'>): string {
  const flags = [
    zooIsActive(zoo) ? 'active' : '',
    zoo.counts.done > 0 ? 'done' : '',
    zoo.counts.done < zoo.total ? 'unfinished' : '',
    zoo.counts.failed > 0 ? 'failed' : '',
  ];
  return ['zoo', ...flags.filter(Boolean)].join(' ');
}

export interface ZooView {
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}

/** A zoo as the tree shows it: its name, its counts, where it lives. */
export function zooView(zoo: ZooStatus): ZooView {
  const lines = [`Zoo ${zoo.name}: ${zooProgressText(zoo)}`, zoo.dir];
  if (zoo.note) lines.push(zoo.note);
  return { label: zoo.name, description: zooCountsText(zoo), tooltip: lines.join('\n'), contextValue: zooContextValue(zoo) };
}

/** What a click on a row opens: a done row its result, a failed one its errors, a running one its output so far. */
export type ZooRowOpen = { what: 'result' | 'log'; path: string } | undefined;

export interface ZooRowView {
  label: string;
  description: string;
  icon: string;
  tooltip: string;
  open: ZooRowOpen;
  contextValue: string;
}

/** One row of a zoo as the tree shows it. */
export function zooRowView(row: ZooRowStatus): ZooRowView {
  const open: ZooRowOpen =
    row.state === 'done' && row.result
      ? { what: 'result', path: row.result }
      : row.state === 'failed'
        ? { what: 'log', path: row.err }
        : row.state === 'running'
          ? { what: 'log', path: row.out }
          : undefined;
  const lines = [row.checkpoint, `Row ${row.index}: ${row.state}${row.job ? ` (Slurm task ${row.job})` : ''}`];
  if (row.error) lines.push(`Error: ${row.error}`);
  if (row.result) lines.push(`Result: ${row.result}`);
  return {
    label: checkpointName(row.checkpoint),
    description: row.state,
    icon: ZOO_STATE_ICONS[row.state],
    tooltip: lines.join('\n'),
    open,
    contextValue: `zooRow-${row.state}`,
  };
}
