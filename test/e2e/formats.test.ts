/**
 * Checkpoints other than TF.js in the real workbench: right-click an ONNX file and a TorchScript
 * `.pt` → the analysis runs and its panel opens; a corrupt ONNX file → one readable error.
 * The checkpoints and the .npz dataset are the committed fixtures of test/fixtures/formats, made by
 * PyTorch (scripts/make-fixtures.py). The `.pt` is exported to ONNX by the Python with torch named
 * in the user settings, as a user would set it; the workspace's `.vscode/settings.json` names
 * another program, which must be ignored (`featureComplexity.pythonPath` has machine scope: a
 * cloned repository cannot choose what the extension runs).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, VsCode } from './harness';

const ANALYZE = 'Analyze Feature Complexity';
const FORMATS = join(repoRoot, 'test', 'fixtures', 'formats');
const PYTHON = '/usr/bin/python3';
const WORKSPACE_PYTHON = '/nonexistent/python-named-by-the-workspace';
const torchAvailable = spawnSync(PYTHON, ['-c', 'import torch'], { timeout: 60_000 }).status === 0;
const ANALYSIS_TIMEOUT_MS = 180_000;

describe('analyzing ONNX and PyTorch checkpoints in VS Code', { timeout: 15 * 60_000 }, () => {
  let vs: VsCode;
  const results = (prefix: string) =>
    readdirSync(join(vs.workspace, '.feature-complexity'))
      .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
      .map(
        (f) =>
          JSON.parse(readFileSync(join(vs.workspace, '.feature-complexity', f), 'utf8')) as {
            complete: boolean;
            components: { order: number; rho: number }[];
            checkpoint: { path: string };
          },
      );

  before(
    async () => {
      vs = await VsCode.start({
        name: 'formats',
        userSettings: { 'featureComplexity.pythonPath': PYTHON },
        prepare: (ws) => {
          cpSync(join(FORMATS, 'cnn.onnx'), join(ws, 'cnn.onnx'));
          cpSync(join(FORMATS, 'cnn.torchscript.pt'), join(ws, 'cnn.torchscript.pt'));
          mkdirSync(join(ws, 'data'));
          cpSync(join(FORMATS, 'data.npz'), join(ws, 'data', 'data.npz'));
          writeFileSync(join(ws, 'corrupt.onnx'), Buffer.concat([readFileSync(join(FORMATS, 'cnn.onnx')).subarray(0, 200), Buffer.from('truncated here')]));
          mkdirSync(join(ws, '.vscode'));
          writeFileSync(
            join(ws, '.vscode', 'settings.json'),
            JSON.stringify(
              {
                'featureComplexity.orders': [0, 2],
                'featureComplexity.width': 4,
                'featureComplexity.shapley': false,
                'featureComplexity.substitution': true,
                // A program of the repository's choosing: machine scope keeps it from being run.
                'featureComplexity.pythonPath': WORKSPACE_PYTHON,
              },
              null,
              2,
            ),
          );
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  async function analyzeThroughPrompts(file: string, step: string): Promise<void> {
    await vs.explorerContextMenuClick(file, ANALYZE);
    const { dataset, layer } = await vs.answerAnalysisPrompts('data.npz', step, ANALYSIS_TIMEOUT_MS);
    assert.ok(dataset.items.includes('data.npz'), `the .npz is offered: ${JSON.stringify(dataset.items)}`);
    assert.ok(layer.items.length >= 3, `the graph's tensors are listed: ${JSON.stringify(layer.items)}`);
    assert.ok(layer.active, 'a default target layer is preselected');
    await vs.analysisFinished(step, ANALYSIS_TIMEOUT_MS);
  }

  test('right-click an ONNX checkpoint → the analysis runs and its panel shows both orders', async () => {
    await analyzeThroughPrompts('cnn.onnx', 'onnx');
    const [r] = results('cnn-');
    assert.ok(r, 'a result file for cnn.onnx');
    assert.equal(r.complete, true);
    assert.deepEqual(
      r.components.map((c) => c.order),
      [0, 2],
    );
    assert.match(r.checkpoint.path, /cnn\.onnx$/);
  });

  test(
    'right-click a TorchScript .pt → exported by the user’s Python (not the one the workspace settings name), analysed, panel opens',
    { skip: torchAvailable ? false : `no torch in ${PYTHON}` },
    async () => {
      await analyzeThroughPrompts('cnn.torchscript.pt', 'torchscript');
      const [r] = results('cnn.torchscript-');
      assert.ok(r, 'a result file for cnn.torchscript.pt');
      assert.equal(r.complete, true);
      assert.match(r.checkpoint.path, /cnn\.torchscript\.pt$/);
    },
  );

  test('a corrupt ONNX file → one readable error naming it', async () => {
    await vs.explorerContextMenuClick('corrupt.onnx', ANALYZE);
    await vs.quickPick(/^Dataset/);
    await vs.acceptQuickPick('data.npz');
    const error = await vs.waitForNotification(/corrupt\.onnx/, ANALYSIS_TIMEOUT_MS);
    await vs.screenshot('corrupt-onnx-error');
    assert.equal(error.severity, 'error', error.message);
    assert.match(error.message, /^Feature Complexity: .*corrupt\.onnx/);
    await vs.clearNotifications();
  });
});
