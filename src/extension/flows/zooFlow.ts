/**
 * "Analyze Folder of Checkpoints…" (issue #16): every checkpoint under a folder analysed with the
 * same settings as a zoo, here N at a time or as a Slurm job array, through the engine's CLI
 * (`zoo plan`, then `zoo run` or `zoo submit --slurm`); and the zoo rows' commands of the Feature
 * Complexity view (cancel, run again, resubmit the failed rows).
 */
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ZOOS_FOLDER, type ZooStatus } from '../../shared/files/zoo';
import type { AnalysesNode } from '../analyses/analysesView';
import { zooProgressText, zooWorkspace } from '../analyses/analysesModel';
import { settings } from '../config';
import type { Ctx } from '../ctx';
import type { CliResult, CliRun } from '../engine/zooCli';
import { pythonFor } from '../engine/python';
import { requireTrust } from '../trust';
import { chooseDataset } from './analyzeFlow';
import { analyzeFlags, cliErrorLine, defaultZooName, submitFlags, submittedJob, zooNameProblem } from './zooArgs';

/** The local runs this window started, by zoo folder: a second run of the same zoo would analyse its rows twice. */
const localRuns = new Map<string, { run: CliRun; cancelled: boolean }>();

/** When the window closes: the local runs it started stop (their rows are recorded as cancelled). */
export function stopLocalZooRuns(): void {
  for (const { run } of localRuns.values()) run.child.kill('SIGTERM');
}

const showLog = (ctx: Ctx) => (a: string | undefined) => {
  if (a) ctx.log.show();
};

function cliFailed(ctx: Ctx, name: string, r: CliResult): void {
  void vscode.window
    .showErrorMessage(`Feature Complexity: zoo ${name}: ${cliErrorLine(r.stderr) || `the engine ended with exit code ${r.code}`}`, 'Show Log')
    .then(showLog(ctx));
}

/** The zoo a tree row's command was invoked on. */
export function zooOf(arg: unknown): ZooStatus | undefined {
  const node = arg as AnalysesNode | undefined;
  return node?.kind === 'zoo' ? node.zoo : undefined;
}

type Where = 'local' | 'slurm';

async function chooseWhere(scheduler: 'ask' | 'local' | 'slurm', jobs: number): Promise<Where | undefined> {
  if (scheduler !== 'ask') return scheduler;
  const items: (vscode.QuickPickItem & { where: Where })[] = [
    {
      label: `$(vm) Locally (${jobs} at a time)`,
      detail: 'Each checkpoint in its own engine process on this machine (setting featureComplexity.zoo.jobs).',
      where: 'local',
    },
    {
      label: '$(server-environment) Slurm cluster (sbatch)',
      detail: 'One job array, a task per checkpoint (settings featureComplexity.cluster.*); submit from a login node.',
      where: 'slurm',
    },
  ];
  const choice = await vscode.window.showQuickPick(items, {
    title: 'Where to analyse the checkpoints',
    placeHolder: 'Setting featureComplexity.cluster.scheduler skips this question',
    ignoreFocusOut: true,
  });
  return choice?.where;
}

const rowJobs = (cfg: { zooJobs: number }) => (cfg.zooJobs > 0 ? cfg.zooJobs : availableParallelism());

/** Explorer folder (or a folder picked) → dataset → zoo name → where → plan → run or submit. */
export async function analyzeFolderCommand(ctx: Ctx, uri?: vscode.Uri): Promise<void> {
  if (!(await requireTrust('analysing a folder of checkpoints'))) return;
  const first = vscode.workspace.workspaceFolders?.[0];
  const folder =
    uri ??
    (
      await vscode.window.showOpenDialog({
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        title: 'Folder of checkpoints',
        openLabel: 'Analyze Folder',
        defaultUri: first?.uri,
      })
    )?.[0];
  if (!folder) return;
  // A zoo lives in a workspace folder's .feature-complexity/zoos/: the folder's own, else the first one.
  const ws = vscode.workspace.getWorkspaceFolder(folder) ?? first;
  if (!ws) {
    void vscode.window.showErrorMessage('Feature Complexity: open a folder first; a zoo is kept in its .feature-complexity/zoos/ folder.');
    return;
  }
  const cfg = settings(folder);
  const data = await chooseDataset(cfg, undefined, 'Dataset the checkpoints were trained on');
  if (!data) return;
  const name = await vscode.window.showInputBox({
    title: 'Zoo name',
    prompt: `The checkpoints under ${vscode.workspace.asRelativePath(folder)} are analysed with the same settings and kept in ${ZOOS_FOLDER}/NAME. A name used before adds the new checkpoints and runs what is not done.`,
    value: defaultZooName(folder.fsPath),
    validateInput: zooNameProblem,
    ignoreFocusOut: true,
  });
  if (!name) return;
  const where = await chooseWhere(cfg.cluster.scheduler, rowJobs(cfg));
  if (!where) return;
  // PyTorch files are exported to ONNX by the user's Python, as for one checkpoint.
  const hasPyTorch = (await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*.{pt,pth}'), null, 1)).length > 0;
  const python = hasPyTorch ? await pythonFor(folder) : undefined;
  const workspace = ws.uri.fsPath;
  const plan = await ctx.zooCli.run('plan', [folder.fsPath, `--name=${name}`, `--data=${data}`, ...analyzeFlags(cfg, python)], workspace);
  if (plan.code !== 0) return cliFailed(ctx, name, plan);
  await ctx.zoos.refresh();
  void vscode.commands.executeCommand('featureComplexity.analyses.focus');
  if (where === 'local') await runZooLocally(ctx, workspace, name);
  else await submitZoo(ctx, workspace, name, false);
}

/**
 * `zoo run NAME --jobs N`: the rows that are not done, N at a time, behind a progress
 * notification that follows the view's counts; its Cancel runs `zoo cancel`.
 */
export async function runZooLocally(ctx: Ctx, workspace: string, name: string): Promise<void> {
  const key = path.resolve(workspace, ZOOS_FOLDER, name);
  if (localRuns.has(key)) {
    void vscode.window.showInformationMessage(`Feature Complexity: zoo ${name} is already running in this window.`);
    return;
  }
  const cfg = settings(vscode.Uri.file(workspace));
  const args = [name, `--jobs=${rowJobs(cfg)}`, ...(cfg.threads > 0 ? [`--threads=${cfg.threads}`] : [])];
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Zoo ${name}`, cancellable: true },
    async (progress, token) => {
      const entry = {
        run: ctx.zooCli.start('run', args, workspace, {
          // "row 3 done": the view asks the engine at once rather than wait for the file events.
          onStderrLine: (l) => /^row \d+ (done|failed)\b/.test(l) && ctx.zoos.schedule(200),
        }),
        cancelled: false,
      };
      localRuns.set(key, entry);
      let shown = 0;
      const show = () => {
        const z = ctx.zoos.get(workspace, name);
        if (!z) return;
        const pct = z.total ? Math.round((100 * (z.counts.done + z.counts.failed)) / z.total) : 0;
        progress.report({ message: zooProgressText(z), increment: Math.max(0, pct - shown) });
        shown = Math.max(shown, pct);
      };
      const sub = ctx.zoos.onDidChange(show);
      const following = ctx.zoos.follow();
      show();
      const onCancel = token.onCancellationRequested(() => {
        entry.cancelled = true;
        void ctx.zooCli.run('cancel', [name], workspace);
      });
      try {
        return { ...(await entry.run.done), cancelled: entry.cancelled };
      } finally {
        sub.dispose();
        following.dispose();
        onCancel.dispose();
        localRuns.delete(key);
      }
    },
  );
  await ctx.zoos.refresh();
  let z = ctx.zoos.get(workspace, name);
  // A cancelled run ends before its rows' processes have recorded that they were stopped.
  for (let i = 0; i < 20 && z && z.counts.running > 0 && (result.cancelled || result.code !== 0); i++) {
    await new Promise((r) => setTimeout(r, 250));
    await ctx.zoos.refresh();
    z = ctx.zoos.get(workspace, name);
  }
  const counts = z ? zooProgressText(z) : '';
  if (result.cancelled || result.code === 143 || result.signal === 'SIGTERM') {
    void vscode.window.showWarningMessage(`Feature Complexity: zoo ${name} was cancelled: ${counts}.`);
  } else if (result.code === 0) {
    void vscode.window.showInformationMessage(`Feature Complexity: zoo ${name} finished: ${counts}.`);
  } else if (z && z.counts.failed > 0) {
    void vscode.window
      .showWarningMessage(`Feature Complexity: zoo ${name}: ${counts}. A failed row's errors open from its row in the Feature Complexity view.`, 'Show Log')
      .then(showLog(ctx));
  } else {
    cliFailed(ctx, name, result);
  }
}

/** `zoo submit NAME --slurm` with the cluster settings (only its failed rows with `retryFailed`). */
export async function submitZoo(ctx: Ctx, workspace: string, name: string, retryFailed: boolean): Promise<void> {
  const cfg = settings(vscode.Uri.file(workspace));
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Zoo ${name}: submitting to Slurm` }, () =>
    ctx.zooCli.run('submit', [name, ...submitFlags(cfg.cluster, retryFailed)], workspace),
  );
  if (r.code !== 0) return cliFailed(ctx, name, r);
  await ctx.zoos.refresh();
  const s = submittedJob(r.stdout);
  void vscode.window.showInformationMessage(
    `Feature Complexity: zoo ${name}: submitted job ${s?.job ?? '(see the log)'}${s ? ` (${s.rows} row${s.rows === 1 ? '' : 's'})` : ''}; the Feature Complexity view follows its rows.`,
  );
}

/** The view's Cancel Zoo: `zoo cancel` (scancel for Slurm's tasks, the local run and its rows stopped). */
export async function cancelZooCommand(ctx: Ctx, arg?: unknown): Promise<void> {
  const zoo = zooOf(arg);
  if (!zoo || !(await requireTrust('cancelling a zoo'))) return;
  const local = localRuns.get(path.resolve(zoo.dir));
  if (local) local.cancelled = true;
  const r = await ctx.zooCli.run('cancel', [zoo.name], zooWorkspace(zoo));
  if (r.code !== 0) return cliFailed(ctx, zoo.name, r);
  void ctx.zoos.refresh();
  const said = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
  void vscode.window.showInformationMessage(`Feature Complexity: zoo ${zoo.name}: ${said || 'cancelled'}.`);
}

export async function runZooAgainCommand(ctx: Ctx, arg?: unknown): Promise<void> {
  const zoo = zooOf(arg);
  if (!zoo || !(await requireTrust('running a zoo'))) return;
  await runZooLocally(ctx, zooWorkspace(zoo), zoo.name);
}

export async function resubmitZooCommand(ctx: Ctx, arg?: unknown): Promise<void> {
  const zoo = zooOf(arg);
  if (!zoo || !(await requireTrust('submitting a zoo to Slurm'))) return;
  await submitZoo(ctx, zooWorkspace(zoo), zoo.name, true);
}
