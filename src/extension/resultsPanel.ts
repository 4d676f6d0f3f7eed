/**
 * The results panel: one webview per result file, beside the active editor. It follows its
 * file, so an analysis that rewrites the file after each finished order shows up live, and it
 * comes back after a window reload through the panel serializer (the path is in the webview state).
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { makeNonce, resultsPageHtml } from '../webview/html';
import { exportNotification, type ExportParams, readyNotification, RESULTS_VIEW_TYPE, type ResultsWebviewState, showResultNotification, type ShowResultParams } from '../webview/protocol';
import { readResultFile } from './resultsModel';

/** Several change events arrive for one atomic rewrite (temp file + rename); read once after they settle. */
const RELOAD_DELAY_MS = 150;

export class ResultsPanel {
  static readonly viewType = RESULTS_VIEW_TYPE;
  private static readonly open = new Map<string, ResultsPanel>();

  private readonly _disposables: vscode.Disposable[] = [];
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private disposed = false;

  static createOrShow(extension: vscode.ExtensionContext, resultUri: vscode.Uri): ResultsPanel {
    const key = resultUri.fsPath;
    const existing = ResultsPanel.open.get(key);
    if (existing) {
      existing.panel.reveal(undefined, false);
      existing.reload();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(ResultsPanel.viewType, ResultsPanel.title(resultUri), vscode.ViewColumn.Beside, ResultsPanel.options(extension));
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
    panel.webview.options = ResultsPanel.options(extension);
    new ResultsPanel(panel, extension, uri);
  }

  static registerSerializer(extension: vscode.ExtensionContext): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(ResultsPanel.viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => ResultsPanel.revive(panel, extension, state as ResultsWebviewState | undefined),
    });
  }

  private static options(extension: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extension.extensionUri, 'dist'), vscode.Uri.joinPath(extension.extensionUri, 'media')],
    };
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
    panel.webview.html = this.html();
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this._disposables);

    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(resultUri.fsPath)), path.basename(resultUri.fsPath)));
    watcher.onDidChange(() => this.reload(), null, this._disposables);
    watcher.onDidCreate(() => this.reload(), null, this._disposables);
    watcher.onDidDelete(() => this.reload(), null, this._disposables);
    this._disposables.push(watcher);
  }

  get fsPath(): string {
    return this.resultUri.fsPath;
  }

  private html(): string {
    const webview = this.panel.webview;
    const asUri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(this.extension.extensionUri, ...p)).toString();
    return resultsPageHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce((n) => randomBytes(n)),
      scriptUri: asUri('dist', 'webview.js'),
      styleUri: asUri('media', 'webview.css'),
      title: ResultsPanel.title(this.resultUri),
    });
  }

  /** Reads the file again soon; the webview redraws in place. */
  reload(): void {
    if (!this.ready) return;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.send(), RELOAD_DELAY_MS);
  }

  private async send(): Promise<void> {
    this.reloadTimer = undefined;
    const msg: ShowResultParams = { path: this.resultUri.fsPath, fileName: path.basename(this.resultUri.fsPath), warnings: [], readAt: new Date().toISOString() };
    try {
      const loaded = await readResultFile(this.resultUri.fsPath);
      msg.result = loaded.result;
      msg.warnings = loaded.warnings;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      msg.error = err.code === 'ENOENT' ? 'the file does not exist (deleted or moved)' : err.message;
    }
    await this.panel.webview.postMessage(showResultNotification.message(msg));
  }

  private onMessage(m: unknown): void {
    if (readyNotification.is(m)) {
      this.ready = true;
      void this.send();
    } else if (exportNotification.is(m)) {
      void this.save(m.params);
    }
  }

  private async save(p: ExportParams): Promise<void> {
    const filters: Record<ExportParams['format'], Record<string, string[]>> = {
      csv: { 'CSV table': ['csv'] },
      json: { JSON: ['json'] },
      png: { 'PNG image': ['png'] },
    };
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(path.dirname(this.resultUri.fsPath), path.basename(p.suggestedName))),
      filters: filters[p.format],
      saveLabel: 'Export',
    });
    if (!target) return;
    let bytes: Uint8Array;
    if (p.format === 'png') {
      const m = /^data:image\/png;base64,(.*)$/s.exec(p.content);
      if (!m) {
        void vscode.window.showErrorMessage('Feature Complexity: the chart image could not be read from the panel.');
        return;
      }
      bytes = Buffer.from(m[1], 'base64');
    } else {
      bytes = Buffer.from(p.content, 'utf8');
    }
    try {
      await vscode.workspace.fs.writeFile(target, bytes);
      void vscode.window.showInformationMessage(`Feature Complexity: saved ${path.basename(target.fsPath)}.`, 'Reveal').then((a) => a && vscode.commands.executeCommand('revealFileInOS', target));
    } catch (e) {
      void vscode.window.showErrorMessage(`Feature Complexity: could not save ${target.fsPath}: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    // panel.dispose() fires onDidDispose, which lands here again.
    if (this.disposed) return;
    this.disposed = true;
    ResultsPanel.open.delete(this.resultUri.fsPath);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.panel.dispose();
    while (this._disposables.length) this._disposables.pop()?.dispose();
  }
}
