/**
 * The zoos of the workspace (issue #16) as the engine sees them: `zoo list --json` per workspace
 * folder that has `.feature-complexity/zoos/`. The engine alone decides each row's state (result
 * files, row records, Slurm's queue); this only asks it again when the zoos' files change
 * (debounced), every 10 s while a row is running or queued, and every 3 s while this window runs
 * a zoo itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ZOOS_FOLDER, type ZooStatus } from '../../shared/files/zoo';
import type { ZooCli } from '../engine/zooCli';
import { cliErrorLine } from '../flows/zooArgs';
import { zooIsActive } from './analysesModel';

/** How long file events settle before the engine is asked again. */
const DEBOUNCE_MS = 1000;
/** How often the engine is asked while a row runs or waits in Slurm's queue (its files may not change: squeue may). */
const POLL_MS = 10_000;
/** How often while this window runs a zoo itself (its progress notification follows the counts; file events may come late or not at all). */
const FOLLOW_MS = 3000;

export class Zoos implements vscode.Disposable {
  private statuses = new Map<string, ZooStatus[]>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private disposed = false;
  private followers = 0;

  constructor(
    private readonly cli: ZooCli,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${ZOOS_FOLDER}/**`);
    const changed = (u: vscode.Uri) => {
      // The logs grow with every progress line; the states live in zoo.json, rows/ and results/.
      if (!/[\\/]logs[\\/]/.test(u.fsPath)) this.schedule();
    };
    watcher.onDidCreate(changed, undefined, this.disposables);
    watcher.onDidChange(changed, undefined, this.disposables);
    watcher.onDidDelete(changed, undefined, this.disposables);
    this.disposables.push(
      watcher,
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.schedule()),
    );
    void this.refresh();
  }

  /** Every zoo of every workspace folder. */
  all(): ZooStatus[] {
    return [...this.statuses.values()].flat();
  }

  /** The zoo `name` of the workspace folder `workspace`, as last listed. */
  get(workspace: string, name: string): ZooStatus | undefined {
    return this.statuses.get(path.resolve(workspace))?.find((z) => z.name === name);
  }

  /** Asks the engine every few seconds until the returned disposable is disposed (a local run of this window). */
  follow(): vscode.Disposable {
    this.followers++;
    this.schedule(FOLLOW_MS);
    return new vscode.Disposable(() => {
      this.followers--;
    });
  }

  /** Asks the engine again within a second (once, however many events come). */
  schedule(delay = DEBOUNCE_MS): void {
    if (this.disposed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, delay);
  }

  /** Asks the engine now (after the request in flight, if one is). */
  refresh(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.listAll().finally(() => {
      this.inFlight = undefined;
      if (this.again && !this.disposed) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.inFlight;
  }

  private async listAll(): Promise<void> {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => path.resolve(f.uri.fsPath));
    const next = new Map<string, ZooStatus[]>();
    await Promise.all(
      folders.map(async (ws) => {
        // No zoos folder: nothing to ask (and no process started for it).
        if (!fs.existsSync(path.join(ws, ZOOS_FOLDER))) return;
        const r = await this.cli.run('list', ['--json'], ws, { quiet: true });
        try {
          if (r.code !== 0) throw new Error(cliErrorLine(r.stderr) || `exit code ${r.code}`);
          next.set(ws, JSON.parse(r.stdout) as ZooStatus[]);
        } catch (e) {
          this.log.warn(`[host] could not list the zoos of ${ws}: ${e instanceof Error ? e.message : String(e)}`);
          const old = this.statuses.get(ws);
          if (old) next.set(ws, old);
        }
      }),
    );
    if (this.disposed) return;
    const changed = JSON.stringify([...next]) !== JSON.stringify([...this.statuses]);
    this.statuses = next;
    if (changed) this.emitter.fire();
    clearTimeout(this.poll);
    const every = this.followers > 0 ? FOLLOW_MS : this.all().some(zooIsActive) ? POLL_MS : undefined;
    this.poll = every === undefined ? undefined : setTimeout(() => void this.refresh(), every);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.debounce);
    clearTimeout(this.poll);
    for (const d of this.disposables) d.dispose();
  }
}
