/**
 * The analyses stored in the workspace: every `<resultsFolder>/*.json`, watched for changes.
 * Keeps only what lists and one-line displays need; the panel reads the whole file itself.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { summarize, type Summary, type SummarySource } from '../analysis/summary';
import { settings } from './config';

export interface StoredAnalysis {
  uri: vscode.Uri;
  checkpoint: string;
  targetLayer?: string;
  budget?: string;
  createdAt: number;
  complete: boolean;
  summary: Summary;
}

interface ResultHead extends SummarySource {
  schemaVersion?: number;
  checkpoint?: { path?: string };
  targetLayer?: string;
  budget?: string;
  createdAt?: string;
}

export class ResultsStore implements vscode.Disposable {
  private readonly analyses = new Map<string, StoredAnalysis>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  private readonly ready: Promise<void>;

  constructor() {
    const pattern = `**/${settings().resultsFolder}/*.json`;
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    watcher.onDidCreate((u) => void this.load(u), undefined, this.disposables);
    watcher.onDidChange((u) => void this.load(u), undefined, this.disposables);
    watcher.onDidDelete((u) => this.forget(u), undefined, this.disposables);
    this.disposables.push(watcher);
    this.ready = this.loadAll(pattern);
  }

  private async loadAll(pattern: string): Promise<void> {
    const uris = await vscode.workspace.findFiles(pattern, '**/node_modules/**');
    await Promise.all(uris.map((u) => this.load(u, false)));
    this.emitter.fire();
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  private async load(uri: vscode.Uri, notify = true): Promise<void> {
    if (path.basename(uri.fsPath) === 'links.json' || uri.fsPath.endsWith('.tmp')) return;
    try {
      const raw = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8')) as ResultHead;
      if (raw.schemaVersion !== 1 || !raw.checkpoint?.path || !Array.isArray(raw.components)) return;
      const stat = await vscode.workspace.fs.stat(uri);
      this.analyses.set(uri.toString(), {
        uri,
        checkpoint: raw.checkpoint.path,
        targetLayer: raw.targetLayer,
        budget: raw.budget,
        createdAt: raw.createdAt ? Date.parse(raw.createdAt) : stat.mtime,
        complete: raw.complete !== false,
        summary: summarize(raw),
      });
    } catch {
      // A file being written, or not ours: it is picked up by the next change event.
      return;
    }
    if (notify) this.emitter.fire();
  }

  private forget(uri: vscode.Uri): void {
    if (this.analyses.delete(uri.toString())) this.emitter.fire();
  }

  all(): StoredAnalysis[] {
    return [...this.analyses.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The newest analysis of a checkpoint. */
  latestFor(checkpoint: string): StoredAnalysis | undefined {
    return this.all().find((a) => path.resolve(a.checkpoint) === path.resolve(checkpoint));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
