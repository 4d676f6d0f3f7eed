/**
 * The files stored in the workspace's results folder (every `<resultsFolder>/*.json`, watched for
 * changes): analyses, saved task-complexity calibrations and saved predictions. Keeps only what
 * lists and one-line displays need; the panels read the whole file themselves.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type AnalysisHead, type CalibrationHead, classifyStored, createdAtOf, type PredictionHead, type StoredFile } from './analysesModel';
import { settings } from '../config';

export type StoredAnalysis = StoredFile<vscode.Uri> & AnalysisHead;
export type StoredCalibration = StoredFile<vscode.Uri> & CalibrationHead;
export type StoredPrediction = StoredFile<vscode.Uri> & PredictionHead;

interface ByKind {
  analysis: StoredAnalysis;
  calibration: StoredCalibration;
  prediction: StoredPrediction;
}
type Stored = { [K in keyof ByKind]: { kind: K; file: ByKind[K] } }[keyof ByKind];

export class ResultsStore implements vscode.Disposable {
  private readonly files = new Map<string, Stored>();
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
    const fileName = path.basename(uri.fsPath);
    if (fileName === 'links.json' || uri.fsPath.endsWith('.tmp')) return;
    try {
      const raw: unknown = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8'));
      const stored = classifyStored(fileName, raw);
      if (!stored) {
        // No longer one of ours (rewritten as something else): drop what was listed.
        this.forget(uri);
        return;
      }
      const stat = await vscode.workspace.fs.stat(uri);
      const file = { uri, fileName, createdAt: createdAtOf(fileName, raw) ?? stat.mtime };
      this.files.set(uri.toString(), { kind: stored.kind, file: { ...file, ...stored.head } } as Stored);
    } catch {
      // A file being written, or not ours: it is picked up by the next change event.
      return;
    }
    if (notify) this.emitter.fire();
  }

  private forget(uri: vscode.Uri): void {
    if (this.files.delete(uri.toString())) this.emitter.fire();
  }

  private of<K extends keyof ByKind>(kind: K): ByKind[K][] {
    const files: ByKind[K][] = [];
    for (const s of this.files.values()) if (s.kind === kind) files.push(s.file as ByKind[K]);
    return files.sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Analyses, newest first. */
  all(): StoredAnalysis[] {
    return this.of('analysis');
  }

  calibrations(): StoredCalibration[] {
    return this.of('calibration');
  }

  predictions(): StoredPrediction[] {
    return this.of('prediction');
  }

  /** The newest analysis of a checkpoint. */
  latestFor(checkpoint: string): StoredAnalysis | undefined {
    return this.all().find((a) => path.resolve(a.checkpoint) === path.resolve(checkpoint));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
