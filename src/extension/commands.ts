/** Every command of the extension, in one table: id → factory taking the shared context. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from './config';
import { resultFileName } from '../shared/naming';
import { capabilitiesRequest } from '../shared/engineProtocol';
import { analyzeCommand } from './flows/analyzeFlow';
import type { AnalysesNode } from './analyses/analysesView';
import type { Ctx } from './ctx';
import { findModelDefinitions } from './analyses/modelDefinitions';
import { describeEngineError } from './engine/engine';
import { showResults } from './panels/resultsPanel';
import { analyzeFolderCommand, cancelZooCommand, resubmitZooCommand, runZooAgainCommand } from './flows/zooFlow';
import { compareCommand, openCalibration, openPrediction, predictCommand, taskComplexityCommand } from './flows/viewCommands';

type Command = (ctx: Ctx) => (...args: never[]) => unknown;

const showCapabilities: Command = (ctx) => async () => {
  try {
    const caps = await ctx.engine.request(capabilitiesRequest);
    ctx.log.info(`[host] engine ${caps.engineVersion} on node ${caps.nodeVersion} (${caps.platform}), pid ${ctx.engine.pid}`);
    for (const b of caps.backends) ctx.log.info(`[host]   ${b.available ? 'available  ' : 'unavailable'} ${b.name}: ${b.detail}`);
    const available = caps.backends.filter((b) => b.available).map((b) => b.name);
    void vscode.window
      .showInformationMessage(
        `Feature Complexity engine ${caps.engineVersion}: backends available: ${available.join(', ') || 'none'} (auto uses ${caps.autoBackend}).`,
        'Show Details',
      )
      .then((a) => a && ctx.log.show());
  } catch (e) {
    void vscode.window.showErrorMessage(`Feature Complexity: ${describeEngineError(e)}`, 'Show Log').then((a) => a && ctx.log.show());
  }
};

const openResults: Command = (ctx) => async (arg?: vscode.Uri | AnalysesNode) => {
  // A tree row's click passes its Uri; the row's context menu passes the row itself.
  const given = arg instanceof vscode.Uri ? arg : arg?.kind === 'analysis' ? arg.analysis.uri : undefined;
  const target =
    given ??
    (
      await vscode.window.showOpenDialog({
        canSelectMany: false,
        filters: { 'Analysis results': ['json'] },
        defaultUri: vscode.workspace.workspaceFolders?.[0] && vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, '.feature-complexity'),
      })
    )?.[0];
  if (!target) return;
  showResults(ctx.extension, target);
};

/** Links the model definition under the cursor (or the one given by a CodeLens) to a checkpoint. */
const linkCheckpoint: Command = (ctx) => async (doc?: vscode.Uri, name?: string, analyzeAfter?: boolean) => {
  const editor = vscode.window.activeTextEditor;
  const uri = doc ?? editor?.document.uri;
  if (!uri) return;
  let defName = name;
  if (!defName && editor) {
    const defs = findModelDefinitions(editor.document.getText(), editor.document.languageId).filter((d) => d.line <= editor.selection.active.line);
    defName = defs[defs.length - 1]?.name;
  }
  if (!defName) {
    void vscode.window.showWarningMessage(
      'Feature Complexity: put the cursor on a model definition (an nn.Module or Keras Model class, Sequential(...), tf.sequential(...)).',
    );
    return;
  }
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    title: `Checkpoint of ${defName}`,
    filters: { Checkpoints: ['json', 'h5', 'keras', 'onnx', 'pt', 'pth'] },
    openLabel: 'Link',
  });
  if (!picked?.[0]) return;
  await ctx.links.link(uri, defName, picked[0].fsPath);
  if (analyzeAfter) await vscode.commands.executeCommand('featureComplexity.analyze', picked[0]);
};

const deleteAnalysis: Command = () => async (node?: AnalysesNode) => {
  if (node?.kind !== 'analysis') return;
  const name = vscode.workspace.asRelativePath(node.analysis.uri);
  const ok = await vscode.window.showWarningMessage(`Delete the analysis ${name}?`, { modal: true }, 'Delete');
  if (ok === 'Delete') await vscode.workspace.fs.delete(node.analysis.uri, { useTrash: true });
};

/** The inline re-run of an analysis or checkpoint row (the manifest shows it on those rows only): the checkpoint is analysed again. */
/**
 * The walkthrough's first step: the demo CNN shipped in media/demo (the engine's `demo` teacher,
 * seed 0) on the Fashion-MNIST subset beside it, with the quick budget and no questions. The
 * result goes to the workspace's results folder (the Feature Complexity view lists it), or to the
 * extension's storage when no folder is open.
 */
const analyzeDemo: Command = (ctx) => async () => {
  const demo = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'demo');
  const checkpoint = vscode.Uri.joinPath(demo, 'demo-cnn', 'model.json');
  const folder = vscode.workspace.workspaceFolders?.[0];
  const dir = folder ? path.join(folder.uri.fsPath, settings(folder.uri).resultsFolder) : ctx.extension.globalStorageUri.fsPath;
  await analyzeCommand(ctx, checkpoint, {
    data: vscode.Uri.joinPath(demo, 'fashion-mnist').fsPath,
    budget: 'quick',
    out: path.join(dir, resultFileName(checkpoint.fsPath)),
  });
};

const rerunAnalysis: Command = () => async (node?: AnalysesNode) => {
  const checkpoint = node?.kind === 'analysis' ? node.analysis.checkpoint : node?.kind === 'checkpoint' ? node.checkpoint : undefined;
  if (checkpoint) await vscode.commands.executeCommand('featureComplexity.analyze', vscode.Uri.file(checkpoint));
};

export const COMMANDS: Record<string, Command> = {
  'featureComplexity.analyze': (ctx) => (uri?: vscode.Uri) => analyzeCommand(ctx, uri),
  'featureComplexity.analyzeDemo': analyzeDemo,
  'featureComplexity.analyzeFolder': (ctx) => (uri?: vscode.Uri) => analyzeFolderCommand(ctx, uri instanceof vscode.Uri ? uri : undefined),
  // The zoo rows' menu of the Feature Complexity view: hidden from the palette.
  'featureComplexity.cancelZoo': (ctx) => (node?: unknown) => cancelZooCommand(ctx, node),
  'featureComplexity.runZooAgain': (ctx) => (node?: unknown) => runZooAgainCommand(ctx, node),
  'featureComplexity.resubmitZoo': (ctx) => (node?: unknown) => resubmitZooCommand(ctx, node),
  'featureComplexity.openResults': openResults,
  'featureComplexity.compare': (ctx) => (arg?: unknown, selection?: unknown) => compareCommand(ctx, arg, selection),
  'featureComplexity.taskComplexity': (ctx) => () => taskComplexityCommand(ctx),
  'featureComplexity.openCalibration': (ctx) => (uri?: vscode.Uri) => uri && openCalibration(ctx, uri),
  // Not in the manifest: the Predictions rows of the Feature Complexity view call it with their file.
  'featureComplexity.openPrediction': (ctx) => (uri?: vscode.Uri) => uri && openPrediction(ctx, uri),
  'featureComplexity.predict': (ctx) => (arg?: unknown) => predictCommand(ctx, arg),
  'featureComplexity.showCapabilities': showCapabilities,
  'featureComplexity.showLog': (ctx) => () => ctx.log.show(),
  'featureComplexity.cancel': (ctx) => () => {
    if (!ctx.cancelRunning()) void vscode.window.showInformationMessage('Feature Complexity: no analysis is running.');
  },
  'featureComplexity.linkCheckpoint': linkCheckpoint,
  'featureComplexity.deleteAnalysis': deleteAnalysis,
  'featureComplexity.rerunAnalysis': rerunAnalysis,
  'featureComplexity.restartEngine': (ctx) => async () => {
    await ctx.engine.stop();
    void vscode.window.showInformationMessage('Feature Complexity: the engine was stopped; it starts again with the next command.');
  },
};
