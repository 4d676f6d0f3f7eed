/**
 * What every webview panel of the extension shares on the host side: its options (scripts on,
 * local resources limited to dist/ and media/), its page with a fresh nonce and the strict CSP,
 * and the save dialog behind the webview's export buttons.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { makeNonce, type PageOptions, resultsPageHtml } from './pageHtml';
import { DOCS_PAGES, type ExportParams, type OpenDocsParams } from '../../shared/webviewProtocol';

export function webviewOptions(extension: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extension.extensionUri, 'dist'), vscode.Uri.joinPath(extension.extensionUri, 'media')],
  };
}

/** The extension's files do not change while it runs: each is read once. */
const texts = new Map<string, string | undefined>();
function textOf(file: string): string | undefined {
  if (!texts.has(file)) {
    try {
      texts.set(file, readFileSync(file, 'utf8'));
    } catch {
      texts.set(file, undefined);
    }
  }
  return texts.get(file);
}

/**
 * The page of a view. Its bundle (one per view, scripts/build.mjs: the results page holds none of
 * the other views' code) and the stylesheet go into the page itself under the nonce, so the first
 * open does not wait for two fetches through the webview's service worker; the URIs are the
 * fallback when a file cannot be read.
 */
export function webviewPage(webview: vscode.Webview, extension: vscode.ExtensionContext, title: string, view: PageOptions['view'] = 'results'): string {
  const asUri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extension.extensionUri, ...p)).toString();
  const script = ['dist', `webview-${view}.js`];
  const style = ['media', 'webview.css'];
  return resultsPageHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce((n) => randomBytes(n)),
    scriptUri: asUri(...script),
    styleUri: asUri(...style),
    scriptText: textOf(path.join(extension.extensionPath, ...script)),
    styleText: textOf(path.join(extension.extensionPath, ...style)),
    title,
    view,
  });
}

/**
 * Opens a docs page of the extension (DOCS_PAGES) from its install folder: in the Markdown
 * preview, or as text where the preview is not there.
 */
export async function openDocs(extension: vscode.ExtensionContext, p: OpenDocsParams): Promise<void> {
  const rel = DOCS_PAGES[p.page];
  if (!rel) return;
  const uri = vscode.Uri.joinPath(extension.extensionUri, ...rel.split('/'));
  try {
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch {
    try {
      await vscode.window.showTextDocument(uri);
    } catch (e) {
      void vscode.window.showErrorMessage(`Feature Complexity: ${rel} could not be opened (${e instanceof Error ? e.message : String(e)}).`);
    }
  }
}

/** Asks where to save an export (proposed beside `nearFolder`) and writes it. */
export async function saveExport(p: ExportParams, nearFolder: string): Promise<void> {
  const filters: Record<ExportParams['format'], Record<string, string[]>> = {
    csv: { 'CSV table': ['csv'] },
    json: { JSON: ['json'] },
    png: { 'PNG image': ['png'] },
  };
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(nearFolder, path.basename(p.suggestedName))),
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
    void vscode.window
      .showInformationMessage(`Feature Complexity: saved ${path.basename(target.fsPath)}.`, 'Reveal')
      .then((a) => a && vscode.commands.executeCommand('revealFileInOS', target));
  } catch (e) {
    void vscode.window.showErrorMessage(`Feature Complexity: could not save ${target.fsPath}: ${(e as Error).message}`);
  }
}

/** Watches files and calls `onChange` once after a burst of events (an atomic rewrite fires several). */
export function watchFiles(paths: string[], onChange: () => void, delayMs = 150): vscode.Disposable {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, delayMs);
  };
  const watchers = paths.map((p) => {
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(p)), path.basename(p)));
    w.onDidChange(fire);
    w.onDidCreate(fire);
    w.onDidDelete(fire);
    return w;
  });
  return new vscode.Disposable(() => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.dispose();
  });
}
