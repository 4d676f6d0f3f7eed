/**
 * What the Feature Complexity tree shows, without VS Code: which files of the results folder are
 * analyses, saved calibrations (task-complexity-*.json) or saved predictions (the report of
 * "Predict Performance", exported as JSON or written by `feature-complexity predict --out`), the
 * one line each row shows, and how the rows are grouped. analysesView.ts turns these into tree items.
 */
import type { PredictReport, TaskComplexityOutput } from '../../shared/engineProtocol';
import { formatSummary, summarize, type Summary, type SummarySource } from '../../shared/summary';
import { calibrationSeries, parseTaskComplexity } from '../../shared/files/calibration';
import { timeInFileName } from '../../shared/naming';

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
  | { kind: 'prediction'; prediction: StoredFile<U> & PredictionHead };

export const GROUP_LABELS = { calibrations: 'Task-complexity calibrations', predictions: 'Predictions' } as const;

const newestFirst = <T extends { createdAt: number }>(xs: T[]) => [...xs].sort((a, b) => b.createdAt - a.createdAt);

/** The top rows: one per checkpoint (newest analysis first), then a group of calibrations and one of predictions when there are any. */
export function rootNodes<U>(
  analyses: (StoredFile<U> & AnalysisHead)[],
  calibrations: (StoredFile<U> & CalibrationHead)[],
  predictions: (StoredFile<U> & PredictionHead)[],
): TreeNode<U>[] {
  const byCheckpoint = new Map<string, (StoredFile<U> & AnalysisHead)[]>();
  for (const a of newestFirst(analyses)) byCheckpoint.set(a.checkpoint, [...(byCheckpoint.get(a.checkpoint) ?? []), a]);
  const roots: TreeNode<U>[] = [...byCheckpoint].map(([checkpoint, list]) => ({ kind: 'checkpoint', checkpoint, analyses: list }));
  if (calibrations.length) roots.push({ kind: 'group', group: 'calibrations', files: newestFirst(calibrations) });
  if (predictions.length) roots.push({ kind: 'group', group: 'predictions', files: newestFirst(predictions) });
  return roots;
}

export function childNodes<U>(node: TreeNode<U>): TreeNode<U>[] {
  if (node.kind === 'checkpoint') return node.analyses.map((analysis) => ({ kind: 'analysis', analysis }));
  if (node.kind !== 'group') return [];
  return node.group === 'calibrations'
    ? node.files.map((f) => ({ kind: 'calibration', calibration: f as StoredFile<U> & CalibrationHead }))
    : node.files.map((f) => ({ kind: 'prediction', prediction: f as StoredFile<U> & PredictionHead }));
}
