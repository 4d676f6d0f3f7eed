/**
 * The packaged extension, as users get it (issue #17): `npm run package` (scripts/package.mjs)
 * builds this platform's VSIX, code-server installs it into an empty extensions folder (no source
 * tree, no links into node_modules), and in that VS Code "Show Engine Capabilities" answers and a
 * TF.js graph model and an ONNX checkpoint are analysed from the Explorer with their panels. A file
 * that .vscodeignore leaves out, or a native module not packed for the platform, fails here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, VsCode } from './harness';

const ANALYZE = 'Analyze Feature Complexity';
const FORMATS = join(repoRoot, 'test', 'fixtures', 'formats');
const ANALYSIS_TIMEOUT_MS = 180_000;

describe('the packaged extension (VSIX) installed into a clean code-server', { timeout: 15 * 60_000 }, () => {
  let vs: VsCode;
  let vsix = '';
  const out = mkdtempSync(join(tmpdir(), 'fc-vsix-'));
  const results = (prefix: string) => readdirSync(join(vs.workspace, '.feature-complexity')).filter((f) => f.startsWith(prefix) && f.endsWith('.json'));

  before(
    async () => {
      // What `npm run package` runs: the production build, then this platform's VSIX with its size checked.
      const printed = execFileSync(process.execPath, [join(repoRoot, 'scripts', 'package.mjs'), '--out', out], { cwd: repoRoot, encoding: 'utf8' });
      const line = printed.trim().split('\n').pop() ?? '';
      vsix = line.split(/\s+/)[0];
      assert.ok(vsix.endsWith('.vsix') && existsSync(vsix), `package.mjs printed ${printed}`);
      vs = await VsCode.start({
        name: 'vsix',
        vsix,
        prepare: (ws) => {
          mkdirSync(join(ws, 'tfjs'));
          cpSync(join(FORMATS, 'graph'), join(ws, 'tfjs'), { recursive: true });
          cpSync(join(FORMATS, 'cnn.onnx'), join(ws, 'cnn.onnx'));
          mkdirSync(join(ws, 'data'));
          cpSync(join(FORMATS, 'data.npz'), join(ws, 'data', 'data.npz'));
          mkdirSync(join(ws, '.vscode'));
          writeFileSync(
            join(ws, '.vscode', 'settings.json'),
            JSON.stringify({ 'featureComplexity.orders': [0, 2], 'featureComplexity.width': 4, 'featureComplexity.shapley': false }, null, 2),
          );
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS + 180_000 },
  );

  after(async () => {
    await vs?.stop();
    rmSync(out, { recursive: true, force: true });
    // The other e2e files run on the ordinary (unminified) build, as `npm test` made it.
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, stdio: 'ignore' });
  });

  test('the extension runs from its installed folder: unpacked files, this platform’s native modules', () => {
    assert.ok(vs.extensionDir.startsWith(join(vs.tmp, 'extensions')), vs.extensionDir);
    assert.ok(!existsSync(join(vs.extensionDir, 'src')), 'no source tree in the VSIX');
    for (const m of ['onnxruntime-node', 'webgpu', 'h5wasm']) {
      const dir = join(vs.extensionDir, 'node_modules', m);
      assert.ok(existsSync(dir) && !lstatSync(dir).isSymbolicLink(), `${m} is packed, not linked`);
    }
    const platform = `${process.platform}/${process.arch}`;
    const binaries = readdirSync(join(vs.extensionDir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6'), { recursive: true }) as string[];
    assert.ok(
      binaries.some((p) => p.startsWith(platform)),
      `onnxruntime for ${platform}: ${binaries.join(', ')}`,
    );
    assert.ok(!binaries.some((p) => p.startsWith('win32/') && process.platform !== 'win32'), 'no other platform’s binaries');
    const manifest = JSON.parse(readFileSync(join(vs.extensionDir, 'package.json'), 'utf8')) as { capabilities?: unknown };
    assert.ok(manifest.capabilities, 'the manifest declares its Workspace Trust support');
  });

  test('Show Engine Capabilities answers from the installed engine', async () => {
    await vs.runCommand('Feature Complexity: Show Engine Capabilities');
    const caps = await vs.waitForNotification(/backends available: .*wasm/, ANALYSIS_TIMEOUT_MS);
    assert.equal(caps.severity, 'info', caps.message);
    await vs.screenshot('capabilities');
    await vs.clearNotifications();
  });

  async function analyze(file: string, depth: number, step: string): Promise<void> {
    await vs.explorerContextMenuClick(file, ANALYZE, depth);
    await vs.answerAnalysisPrompts('data.npz', step, ANALYSIS_TIMEOUT_MS);
    await vs.analysisFinished(step, ANALYSIS_TIMEOUT_MS);
  }

  test('right-click a TF.js graph model → analysed by the installed engine, panel opens', async () => {
    await vs.explorerFolder('tfjs', true);
    await analyze('model.json', 2, 'tfjs');
    assert.equal(results('model-').length + results('tfjs-').length, 1, JSON.stringify(readdirSync(join(vs.workspace, '.feature-complexity'))));
  });

  test('right-click an ONNX checkpoint → analysed by the installed engine (onnxruntime from the VSIX), panel opens', async () => {
    await analyze('cnn.onnx', 1, 'onnx');
    assert.equal(results('cnn-').length, 1);
  });
});
