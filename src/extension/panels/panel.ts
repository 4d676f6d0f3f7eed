/**
 * The one life cycle of every webview panel: open beside the editor or reveal the one that
 * already shows the same thing, send the view's message once the page says it is ready (read
 * while the page loads), follow the files it shows so a rewrite shows up live, answer export and
 * docs links, and come back after a window reload through a panel serializer. What differs per
 * view is a `PanelView` (resultsPanel.ts, viewsPanel.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportNotification, openDocsNotification, readyNotification } from '../../shared/webviewProtocol';
import type { PageOptions } from './pageHtml';
import { openDocs, saveExport, watchFiles, webviewOptions, webviewPage } from './webviewHost';

/** What one kind of panel shows, for a source `S` (what the panel is of: a file, a set of files, a report). */
export interface PanelView<S> {
  viewType: string;
  /** The webview bundle (dist/webview-<page>.js). */
  page: PageOptions['view'];
  /** Panels with the same key are one panel. */
  key(source: S): string;
  title(source: S): string;
  /** Files to follow; a change sends the message again. */
  files(source: S): string[];
  /** The message that shows `source` in the page. */
  message(source: S): Promise<unknown>;
  /** The folder the export dialog opens in. */
  exportFolder(source: S): string | undefined;
  /** The source of a panel restored after a reload, from the state its page saved; undefined closes it. */
  revive(state: unknown): S | undefined;
  /** Where a new panel opens (default: beside the active editor). */
  column?(open: readonly vscode.WebviewPanel[]): vscode.ViewColumn;
  /** Messages of this view beyond ready, export and docs. */
  onMessage?(message: unknown, source: S): void;
}

const openPanels = new Map<string, Panel<unknown>>();

export class Panel<S> {
  private readonly disposables: vscode.Disposable[] = [];
  private watcher: vscode.Disposable | undefined;
  private ready = false;
  private disposed = false;
  /** The message read while the page loads, so it goes out as soon as the page is ready. */
  private prefetched: Promise<unknown> | undefined;

  /** Opens the panel of `source`, or reveals and refreshes the one that already shows it. */
  static show<S>(extension: vscode.ExtensionContext, view: PanelView<S>, source: S): Panel<S> {
    const existing = openPanels.get(Panel.id(view, source)) as Panel<S> | undefined;
    if (existing) {
      existing.source = source;
      existing.panel.reveal(undefined, false);
      existing.refresh();
      return existing;
    }
    const mine = [...openPanels.values()].filter((p) => p.view.viewType === view.viewType).map((p) => p.panel);
    const column = view.column?.(mine) ?? vscode.ViewColumn.Beside;
    const panel = vscode.window.createWebviewPanel(view.viewType, view.title(source), column, webviewOptions(extension));
    return new Panel(panel, extension, view, source);
  }

  /** Restores the view's panels after a window reload. */
  static registerSerializer<S>(extension: vscode.ExtensionContext, view: PanelView<S>): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(view.viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
        const source = view.revive(state);
        const existing = source === undefined ? undefined : openPanels.get(Panel.id(view, source));
        if (source === undefined || existing) {
          panel.dispose();
          existing?.panel.reveal();
          return;
        }
        panel.webview.options = webviewOptions(extension);
        new Panel(panel, extension, view, source);
      },
    });
  }

  private static id<S>(view: PanelView<S>, source: S): string {
    return `${view.viewType}\n${view.key(source)}`;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extension: vscode.ExtensionContext,
    private readonly view: PanelView<S>,
    private source: S,
  ) {
    openPanels.set(Panel.id(view, source), this as Panel<unknown>);
    panel.iconPath = vscode.Uri.joinPath(extension.extensionUri, 'media', 'icon.png');
    panel.webview.html = webviewPage(panel.webview, extension, view.title(source), view.page);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m), null, this.disposables);
    this.watch();
    this.prefetched = view.message(source);
  }

  private watch(): void {
    this.watcher?.dispose();
    const files = this.view.files(this.source);
    // Several change events arrive for one atomic rewrite (temp file + rename); watchFiles reads once after they settle.
    this.watcher = files.length ? watchFiles(files, () => this.refresh()) : undefined;
  }

  /** Reads again what the panel shows; the page redraws in place. */
  private refresh(): void {
    this.panel.title = this.view.title(this.source);
    if (this.ready) void this.send();
    else this.prefetched = this.view.message(this.source);
  }

  private async send(): Promise<void> {
    const message = await (this.prefetched ?? this.view.message(this.source));
    this.prefetched = undefined;
    if (!this.disposed) await this.panel.webview.postMessage(message);
  }

  private onMessage(m: unknown): void {
    if (readyNotification.is(m)) {
      this.ready = true;
      void this.send();
    } else if (exportNotification.is(m)) {
      const folder = this.view.exportFolder(this.source) ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
      void saveExport(m.params, folder);
    } else if (openDocsNotification.is(m)) {
      void openDocs(this.extension, m.params);
    } else {
      this.view.onMessage?.(m, this.source);
    }
  }

  dispose(): void {
    // panel.dispose() fires onDidDispose, which lands here again.
    if (this.disposed) return;
    this.disposed = true;
    openPanels.delete(Panel.id(this.view, this.source));
    this.watcher?.dispose();
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

/** Why a file could not be read, in words. */
export function readError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'the file does not exist (deleted or moved)' : err.message;
}

/** The folder of a file, for the export dialog. */
export const folderOf = (file: string | undefined): string | undefined => (file ? path.dirname(file) : undefined);
