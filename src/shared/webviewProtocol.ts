/**
 * Every message between the extension host and the results webview, named once with its
 * payload type. Both sides send and test messages only through these objects, so neither
 * guesses a payload shape. (The host↔engine messages live in src/shared/engineProtocol.ts.)
 */
import type { PredictReport, TaskComplexityOutput } from './engineProtocol';
import type { AnalysisResult } from './files/analysis';

export type { AnalysisResult, PredictReport, TaskComplexityOutput };

/** A message kind: `method` on the wire, `Params` at compile time only. */
export class IpcNotification<Params> {
  readonly method: string;
  /** Never set; carries the payload type so `is` and `message` can infer it. */
  declare readonly _params: Params;

  constructor(scope: string, name: string) {
    this.method = `${scope}/${name}`;
  }

  message(params: Params): IpcMessage<Params> {
    return { method: this.method, params };
  }

  is(msg: unknown): msg is IpcMessage<Params> {
    return typeof msg === 'object' && msg !== null && (msg as IpcMessage<unknown>).method === this.method;
  }
}

export interface IpcMessage<Params> {
  method: string;
  params: Params;
}

// ── host → webview ─────────────────────────────────────────────────────────────

export interface ShowResultParams {
  /** Absolute path of the result file; the webview keeps it in its state for revival. */
  path: string;
  fileName: string;
  /** Absent when the file could not be read; then `error` says why. */
  result?: AnalysisResult;
  error?: string;
  /** Optional sections that were present but unreadable. */
  warnings: string[];
  /** ISO time the host read the file; shows that a running analysis is being followed. */
  readAt: string;
}

/** The result file's current content; sent after `ready` and after each change of the file. */
export const showResultNotification = new IpcNotification<ShowResultParams>('results', 'show');

/** One analysis of a comparison: its content, or why it could not be read. */
export interface ComparedAnalysis {
  path: string;
  fileName: string;
  result?: AnalysisResult;
  error?: string;
  warnings: string[];
}

export interface ShowCompareParams {
  analyses: ComparedAnalysis[];
}

/** The analyses of a comparison panel; sent after `ready` and after any of their files changes. */
export const showCompareNotification = new IpcNotification<ShowCompareParams>('compare', 'show');

export interface ShowPredictParams {
  report: PredictReport;
  /** ISO time the engine answered. */
  madeAt: string;
}

/** The engine's regression report (METHOD.md §5) for the prediction panel. */
export const showPredictNotification = new IpcNotification<ShowPredictParams>('predict', 'show');

export interface ShowCalibrationParams {
  path: string;
  fileName: string;
  output?: TaskComplexityOutput;
  error?: string;
}

/** A task-complexity calibration output (METHOD.md §6) for the calibration panel. */
export const showCalibrationNotification = new IpcNotification<ShowCalibrationParams>('calibration', 'show');

// ── webview → host ─────────────────────────────────────────────────────────────

/** The app is listening; the host answers with its view's `show…` notification. */
export const readyNotification = new IpcNotification<Record<string, never>>('results', 'ready');

export interface ExportParams {
  format: 'csv' | 'json' | 'png';
  /** File name proposed in the save dialog, next to the result file. */
  suggestedName: string;
  /** Text for csv / json; a `data:image/png;base64,…` URL for png. */
  content: string;
}

/** Asks the host for a path (save dialog) and writes the content there. */
export const exportNotification = new IpcNotification<ExportParams>('results', 'export');

export interface RefitPredictParams {
  /** Fit only the largest group of analyses with the same settings (true), or all of them again (false). */
  consistentOnly: boolean;
}

/** The prediction panel asks the host to fit the regressor again on the same analyses, restricted or not. */
export const refitPredictNotification = new IpcNotification<RefitPredictParams>('predict', 'refit');

/** The docs pages a panel may link to, as paths inside the extension's folder (`.vscodeignore` packs them). */
export const DOCS_PAGES = {
  /** Every metric's definition, with the paper's equation or section and our choices. */
  metrics: 'docs/METRICS.md',
} as const;

export interface OpenDocsParams {
  page: keyof typeof DOCS_PAGES;
}

/** A link in a panel: the host opens the docs page from the extension's folder (a webview cannot open files). */
export const openDocsNotification = new IpcNotification<OpenDocsParams>('results', 'openDocs');

// ── webview state ──────────────────────────────────────────────────────────────

/** What `vscode.setState` keeps across a window reload; the panel serializer reads it. */
export interface ResultsWebviewState {
  resultPath: string;
  tab?: string;
}

export const RESULTS_VIEW_TYPE = 'featureComplexity.results';

/** What a comparison, prediction or calibration panel keeps to come back after a reload. */
export type ViewsWebviewState = { view: 'compare'; paths: string[] } | { view: 'predict'; shown: ShowPredictParams } | { view: 'calibration'; path: string };

export type ViewKind = ViewsWebviewState['view'];

export const VIEW_TYPES: Record<ViewKind, string> = {
  compare: 'featureComplexity.compare',
  predict: 'featureComplexity.predict',
  calibration: 'featureComplexity.calibration',
};
