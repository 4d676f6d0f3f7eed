/**
 * The "Feature Complexity" tree in the Explorer: stored analyses grouped by checkpoint, then the
 * zoos (folders of checkpoints analysed together, with a row per checkpoint), the saved
 * task-complexity calibrations and the saved predictions, each group under its own row.
 * A click opens the file in its view. The rows' content comes from analysesModel.ts.
 */
import * as fs from 'node:fs';
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
  ZOOS_LABEL,
  zooRowView,
  zooView,
} from './analysesModel';
import type { ResultsStore } from './resultsStore';
import type { Zoos } from './zoos';
import { checkpointName } from '../../shared/naming';
import type { ZooRowState } from '../../shared/files/zoo';

export type AnalysesNode = TreeNode<vscode.Uri>;

const when = (createdAt: number) => new Date(createdAt).toLocaleString();

/** The colours of the test explorer's icons: a finished row green, a failed one red. */
const STATE_COLOURS: Partial<Record<ZooRowState, string>> = { done: 'testing.iconPassed', failed: 'testing.iconFailed', queued: 'testing.iconQueued' };

export class AnalysesTree implements vscode.TreeDataProvider<AnalysesNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subs: vscode.Disposable[];

  constructor(
    private readonly store: ResultsStore,
    private readonly zoos: Zoos,
  ) {
    this.subs = [store.onDidChange(() => this.emitter.fire()), zoos.onDidChange(() => this.emitter.fire())];
  }

  getChildren(node?: AnalysesNode): AnalysesNode[] {
    return node ? childNodes(node) : rootNodes(this.store.all(), this.store.calibrations(), this.store.predictions(), this.zoos.all());
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
      case 'zoos': {
        const item = new vscode.TreeItem(ZOOS_LABEL, vscode.TreeItemCollapsibleState.Expanded);
        item.id = 'zoos';
        item.description = String(node.zoos.length);
        item.iconPath = new vscode.ThemeIcon('folder-library');
        item.contextValue = 'zoos';
        return item;
      }
      case 'zoo': {
        const v = zooView(node.zoo);
        const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.Expanded);
        // Ids keep a zoo's expansion as its counts change.
        item.id = `zoo:${node.zoo.dir}`;
        item.description = v.description;
        item.tooltip = v.tooltip;
        item.iconPath = new vscode.ThemeIcon('folder-library');
        item.contextValue = v.contextValue;
        return item;
      }
      case 'zooRow': {
        const v = zooRowView(node.row);
        const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.None);
        item.id = `zoo:${node.zoo.dir}:${node.row.index}`;
        item.description = v.description;
        item.tooltip = v.tooltip;
        const colour = STATE_COLOURS[node.row.state];
        item.iconPath = new vscode.ThemeIcon(v.icon, colour ? new vscode.ThemeColor(colour) : undefined);
        item.contextValue = v.contextValue;
        if (v.open?.what === 'result')
          item.command = { command: 'featureComplexity.openResults', title: 'Open Results', arguments: [vscode.Uri.file(v.open.path)] };
        // A Slurm task that never started has no log to open.
        else if (v.open && fs.existsSync(v.open.path)) {
          item.command = { command: 'vscode.open', title: 'Open Log', arguments: [vscode.Uri.file(v.open.path)] };
          item.tooltip = `${v.tooltip}\nClick to open ${v.open.path}`;
        }
        return item;
      }
    }
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }
}
