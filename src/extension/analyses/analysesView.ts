/**
 * The "Feature Complexity" tree in the Explorer: stored analyses grouped by checkpoint, then the
 * saved task-complexity calibrations and the saved predictions, each group under its own row.
 * A click opens the file in its view. The rows' content comes from analysesModel.ts.
 */
import * as vscode from 'vscode';
import { formatSummary } from '../../shared/summary';
import {
  analysisDescription,
  calibrationDescription,
  childNodes,
  GROUP_LABELS,
  ordersText,
  predictionDescription,
  rootNodes,
  type TreeNode,
} from './analysesModel';
import type { ResultsStore } from './resultsStore';
import { checkpointName } from '../../shared/naming';

export type AnalysesNode = TreeNode<vscode.Uri>;

const when = (createdAt: number) => new Date(createdAt).toLocaleString();

export class AnalysesTree implements vscode.TreeDataProvider<AnalysesNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: ResultsStore) {
    this.sub = store.onDidChange(() => this.emitter.fire());
  }

  getChildren(node?: AnalysesNode): AnalysesNode[] {
    return node ? childNodes(node) : rootNodes(this.store.all(), this.store.calibrations(), this.store.predictions());
  }

  getTreeItem(node: AnalysesNode): vscode.TreeItem {
    switch (node.kind) {
      case 'checkpoint': {
        const base = checkpointName(node.checkpoint);
        const item = new vscode.TreeItem(base, vscode.TreeItemCollapsibleState.Expanded);
        item.description = formatSummary(node.analyses[0].summary);
        item.tooltip = node.checkpoint;
        item.iconPath = new vscode.ThemeIcon('symbol-class');
        item.resourceUri = vscode.Uri.file(node.checkpoint);
        item.contextValue = 'checkpoint';
        return item;
      }
      case 'analysis': {
        const a = node.analysis;
        const item = new vscode.TreeItem(when(a.createdAt), vscode.TreeItemCollapsibleState.None);
        item.description = analysisDescription(a);
        const state = a.complete ? '' : `\n\n*${ordersText(a)[0].toUpperCase()}${ordersText(a).slice(1)} finished: cancelled, stopped, or still running.*`;
        item.tooltip = new vscode.MarkdownString(`**${vscode.workspace.asRelativePath(a.uri)}**\n\n${formatSummary(a.summary)}${state}`);
        item.iconPath = new vscode.ThemeIcon(a.complete ? 'graph' : 'warning');
        item.contextValue = 'analysis';
        item.command = { command: 'featureComplexity.openResults', title: 'Open', arguments: [a.uri] };
        return item;
      }
      case 'group': {
        const item = new vscode.TreeItem(GROUP_LABELS[node.group], vscode.TreeItemCollapsibleState.Expanded);
        item.description = String(node.files.length);
        item.iconPath = new vscode.ThemeIcon(node.group === 'calibrations' ? 'pulse' : 'graph-line');
        item.contextValue = node.group;
        return item;
      }
      case 'calibration': {
        const c = node.calibration;
        const item = new vscode.TreeItem(when(c.createdAt), vscode.TreeItemCollapsibleState.None);
        item.description = calibrationDescription(c);
        item.tooltip = new vscode.MarkdownString(
          `**${vscode.workspace.asRelativePath(c.uri)}**\n\nCentre of mass of ρ per task net depth k${c.budget ? ` (budget ${c.budget})` : ''}: ${calibrationDescription(c)}`,
        );
        item.iconPath = new vscode.ThemeIcon('pulse');
        item.contextValue = 'calibration';
        item.command = { command: 'featureComplexity.openCalibration', title: 'Open', arguments: [c.uri] };
        return item;
      }
      case 'prediction': {
        const p = node.prediction;
        const item = new vscode.TreeItem(p.fileName.replace(/\.json$/i, ''), vscode.TreeItemCollapsibleState.None);
        item.description = predictionDescription(p);
        item.tooltip = new vscode.MarkdownString(
          `**${vscode.workspace.asRelativePath(p.uri)}**\n\nPredicting test ${p.target}: ${predictionDescription(p)} (cross-validated mean absolute error)`,
        );
        item.iconPath = new vscode.ThemeIcon('graph-line');
        item.contextValue = 'prediction';
        item.command = { command: 'featureComplexity.openPrediction', title: 'Open', arguments: [p.uri] };
        return item;
      }
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
