/** The "Feature Complexity" tree in the Explorer: stored analyses grouped by checkpoint. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatSummary } from '../analysis/summary';
import type { ResultsStore, StoredAnalysis } from './resultsStore';

export type AnalysesNode = { kind: 'checkpoint'; checkpoint: string; analyses: StoredAnalysis[] } | { kind: 'analysis'; analysis: StoredAnalysis };

export class AnalysesTree implements vscode.TreeDataProvider<AnalysesNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: ResultsStore) {
    this.sub = store.onDidChange(() => this.emitter.fire());
  }

  getChildren(node?: AnalysesNode): AnalysesNode[] {
    if (!node) {
      const byCheckpoint = new Map<string, StoredAnalysis[]>();
      for (const a of this.store.all()) byCheckpoint.set(a.checkpoint, [...(byCheckpoint.get(a.checkpoint) ?? []), a]);
      return [...byCheckpoint].map(([checkpoint, analyses]) => ({ kind: 'checkpoint', checkpoint, analyses }));
    }
    return node.kind === 'checkpoint' ? node.analyses.map((analysis) => ({ kind: 'analysis', analysis })) : [];
  }

  getTreeItem(node: AnalysesNode): vscode.TreeItem {
    if (node.kind === 'checkpoint') {
      const base = path.basename(node.checkpoint) === 'model.json' ? path.basename(path.dirname(node.checkpoint)) : path.basename(node.checkpoint);
      const item = new vscode.TreeItem(base, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${formatSummary(node.analyses[0].summary)}`;
      item.tooltip = node.checkpoint;
      item.iconPath = new vscode.ThemeIcon('symbol-class');
      item.resourceUri = vscode.Uri.file(node.checkpoint);
      item.contextValue = 'checkpoint';
      return item;
    }
    const a = node.analysis;
    const item = new vscode.TreeItem(new Date(a.createdAt).toLocaleString(), vscode.TreeItemCollapsibleState.None);
    item.description = `${a.budget ?? ''} ${a.targetLayer ?? ''} · ${formatSummary(a.summary)}`;
    item.tooltip = new vscode.MarkdownString(`**${vscode.workspace.asRelativePath(a.uri)}**\n\n${formatSummary(a.summary)}${a.complete ? '' : '\n\n*Incomplete: cancelled or stopped before all orders finished.*'}`);
    item.iconPath = new vscode.ThemeIcon(a.complete ? 'graph' : 'warning');
    item.contextValue = 'analysis';
    item.command = { command: 'featureComplexity.openResults', title: 'Open', arguments: [a.uri] };
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
