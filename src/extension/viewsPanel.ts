/**
 * The comparison, prediction and calibration panels: one webview class, three views. A
 * comparison follows its result files and a calibration its output file, so a rewrite shows up
 * live; a prediction keeps the engine's report in the webview state. All three come back after
 * a window reload through their panel serializers.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseTaskComplexity } from '../shared/files/calibration';
import { checkpointName } from '../shared/naming';
import {
  type ComparedAnalysis,
  exportNotification,
  openDocsNotification,
  readyNotification,
  refitPredictNotification,
  showCalibrationNotification,
  type ShowCalibrationParams,
  showCompareNotification,
  showPredictNotification,
  type ShowPredictParams,
  VIEW_TYPES,
  type ViewKind,
  type ViewsWebviewState,
} from '../shared/webviewProtocol';
import type { PredictReport, PredictTarget } from '../shared/engineProtocol';
import { readResultFile } from './resultFile';
import { openDocs, saveExport, watchFiles, webviewOptions, webviewPage } from './webviewHost';

/** Why a file could not be read, in words. */
function readError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'the file does not exist (deleted or moved)' : err.message;
}

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

export class ViewsPanel {
  private static readonly open = new Map<string, ViewsPanel>();
  private readonly _disposables: vscode.Disposable[] = [];
  private ready = false;
  private disposed = false;
  /** The first message, read while the page loads (as the results panel does). */
  private prefetched: Promise<unknown> | undefined;

  /** Opens the view of `source`, or reveals and refreshes the panel that already shows it. */
  static show(extension: vscode.ExtensionContext, source: ViewsWebviewState): ViewsPanel {
    const key = ViewsPanel.key(source);
    const existing = ViewsPanel.open.get(key);
    if (existing) {
      existing.source = source;
      existing.panel.reveal(undefined, false);
      existing.refresh();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPES[source.view], ViewsPanel.title(source), vscode.ViewColumn.Beside, webviewOptions(extension));
    return new ViewsPanel(panel, extension, source);
  }

  static registerSerializers(extension: vscode.ExtensionContext): vscode.Disposable {
    const subs = (Object.keys(VIEW_TYPES) as ViewKind[]).map((view) =>
      vscode.window.registerWebviewPanelSerializer(VIEW_TYPES[view], {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const s = state as ViewsWebviewState | undefined;
          if (s?.view !== view || ViewsPanel.open.has(ViewsPanel.key(s))) {
            panel.dispose();
            return;
          }
          panel.webview.options = webviewOptions(extension);
          new ViewsPanel(panel, extension, s);
        },
      }),
    );
    return vscode.Disposable.from(...subs);
  }

  /** A prediction panel is reused for the next prediction; comparisons and calibrations are one per file set. */
  private static key(s: ViewsWebviewState): string {
    if (s.view === 'compare') return `compare:${[...s.paths].sort().join('\n')}`;
    if (s.view === 'calibration') return `calibration:${s.path}`;
    return 'predict';
  }

  private static title(s: ViewsWebviewState): string {
    if (s.view === 'compare') return `Compare: ${s.paths.map((p) => path.basename(p, '.json')).join(' · ')}`;
    if (s.view === 'calibration') return `Task complexity: ${path.basename(s.path, '.json')}`;
    const p = s.shown.report.prediction;
    return p ? `Prediction: ${checkpointName(p.label)}` : `Prediction from ${s.shown.report.models.length} analyses`;
  }

  private watcher: vscode.Disposable | undefined;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extension: vscode.ExtensionContext,
    private source: ViewsWebviewState,
  ) {
    ViewsPanel.open.set(ViewsPanel.key(source), this);
    panel.iconPath = vscode.Uri.joinPath(extension.extensionUri, 'media', 'icon.png');
    panel.webview.html = webviewPage(panel.webview, extension, ViewsPanel.title(source), source.view);
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this._disposables);
    this.watch();
    this.prefetched = this.message();
  }

  private watch(): void {
    this.watcher?.dispose();
    const files = this.source.view === 'compare' ? this.source.paths : this.source.view === 'calibration' ? [this.source.path] : [];
    this.watcher = files.length ? watchFiles(files, () => this.refresh()) : undefined;
  }

  private refresh(): void {
    this.panel.title = ViewsPanel.title(this.source);
    if (this.ready) void this.send();
    else this.prefetched = this.message();
  }

  private async send(): Promise<void> {
    const message = await (this.prefetched ?? this.message());
    this.prefetched = undefined;
    if (!this.disposed) await this.panel.webview.postMessage(message);
  }

  private async message(): Promise<unknown> {
    const s = this.source;
    if (s.view === 'compare') return showCompareNotification.message({ analyses: await readCompared(s.paths) });
    if (s.view === 'calibration') return showCalibrationNotification.message(await readCalibration(s.path));
    return showPredictNotification.message(s.shown satisfies ShowPredictParams);
  }

  private onMessage(m: unknown): void {
    if (readyNotification.is(m)) {
      this.ready = true;
      void this.send();
    } else if (exportNotification.is(m)) {
      const s = this.source;
      const near = s.view === 'compare' ? s.paths[0] : s.view === 'calibration' ? s.path : s.shown.report.models[0]?.path;
      void saveExport(m.params, near ? path.dirname(near) : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? ''));
    } else if (openDocsNotification.is(m)) {
      void openDocs(this.extension, m.params);
    } else if (refitPredictNotification.is(m) && this.source.view === 'predict') {
      void vscode.commands.executeCommand('featureComplexity.predict', refitOf(this.source.shown.report, m.params.consistentOnly));
    }
  }

  dispose(): void {
    // panel.dispose() fires onDidDispose, which lands here again.
    if (this.disposed) return;
    this.disposed = true;
    ViewsPanel.open.delete(ViewsPanel.key(this.source));
    this.watcher?.dispose();
    this.panel.dispose();
    while (this._disposables.length) this._disposables.pop()?.dispose();
  }
}
