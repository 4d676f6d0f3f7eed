/**
 * Workspace Trust, as a user meets it (issue #17). A folder opened in Restricted Mode: the
 * extension is enabled (package.json `untrustedWorkspaces: limited`), a stored analysis opens from
 * the Feature Complexity view with its panel, and "Analyze Feature Complexity" runs nothing: it
 * says that Restricted Mode does not allow it and offers VS Code's own Workspace Trust editor;
 * trusted there, the same command goes on.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, storeResults, UI_TIMEOUT_MS, VsCode } from './harness';

const RESULT_FILE = join(repoRoot, 'test', 'fixtures', 'results', 'engine-reliability.json');
const ANALYZE = 'Analyze Feature Complexity';

describe('a workspace in Restricted Mode', { timeout: 10 * 60_000 }, () => {
  let vs: VsCode;
  const stored = () => readdirSync(join(vs.workspace, '.feature-complexity')).filter((f) => f.endsWith('.json'));

  before(
    async () => {
      vs = await VsCode.start({ name: 'restricted', restricted: true, prepare: (ws) => storeResults(ws, [RESULT_FILE]) });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('the workbench is in Restricted Mode and a stored analysis opens from the Feature Complexity view', async () => {
    // VS Code's own indicator: the status bar's Restricted Mode item.
    await vs.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const pane = await vs.viewPane('Feature Complexity');
    const analysisRow = pane.locator('.monaco-list-row[aria-level="2"]').first();
    await analysisRow.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await analysisRow.click();
    const header = vs.webview().locator('p.file');
    await header.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.match(await header.innerText(), /engine-reliability\.json/);
    await vs.significanceRow('residue Δf', UI_TIMEOUT_MS);
    await vs.screenshot('restricted-stored-result');
  });

  test('an analysis asks for trust through the Workspace Trust editor and runs nothing', async () => {
    const before = stored();
    await vs.explorerContextMenuClick('model.json', ANALYZE);
    const asked = await vs.waitForNotification(/Restricted Mode does not allow/);
    assert.equal(asked.severity, 'warning', asked.message);
    assert.match(asked.message, /an analysis runs a process on this workspace's files/);
    await vs.screenshot('restricted-analysis-asks-for-trust');
    await asked.locator.getByRole('button', { name: 'Manage Workspace Trust' }).click();
    // VS Code's Workspace Trust editor, where the user can trust the folder.
    await vs.page.locator('.workspace-trust-editor').first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('workspace-trust-editor');
    // No dataset prompt, no engine run: the results folder holds what it held.
    assert.deepEqual(stored(), before);
  });

  test('once the user trusts the folder there, the same command goes on to its first prompt', async () => {
    await vs.page.locator('.workspace-trust-editor').getByRole('button', { name: 'Trust', exact: true }).first().click();
    await vs.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('trusted');
    // The Workspace Trust editor opens as a modal over the workbench: close it.
    await vs.runCommand('View: Close Editor');
    await vs.page.locator('.monaco-modal-editor-block').first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    await vs.clearNotifications().catch(() => undefined);
    await vs.explorerContextMenuClick('model.json', ANALYZE);
    await vs.quickPick(/^Dataset/, 'trusted-dataset-prompt');
    await vs.page.keyboard.press('Escape');
  });
});
