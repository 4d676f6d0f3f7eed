/**
 * "Analyze Feature Complexity": asks only what it does not know yet for this checkpoint,
 * remembers the answers, runs the engine with a cancellable progress notification.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { requireTrust } from '../trust';
import { analyzeRequest, listLayersRequest, type AnalyzeParams, type Budget, type ListLayersResponse } from '../../shared/engineProtocol';
import { settings, type Settings } from '../config';
import type { Ctx } from '../ctx';
import { describeEngineError, isCancellation } from '../engine/engine';
import { withEngineProgress } from '../engine/progress';
import { isPyTorchCheckpoint, pythonFor } from '../engine/python';
import { checkpointName, resultFileName } from '../../shared/naming';
import { BUDGET_DETAILS, BUDGETS } from '../../shared/vocabulary';

interface Answers {
  data?: string;
  layer?: string;
  budget?: Budget;
  exemplars?: string[];
  /** `module:Class` of a PyTorch state dict or pickled model. */
  modelClass?: string;
}

const answersKey = (checkpoint: string) => `featureComplexity.answers:${checkpoint}`;
const CHECKPOINT_FILTERS = { Checkpoints: ['json', 'h5', 'keras', 'onnx', 'pt', 'pth'] };

async function pickCheckpoint(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && /(^model\.json$|\.(h5|keras|onnx|pt|pth)$)/.test(path.basename(active.fsPath))) return active;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: CHECKPOINT_FILTERS, openLabel: 'Analyze' });
  return picked?.[0];
}

/** Datasets in the workspace, by what marks each format: IDX training images, CIFAR-10 binary
 *  batches, .npy folders (x_train.npy) and .npz archives. */
async function datasetCandidates(): Promise<string[]> {
  const find = (glob: string) => vscode.workspace.findFiles(glob, '**/{node_modules,.feature-complexity}/**', 20);
  const [idx, cifar, npy, npz] = await Promise.all([
    find('**/train-images-idx3-ubyte{,.gz}'),
    find('**/data_batch_1.bin'),
    find('**/x_train.npy'),
    find('**/*.npz'),
  ]);
  return [...new Set([...idx, ...cifar, ...npy].map((u) => path.dirname(u.fsPath)).concat(npz.map((u) => u.fsPath)))];
}

/**
 * The dataset of an analysis: the setting `featureComplexity.dataset`, else the user's pick from
 * the workspace's datasets or a browse (undefined when dismissed). `abort` closes the pick.
 */
export async function chooseDataset(
  cfg: Settings,
  abort?: vscode.CancellationToken,
  title = 'Dataset the checkpoint was trained on',
): Promise<string | undefined> {
  return cfg.dataset || (await pickDataset(title, abort));
}

async function pickDataset(title: string, abort?: vscode.CancellationToken): Promise<string | undefined> {
  const browse = '$(folder-opened) Browse…';
  const candidates = await datasetCandidates();
  const items: vscode.QuickPickItem[] = [
    ...candidates.map((c) => ({ label: path.basename(c), description: vscode.workspace.asRelativePath(c), detail: c })),
    { label: browse },
  ];
  const choice = await vscode.window.showQuickPick(
    items,
    { title, placeHolder: 'IDX folder (MNIST layout), CIFAR-10 folder, image folder or .npz', ignoreFocusOut: true },
    abort,
  );
  if (!choice) return undefined;
  if (choice.label !== browse) return choice.detail;
  const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: false, openLabel: 'Use dataset' });
  return picked?.[0].fsPath;
}

async function pickLayer({ layers, defaultLayer }: ListLayersResponse): Promise<string | undefined> {
  const items = layers.map((l) => ({
    label: l.name,
    description: `${l.className} → [${l.outputShape.map((d) => d ?? 'N').join(', ')}]`,
    detail: l.name === defaultLayer ? 'Default: last convolutional block before pooling / flatten' : undefined,
  }));
  const qp = vscode.window.createQuickPick<(typeof items)[number]>();
  qp.title = 'Target layer f(x)';
  qp.items = items;
  qp.activeItems = items.filter((i) => i.label === defaultLayer);
  qp.ignoreFocusOut = true;
  const choice = await new Promise<string | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]?.label ?? qp.activeItems[0]?.label));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  return choice;
}

async function pickBudget(current: Budget): Promise<Budget | undefined> {
  const budgets = BUDGETS.map((label) => ({ label, detail: BUDGET_DETAILS[label] }));
  const items = budgets.map((b) => ({ ...b, picked: b.label === current }));
  const qp = vscode.window.createQuickPick<(typeof items)[number]>();
  qp.title = 'Training budget of the disentanglers';
  qp.items = items;
  qp.activeItems = items.filter((i) => i.label === current);
  // The last of three prompts: a click elsewhere must not silently drop the dataset and layer chosen before.
  qp.ignoreFocusOut = true;
  const choice = await new Promise<Budget | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.activeItems[0]?.label));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  return choice;
}

function resultPath(checkpoint: string, folder: string): string {
  const ws = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(checkpoint))?.uri.fsPath ?? path.dirname(checkpoint);
  return path.join(ws, folder, resultFileName(checkpoint));
}

/**
 * A checkpoint analysed without questions (the bundled demo): its dataset and budget, the engine's
 * default target layer, and where the result goes.
 */
export interface AnalyzePreset {
  data: string;
  budget: Budget;
  out: string;
}

export async function analyzeCommand(ctx: Ctx, uri?: vscode.Uri, preset?: AnalyzePreset): Promise<void> {
  if (!(await requireTrust('an analysis'))) return;
  if (ctx.running) {
    void vscode.window.showWarningMessage('Feature Complexity: an analysis is already running. Cancel it first.');
    return;
  }
  const target = uri ?? (await pickCheckpoint());
  if (!target) return;
  const checkpoint = target.fsPath;
  const cfg = settings(target);
  const saved: Answers = preset ? { data: preset.data, budget: preset.budget } : (ctx.extension.workspaceState.get<Answers>(answersKey(checkpoint)) ?? {});
  // The engine reads the checkpoint while the user picks the dataset: a checkpoint it cannot load
  // closes that prompt and is reported at once, instead of after every question was answered.
  // PyTorch and ONNX checkpoints may need the dataset's image size before they can be read (an
  // export, symbolic input dims), so their layers are listed once the dataset is known.
  const needsData = /\.(pt|pth|onnx)$/i.test(checkpoint);
  const python = isPyTorchCheckpoint(checkpoint) ? await pythonFor(target) : undefined;
  let modelClass = saved.modelClass;
  const loadFailed = new vscode.CancellationTokenSource();
  let layers = saved.layer === undefined && !needsData ? ctx.engine.request(listLayersRequest, { checkpoint }) : undefined;
  layers?.catch(() => loadFailed.cancel());
  try {
    const data = saved.data ?? (await chooseDataset(cfg, loadFailed.token));
    if (!data) {
      if (loadFailed.token.isCancellationRequested) await layers;
      return;
    }
    if (saved.layer === undefined && needsData) {
      layers = ctx.engine.request(listLayersRequest, { checkpoint, data, python, modelClass });
      if (isPyTorchCheckpoint(checkpoint)) {
        try {
          await layers;
        } catch (e) {
          // A state dict or pickled model cannot be rebuilt without its class from the user's code.
          if (!/--model-class/.test(describeEngineError(e))) throw e;
          modelClass = await vscode.window.showInputBox({
            title: `Model class of ${path.basename(checkpoint)}`,
            prompt:
              "This is a state dict or a pickled model, not TorchScript: name the model's class as module:Class (imported from the checkpoint's folder), e.g. models.cnn:SmallCNN.",
            placeHolder: 'module:Class',
            ignoreFocusOut: true,
            validateInput: (v) => (/^[\w.]+:\w+$/.test(v.trim()) ? undefined : 'module:Class, e.g. models.cnn:SmallCNN'),
          });
          if (!modelClass) return;
          modelClass = modelClass.trim();
          layers = ctx.engine.request(listLayersRequest, { checkpoint, data, python, modelClass });
        }
      }
    }
    const layer = saved.layer ?? (preset ? (await layers!).defaultLayer : await pickLayer(await layers!));
    if (!layer) return;
    const budget = saved.budget ?? (await pickBudget(cfg.budget));
    if (!budget) return;
    const exemplars = saved.exemplars ?? cfg.exemplars;
    if (!preset) await ctx.extension.workspaceState.update(answersKey(checkpoint), { data, layer, budget, exemplars, modelClass } satisfies Answers);
    const params: AnalyzeParams = {
      checkpoint,
      data,
      layer,
      budget,
      exemplars,
      reliabilityMethod: cfg.reliabilityMethod,
      orders: cfg.orders,
      backend: cfg.backend,
      seed: cfg.seed,
      width: cfg.width,
      ...(cfg.threads > 0 ? { threads: cfg.threads } : {}),
      shapley: cfg.shapley,
      substitution: cfg.substitution,
      python,
      modelClass,
      out: preset?.out ?? resultPath(checkpoint, cfg.resultsFolder),
      progressToken: `analyze-${Date.now()}`,
    };
    await runAnalysis(ctx, params);
  } catch (e) {
    void vscode.window.showErrorMessage(`Feature Complexity: ${describeEngineError(e)}`, 'Show Log').then((a) => a && ctx.log.show());
  } finally {
    loadFailed.dispose();
  }
}

/** "1 of 2 orders" from a partial result file's text ("1 order" for a file that does not list its plan). */
export function finishedText(json: string): string {
  try {
    const r = JSON.parse(json) as { components?: unknown[]; plannedOrders?: unknown[] };
    const n = Array.isArray(r.components) ? r.components.length : 0;
    return Array.isArray(r.plannedOrders) ? `${n} of ${r.plannedOrders.length} orders` : `${n} order${n === 1 ? '' : 's'}`;
  } catch {
    return 'the orders that finished';
  }
}

async function runAnalysis(ctx: Ctx, params: AnalyzeParams): Promise<void> {
  const name = checkpointName(params.checkpoint);
  // The engine rewrites the result file after each finished order: the panel opens as soon as the
  // first order is there, so a long run can be read while the later orders train.
  let opened = false;
  const openWhenWritten = () => {
    if (opened || !params.out || !fs.existsSync(params.out)) return;
    opened = true;
    void vscode.commands.executeCommand('featureComplexity.openResults', vscode.Uri.file(params.out));
  };
  await withEngineProgress(
    ctx,
    `Feature complexity of ${name}`,
    params.progressToken,
    async (token) => {
      try {
        const res = await ctx.engine.request(analyzeRequest, params, token);
        opened = true;
        const doc = await vscode.workspace.openTextDocument(res.resultFile);
        if (res.complete) {
          void vscode.window.showInformationMessage(`Feature Complexity: analysis of ${name} finished.`);
        } else {
          void vscode.window.showWarningMessage(
            `Feature Complexity: analysis of ${name} was cancelled after ${finishedText(doc.getText())}; the finished orders are kept in ${path.basename(res.resultFile)}.`,
          );
        }
        await vscode.commands.executeCommand('featureComplexity.openResults', doc.uri);
      } catch (e) {
        if (isCancellation(e)) void vscode.window.showWarningMessage(`Feature Complexity: analysis of ${name} was cancelled before any order finished.`);
        else throw e;
      }
    },
    openWhenWritten,
  );
}
