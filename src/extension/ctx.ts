/** What every command needs: the engine, the log, the status bar item, the running analysis, the zoos and their CLI. */
import * as vscode from 'vscode';
import type { EngineClient } from './engine/engine';
import type { Links } from './analyses/links';
import type { ResultsStore } from './analyses/resultsStore';
import type { Zoos } from './analyses/zoos';
import type { ZooCli } from './engine/zooCli';

export class Ctx implements vscode.Disposable {
  private current: vscode.CancellationTokenSource | undefined;

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly engine: EngineClient,
    readonly log: vscode.LogOutputChannel,
    readonly status: vscode.StatusBarItem,
    readonly store: ResultsStore,
    readonly links: Links,
    readonly zoos: Zoos,
    readonly zooCli: ZooCli,
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  setRunning(cts: vscode.CancellationTokenSource | undefined): void {
    this.current = cts;
    void vscode.commands.executeCommand('setContext', 'featureComplexity.running', cts !== undefined);
    if (cts) {
      this.status.text = '$(beaker~spin) Feature complexity: starting';
      this.status.tooltip = 'An analysis is running. Click to cancel.';
      this.status.command = 'featureComplexity.cancel';
      this.status.show();
    } else {
      this.status.hide();
    }
  }

  cancelRunning(): boolean {
    if (!this.current) return false;
    this.current.cancel();
    return true;
  }

  dispose(): void {
    this.current?.cancel();
  }
}
