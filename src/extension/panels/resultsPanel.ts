/**
 * The results panel: one per result file, beside the active editor (a new analysis joins the
 * group that already shows results). It follows its file, so an analysis that rewrites the file
 * after each finished order shows up live, and it comes back after a window reload (the page keeps
 * the path in its state).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RESULTS_VIEW_TYPE, type ResultsWebviewState, showResultNotification, type ShowResultParams } from '../../shared/webviewProtocol';
import { folderOf, Panel, type PanelView, readError } from './panel';
import { readResultFile, resultTitle } from '../analyses/resultFile';

async function readResult(file: string): Promise<ShowResultParams> {
  const msg: ShowResultParams = { path: file, fileName: path.basename(file), warnings: [], readAt: new Date().toISOString() };
  try {
    const loaded = await readResultFile(file);
    msg.result = loaded.result;
    msg.warnings = loaded.warnings;
  } catch (e) {
    msg.error = readError(e);
  }
  return msg;
}

/** The results view; its source is the result file's path. */
export const resultsView: PanelView<string> = {
  viewType: RESULTS_VIEW_TYPE,
  page: 'results',
  key: (file) => file,
  title: (file) => `Feature complexity: ${resultTitle(file)}`,
  files: (file) => [file],
  message: async (file) => showResultNotification.message(await readResult(file)),
  exportFolder: folderOf,
  revive: (state) => (state as ResultsWebviewState | undefined)?.resultPath || undefined,
  column: (open) => open.map((p) => p.viewColumn).find((c) => c !== undefined) ?? vscode.ViewColumn.Beside,
};

export function showResults(extension: vscode.ExtensionContext, resultUri: vscode.Uri): void {
  Panel.show(extension, resultsView, resultUri.fsPath);
}
