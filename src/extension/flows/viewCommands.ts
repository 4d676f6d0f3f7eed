/**
 * The commands behind the comparison, prediction and calibration views: they choose the analyses
 * (from the Explorer selection, a tree row, or a pick list), ask the engine where maths is needed,
 * and open the panel.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { requireTrust } from '../trust';
import { predictRequest, taskComplexityRequest, type Budget } from '../../shared/engineProtocol';
import { checkpointName } from '../../shared/naming';
import type { AnalysesNode } from '../analyses/analysesView';
import { zooDoneResults } from '../analyses/analysesModel';
import { zooOf } from './zooFlow';
import { settings } from '../config';
import type { Ctx } from '../ctx';
import { describeEngineError, isCancellation } from '../engine/engine';
import { withEngineProgress } from '../engine/progress';
import type { StoredAnalysis } from '../analyses/resultsStore';
import { type PredictRefit, showView } from '../panels/viewsPanel';
import { calibrationFileName } from '../../shared/naming';

type AnalysisItem = vscode.QuickPickItem & { analysis: StoredAnalysis };

function analysisItem(a: StoredAnalysis, picked: boolean): AnalysisItem {
  return {
    label: checkpointName(a.checkpoint),
    description: [a.targetLayer, a.budget, new Date(a.createdAt).toLocaleString()].filter(Boolean).join(' · '),
    detail: vscode.workspace.asRelativePath(a.uri),
    picked,
    analysis: a,
  };
}

/** The result file a command was invoked on: a Uri (Explorer, click) or an Analyses tree row. */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const node = arg as AnalysesNode | undefined;
  return node?.kind === 'analysis' ? node.analysis.uri : undefined;
}

const showError = (ctx: Ctx, e: unknown) =>
  void vscode.window.showErrorMessage(`Feature Complexity: ${describeEngineError(e)}`, 'Show Log').then((a) => a && ctx.log.show());

/**
 * Explorer with several files selected passes (clicked, selection); the tree and the view title
 * pass one row or nothing, and then the user picks from the stored analyses.
 */
export async function compareCommand(ctx: Ctx, arg?: unknown, selection?: unknown): Promise<void> {
  const selected = Array.isArray(selection) ? selection.filter((u): u is vscode.Uri => u instanceof vscode.Uri) : [];
  // A zoo of the Feature Complexity view: its finished rows, side by side.
  const zoo = zooOf(arg);
  let paths = zoo ? zooDoneResults(zoo) : selected.map((u) => u.fsPath);
  if (paths.length < 2) {
    await ctx.store.whenReady();
    const all = ctx.store.all();
    if (all.length < 2) {
      void vscode.window.showInformationMessage(
        `Feature Complexity: comparing needs at least two stored analyses; ${all.length === 0 ? 'there are none' : 'there is one'} in this workspace.`,
      );
      return;
    }
    const given = new Set([...paths, uriOf(arg)?.fsPath].filter(Boolean));
    const picks = await vscode.window.showQuickPick(
      all.map((a) => analysisItem(a, given.has(a.uri.fsPath))),
      {
        canPickMany: true,
        title: 'Analyses to compare',
        placeHolder: 'Pick two or more: e.g. a model, its compressed and distilled variants',
        ignoreFocusOut: true,
      },
    );
    if (!picks) return;
    if (picks.length < 2) {
      void vscode.window.showWarningMessage('Feature Complexity: pick at least two analyses to compare.');
      return;
    }
    paths = picks.map((p) => p.analysis.uri.fsPath);
  }
  showView(ctx.extension, { view: 'compare', paths });
}

const isRefit = (arg: unknown): arg is PredictRefit =>
  typeof arg === 'object' && arg !== null && (arg as PredictRefit).refit === true && Array.isArray((arg as PredictRefit).results);

/** Asks the engine and shows its report; the report says when the analyses differ in settings. */
async function runPredict(ctx: Ctx, params: { results: string[]; for?: string; target?: PredictRefit['target']; consistentOnly?: boolean }): Promise<void> {
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Feature Complexity: fitting the regressor', cancellable: true },
      (_p, token) => ctx.engine.request(predictRequest, params, token),
    );
    showView(ctx.extension, { view: 'predict', shown: { report, madeAt: new Date().toISOString() } });
  } catch (e) {
    if (!isCancellation(e)) showError(ctx, e);
  }
}

/**
 * Fits the regressor on the analyses with reliability (all of them unless the user unpicks some)
 * and, optionally, predicts one more that is kept out of the fit. Called with a `PredictRefit`
 * (the prediction panel's button, or another extension), it fits those analyses again without
 * asking, on all of them or on the largest group with the same settings; called on a zoo of the
 * Feature Complexity view, on that zoo's finished rows.
 */
export async function predictCommand(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!(await requireTrust('fitting a prediction'))) return;
  if (isRefit(arg)) return runPredict(ctx, { results: arg.results, for: arg.for, target: arg.target, consistentOnly: arg.consistentOnly });
  // A zoo's row in the view: fitted on its finished rows, without asking.
  const zoo = zooOf(arg);
  if (zoo) {
    const results = zooDoneResults(zoo);
    if (results.length === 0) {
      void vscode.window.showInformationMessage(`Feature Complexity: zoo ${zoo.name} has no finished rows yet.`);
      return;
    }
    return runPredict(ctx, { results });
  }
  await ctx.store.whenReady();
  const all = ctx.store.all();
  const withReliability = all.filter((a) => a.summary.reliable !== undefined);
  if (withReliability.length === 0) {
    void vscode.window.showWarningMessage(
      `Feature Complexity: predicting accuracy needs analyses with reliability (run them with exemplar networks, setting featureComplexity.exemplars); none of the ${all.length} stored analyses has it.`,
    );
    return;
  }
  const forUri = uriOf(arg);
  const fit = await vscode.window.showQuickPick(
    withReliability.map((a) => analysisItem(a, a.uri.fsPath !== forUri?.fsPath)),
    {
      canPickMany: true,
      title: 'Analyses to fit the regressor on',
      placeHolder: 'Test accuracy ~ reliable and unreliable variance shares of 4 orders',
      ignoreFocusOut: true,
    },
  );
  if (!fit) return;
  let forPath = forUri?.fsPath;
  if (!forPath) {
    const none = { label: '$(circle-slash) No single prediction', description: 'only fit and validate the regressor' };
    const items = [none, ...withReliability.map((a) => analysisItem(a, false))];
    const choice = await vscode.window.showQuickPick(items, { title: 'Predict one checkpoint (kept out of the fit)?', ignoreFocusOut: true });
    if (!choice) return;
    forPath = 'analysis' in choice ? choice.analysis.uri.fsPath : undefined;
  }
  await runPredict(ctx, { results: fit.map((p) => p.analysis.uri.fsPath), for: forPath });
}

/** Saved calibrations sit beside the analyses, named task-complexity-<time>.json. */
async function savedCalibrations(folder: string): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles(`**/${folder}/task-complexity-*.json`, '**/node_modules/**');
  return found.sort((a, b) => b.fsPath.localeCompare(a.fsPath));
}

const CALIBRATION_BUDGETS: { label: Budget; detail: string }[] = [
  { label: 'quick', detail: 'Minutes on a CPU: enough to see the trend.' },
  { label: 'standard', detail: 'Tighter stopping rule; longer.' },
  { label: 'thorough', detail: 'Longer training with a stricter stopping rule.' },
];

export function openCalibration(ctx: Ctx, uri: vscode.Uri): void {
  showView(ctx.extension, { view: 'calibration', path: uri.fsPath });
}

/** A saved prediction (the JSON export of the prediction view, or `feature-complexity predict --out`) in the prediction view. */
export async function openPrediction(ctx: Ctx, uri: vscode.Uri): Promise<void> {
  await ctx.store.whenReady();
  const saved = ctx.store.predictions().find((p) => p.uri.toString() === uri.toString());
  if (!saved) {
    void vscode.window.showErrorMessage(
      `Feature Complexity: ${vscode.workspace.asRelativePath(uri)} is not a saved prediction (a report with its models and cross-validated error).`,
    );
    return;
  }
  const stat = await vscode.workspace.fs.stat(uri);
  showView(ctx.extension, { view: 'predict', shown: { report: saved.report, madeAt: new Date(stat.mtime).toISOString() } });
}

/**
 * Runs a new calibration, or opens a saved one picked from the list: the engine trains a target
 * DNN per task net depth k and disentangles it (METHOD.md §6).
 */
export async function taskComplexityCommand(ctx: Ctx): Promise<void> {
  const cfg = settings();
  const saved = await savedCalibrations(cfg.resultsFolder);
  if (saved.length) {
    const run: vscode.QuickPickItem & { uri?: vscode.Uri } = { label: '$(play) Run a new calibration…', description: 'k = 0, 2, 8, 26, 80' };
    const choice = await vscode.window.showQuickPick(
      [run, ...saved.map((u) => ({ label: path.basename(u.fsPath, '.json'), description: vscode.workspace.asRelativePath(u), uri: u }))],
      {
        title: 'Task-complexity calibration',
      },
    );
    if (!choice) return;
    if (choice.uri) {
      openCalibration(ctx, choice.uri);
      return;
    }
  }
  await runCalibration(ctx);
}

async function runCalibration(ctx: Ctx): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage('Feature Complexity: the calibration runs the engine, so it needs a trusted workspace.');
    return;
  }
  if (ctx.running) {
    void vscode.window.showWarningMessage('Feature Complexity: an analysis is already running. Cancel it first.');
    return;
  }
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (!ws) {
    void vscode.window.showErrorMessage('Feature Complexity: open a folder first; the calibration is saved in its results folder.');
    return;
  }
  const budget = await vscode.window.showQuickPick(CALIBRATION_BUDGETS, { title: 'Training budget of the calibration' });
  if (!budget) return;
  const cfg = settings(ws.uri);
  const out = path.join(ws.uri.fsPath, cfg.resultsFolder, calibrationFileName());
  const progressToken = `task-complexity-${Date.now()}`;
  try {
    await withEngineProgress(ctx, 'Task-complexity calibration', progressToken, (token) =>
      ctx.engine.request(
        taskComplexityRequest,
        { budget: budget.label, backend: cfg.backend, seed: cfg.seed, ...(cfg.threads > 0 ? { threads: cfg.threads } : {}), out, progressToken },
        token,
      ),
    );
    showView(ctx.extension, { view: 'calibration', path: out });
  } catch (e) {
    if (isCancellation(e)) void vscode.window.showWarningMessage('Feature Complexity: the calibration was cancelled.');
    else showError(ctx, e);
  }
}
