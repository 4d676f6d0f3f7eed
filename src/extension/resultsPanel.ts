/**
 * The results panel: one webview per result file, beside the active editor. It follows its
 * file, so an analysis that rewrites the file after each finished order shows up live, and it
 * comes back after a window reload through the panel serializer (the path is in the webview state).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportNotification, openDocsNotification, readyNotification, RESULTS_VIEW_TYPE, type ResultsWebviewState, showResultNotification, type ShowResultParams } from '../shared/webviewProtocol';
import { readResultFile } from './resultFile';
import { openDocs, saveExport, watchFiles, webviewOptions, webviewPage } from './webviewHost';

export class ResultsPanel {
  static readonly viewType = RESULTS_VIEW_TYPE;
  private static readonly open = new Map<string, ResultsPanel>();

  private readonly _disposables: vscode.Disposable[] = [];
  private ready = false;
  private disposed = false;
  /** The file read while the page loads, so the first message goes out as soon as the page says it is ready. */
  private prefetched: Promise<ShowResultParams> | undefined;

  static createOrShow(extension: vscode.ExtensionContext, resultUri: vscode.Uri): ResultsPanel {
    const key = resultUri.fsPath;
    const existing = ResultsPanel.open.get(key);
    if (existing) {
      existing.panel.reveal(undefined, false);
      existing.reload();
      return existing;
    }
    // A new analysis joins the group that already shows results instead of splitting the editor again.
    const column = [...ResultsPanel.open.values()].map((p) => p.panel.viewColumn).find((c) => c !== undefined) ?? vscode.ViewColumn.Beside;
    const panel = vscode.window.createWebviewPanel(ResultsPanel.viewType, ResultsPanel.title(resultUri), column, webviewOptions(extension));
    return new ResultsPanel(panel, extension, resultUri);
  }

  /** Reopens a panel VS Code restored after a reload; without a path in its state it closes. */
  static revive(panel: vscode.WebviewPanel, extension: vscode.ExtensionContext, state: ResultsWebviewState | undefined): void {
    if (!state?.resultPath) {
      panel.dispose();
      return;
    }
    const uri = vscode.Uri.file(state.resultPath);
    const existing = ResultsPanel.open.get(uri.fsPath);
    if (existing) {
      panel.dispose();
      existing.panel.reveal();
      return;
    }
    panel.webview.options = webviewOptions(extension);
    new ResultsPanel(panel, extension, uri);
  }

  static registerSerializer(extension: vscode.ExtensionContext): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(ResultsPanel.viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => ResultsPanel.revive(panel, extension, state as ResultsWebviewState | undefined),
    });
  }

  private static title(uri: vscode.Uri): string {
    return `Feature complexity: ${path.basename(uri.fsPath, '.json')}`;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extension: vscode.ExtensionContext,
    private readonly resultUri: vscode.Uri,
  ) {
    ResultsPanel.open.set(resultUri.fsPath, this);
    panel.iconPath = vscode.Uri.joinPath(extension.extensionUri, 'media', 'icon.png');
    panel.webview.html = webviewPage(panel.webview, extension, ResultsPanel.title(resultUri));
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this._disposables);

    // Several change events arrive for one atomic rewrite (temp file + rename); read once after they settle.
    this._disposables.push(watchFiles([resultUri.fsPath], () => this.reload()));
    this.prefetched = this.read();
  }

  get fsPath(): string {
    return this.resultUri.fsPath;
  }

  /** Reads the file again; the webview redraws in place. */
  reload(): void {
    if (this.ready) void this.send();
    else this.prefetched = this.read();
  }

  private async send(): Promise<void> {
    const msg = await (this.prefetched ?? this.read());
    this.prefetched = undefined;
    if (!this.disposed) await this.panel.webview.postMessage(showResultNotification.message(msg));
  }

  private async read(): Promise<ShowResultParams> {
    const msg: ShowResultParams = { path: this.resultUri.fsPath, fileName: path.basename(this.resultUri.fsPath), warnings: [], readAt: new Date().toISOString() };
    try {
      const loaded = await readResultFile(this.resultUri.fsPath);
      msg.result = loaded.result;
      msg.warnings = loaded.warnings;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      msg.error = err.code === 'ENOENT' ? 'the file does not exist (deleted or moved)' : err.message;
    }
    return msg;
  }

  private onMessage(m: unknown): void {
    if (readyNotification.is(m)) {
      this.ready = true;
      void this.send();
    } else if (exportNotification.is(m)) {
      void saveExport(m.params, path.dirname(this.resultUri.fsPath));
    } else if (openDocsNotification.is(m)) {
      void openDocs(this.extension, m.params);
    }
  }

  dispose(): void {
    // panel.dispose() fires onDidDispose, which lands here again.
    if (this.disposed) return;
    this.disposed = true;
    ResultsPanel.open.delete(this.resultUri.fsPath);
    this.panel.dispose();
    while (this._disposables.length) this._disposables.pop()?.dispose();
  }
}
