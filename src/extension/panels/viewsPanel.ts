/**
 * The comparison, prediction and calibration panels (panel.ts runs them). A comparison follows
 * its result files and a calibration its output file, so a rewrite shows up live; a prediction
 * keeps the engine's report in the webview state. All three come back after a window reload.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseTaskComplexity } from '../../shared/files/calibration';
import { checkpointName } from '../../shared/naming';
import {
  type ComparedAnalysis,
  refitPredictNotification,
  showCalibrationNotification,
  type ShowCalibrationParams,
  showCompareNotification,
  showPredictNotification,
  type ShowPredictParams,
  VIEW_TYPES,
  type ViewKind,
  type ViewsWebviewState,
} from '../../shared/webviewProtocol';
import type { PredictReport, PredictTarget } from '../../shared/engineProtocol';
import { readResultFile, resultTitle } from '../analyses/resultFile';
import { folderOf, Panel, type PanelView, readError } from './panel';

export async function readCompared(paths: string[]): Promise<ComparedAnalysis[]> {
  return Promise.all(
    paths.map(async (p): Promise<ComparedAnalysis> => {
      const fileName = path.basename(p);
      try {
        const loaded = await readResultFile(p);
        return { path: p, fileName, result: loaded.result, warnings: loaded.warnings };
      } catch (e) {
        return { path: p, fileName, error: readError(e), warnings: [] };
      }
    }),
  );
}

export async function readCalibration(p: string): Promise<ShowCalibrationParams> {
  const fileName = path.basename(p);
  try {
    return { path: p, fileName, output: parseTaskComplexity(JSON.parse(await readFile(p, 'utf8'))) };
  } catch (e) {
    return { path: p, fileName, error: readError(e) };
  }
}

/** The argument of `featureComplexity.predict` that fits again on the analyses of a shown report, without asking. */
export interface PredictRefit {
  refit: true;
  results: string[];
  for?: string;
  target: PredictTarget;
  consistentOnly: boolean;
}

/** Every analysis the report was given (fitted or left out for its settings), to fit again. */
export function refitOf(report: PredictReport, consistentOnly: boolean): PredictRefit {
  return {
    refit: true,
    results: [...report.models.map((m) => m.path), ...(report.settings?.leftOut ?? []).map((l) => l.path)],
    for: report.prediction?.path,
    target: report.target,
    consistentOnly,
  };
}

type Source<K extends ViewKind> = Extract<ViewsWebviewState, { view: K }>;

/** A restored panel's state, when it is one of `view`'s. */
const stateOf =
  <K extends ViewKind>(view: K) =>
  (state: unknown): Source<K> | undefined =>
    (state as ViewsWebviewState | undefined)?.view === view ? (state as Source<K>) : undefined;

const compareView: PanelView<Source<'compare'>> = {
  viewType: VIEW_TYPES.compare,
  page: 'compare',
  key: (s) => [...s.paths].sort().join('\n'),
  title: (s) => `Compare: ${s.paths.map(resultTitle).join(' · ')}`,
  files: (s) => s.paths,
  message: async (s) => showCompareNotification.message({ analyses: await readCompared(s.paths) }),
  exportFolder: (s) => folderOf(s.paths[0]),
  revive: stateOf('compare'),
};

const calibrationView: PanelView<Source<'calibration'>> = {
  viewType: VIEW_TYPES.calibration,
  page: 'calibration',
  key: (s) => s.path,
  title: (s) => `Task complexity: ${path.basename(s.path, '.json')}`,
  files: (s) => [s.path],
  message: async (s) => showCalibrationNotification.message(await readCalibration(s.path)),
  exportFolder: (s) => folderOf(s.path),
  revive: stateOf('calibration'),
};

/** One prediction panel, reused for the next prediction. */
const predictView: PanelView<Source<'predict'>> = {
  viewType: VIEW_TYPES.predict,
  page: 'predict',
  key: () => 'predict',
  title: (s) => {
    const p = s.shown.report.prediction;
    return p ? `Prediction: ${checkpointName(p.label)}` : `Prediction from ${s.shown.report.models.length} analyses`;
  },
  files: () => [],
  message: async (s) => showPredictNotification.message(s.shown satisfies ShowPredictParams),
  exportFolder: (s) => folderOf(s.shown.report.models[0]?.path),
  revive: stateOf('predict'),
  onMessage: (m, s) => {
    if (refitPredictNotification.is(m)) void vscode.commands.executeCommand('featureComplexity.predict', refitOf(s.shown.report, m.params.consistentOnly));
  },
};

/** Opens the comparison, prediction or calibration of `source`, or refreshes the panel that shows it. */
export function showView(extension: vscode.ExtensionContext, source: ViewsWebviewState): void {
  if (source.view === 'compare') Panel.show(extension, compareView, source);
  else if (source.view === 'calibration') Panel.show(extension, calibrationView, source);
  else Panel.show(extension, predictView, source);
}

export function registerViewSerializers(extension: vscode.ExtensionContext): vscode.Disposable {
  return vscode.Disposable.from(
    Panel.registerSerializer(extension, compareView),
    Panel.registerSerializer(extension, calibrationView),
    Panel.registerSerializer(extension, predictView),
  );
}
