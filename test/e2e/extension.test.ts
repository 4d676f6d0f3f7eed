/**
 * The extension in the real VS Code workbench (code-server) driven by Chromium: Explorer context
 * menu, command palette, the engine child process, and recovery when that process dies.
 * One code-server for the file; each test leaves the workbench with no menu, palette or toast open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, SESSION_START_TIMEOUT_MS, VsCode } from './harness';

const ANALYZE = 'Analyze Feature Complexity';
const CAPABILITIES = 'Feature Complexity: Show Engine Capabilities';

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    menus?: { commandPalette?: { command: string; when?: string }[] };
  };
}

/**
 * What the palette must show and must hide, read from the manifest the workbench loaded:
 * commands with no palette `when`, or one that holds in a trusted workspace with no editor open,
 * must show; those with `when: false` must not. Other conditions depend on state and are skipped.
 */
function paletteExpectations(): { shown: string[]; hidden: string[] } {
  const m = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;
  const when = new Map((m.contributes.menus?.commandPalette ?? []).map((e) => [e.command, e.when ?? 'true']));
  const label = (c: { title: string; category?: string }) => (c.category ? `${c.category}: ${c.title}` : c.title);
  const shown: string[] = [];
  const hidden: string[] = [];
  for (const c of m.contributes.commands) {
    const w = when.get(c.command) ?? 'true';
    if (w === 'true' || w === 'isWorkspaceTrusted') shown.push(label(c));
    else if (w === 'false') hidden.push(label(c));
  }
  return { shown, hidden };
}
/** The engine answers on its first start with the backends it loaded; wasm is always there. */
const ENGINE_START_TIMEOUT_MS = 90_000;

describe('feature-complexity in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;

  before(
    async () => {
      vs = await VsCode.start({ name: 'extension' });
      await vs.screenshot('workbench');
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('the Explorer context menu offers the analysis on model.json, not on notes.txt', async () => {
    const onModel = await vs.explorerContextMenuWhen('model.json', (l) => l.includes(ANALYZE), 'context-menu-model-json');
    assert.ok(onModel.includes(ANALYZE), `context menu of model.json: ${JSON.stringify(onModel)}`);
    // Asked only now that the extension's menu entries are known to be registered, so that its
    // absence here is the `when` clause at work, not a menu read too early.
    const onNotes = await vs.explorerContextMenu('notes.txt', 'context-menu-notes-txt');
    assert.ok(onNotes.length > 3, `context menu of notes.txt: ${JSON.stringify(onNotes)}`);
    assert.ok(!onNotes.includes(ANALYZE), `context menu of notes.txt: ${JSON.stringify(onNotes)}`);
  });

  test('the command palette lists the Feature Complexity commands', async () => {
    const entries = await vs.paletteEntries('Feature Complexity', 'palette');
    const { shown, hidden } = paletteExpectations();
    // The commands the task names, whatever the manifest says.
    for (const title of [`Feature Complexity: ${ANALYZE}`, CAPABILITIES, 'Feature Complexity: Show Engine Log']) {
      assert.ok(shown.includes(title), `package.json contributes no palette command "${title}"`);
    }
    for (const title of shown) {
      assert.ok(
        entries.some((e) => e.startsWith(title)),
        `palette has no "${title}": ${JSON.stringify(entries)}`,
      );
    }
    for (const title of hidden) {
      assert.ok(!entries.some((e) => e.startsWith(title)), `palette shows hidden "${title}"`);
    }
  });

  test('Show Engine Capabilities starts the engine and names the wasm backend', async () => {
    await vs.runCommand(CAPABILITIES);
    const n = await vs.waitForNotification('Feature Complexity engine', ENGINE_START_TIMEOUT_MS);
    await vs.screenshot('capabilities');
    assert.equal(n.severity, 'info');
    assert.match(n.message, /^Feature Complexity engine \S+: backends available: .*\bwasm\b/);
    assert.equal(vs.enginePids().length, 1, 'one engine child process runs after the command');
  });

  test('Show Engine Log opens a log channel: each line has its time and level, host and engine lines apart', async () => {
    await vs.runCommand('Feature Complexity: Show Engine Log');
    const output = vs.page.locator('.output-view, .panel .monaco-editor').first();
    await output.waitFor({ state: 'visible', timeout: 30_000 });
    let text = '';
    for (const end = Date.now() + 30_000; !/\[host\] engine started/.test(text) && Date.now() < end;) {
      // Monaco renders spaces as no-break spaces.
      text = (await output.innerText()).replace(/\s/g, ' ');
      if (!/\[host\] engine started/.test(text)) await new Promise((r) => setTimeout(r, 250));
    }
    await vs.screenshot('engine-log');
    // A LogOutputChannel prefixes each line with a timestamp and [info] / [warning] / [error].
    assert.match(text, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[info\] \[host\] engine started \(pid \d+\)/);
    assert.match(text, /\[info\] \[engine\] engine \d+ ready/);
  });

  test('a killed engine is reported, and the next command restarts it', async () => {
    // Ensures an engine is up even when this test runs alone.
    let [pid] = vs.enginePids();
    if (pid === undefined) {
      await vs.runCommand(CAPABILITIES);
      await vs.waitForNotification('Feature Complexity engine', ENGINE_START_TIMEOUT_MS);
      pid = await vs.until('the engine process', () => vs.enginePids()[0]);
    }
    await vs.clearNotifications();

    process.kill(pid, 'SIGKILL');
    const err = await vs.waitForNotification('engine stopped unexpectedly');
    await vs.screenshot('engine-killed');
    assert.equal(err.severity, 'error', `notification: ${err.message}`);
    assert.ok(!vs.enginePids().includes(pid), 'the killed engine is gone');

    await vs.clearNotifications();
    await vs.runCommand(CAPABILITIES);
    const n = await vs.waitForNotification('Feature Complexity engine', ENGINE_START_TIMEOUT_MS);
    await vs.screenshot('engine-restarted');
    assert.match(n.message, /\bwasm\b/);
    const now = vs.enginePids();
    assert.equal(now.length, 1, 'one engine child process after the restart');
    assert.notEqual(now[0], pid, 'the engine is a new process');
  });
});
