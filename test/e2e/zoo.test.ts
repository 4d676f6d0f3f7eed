/**
 * A folder of checkpoints analysed as a zoo (issue #16), as a user does it in code-server:
 * right-click the folder in the Explorer → "Analyze Folder of Checkpoints…", accept the offered
 * name; the dataset and "locally" come from the settings. The engine's CLI plans the zoo and runs
 * its three rows two at a time behind a progress notification; the Feature Complexity view shows
 * the zoo with "3 done" and its three rows; a row opens its results panel, and the zoo's menu
 * offers what a finished zoo can do (Predict) and not what it cannot (Cancel, Run Again, Resubmit).
 * The same folder again, with a damaged checkpoint added, runs only the new row: it fails, the
 * view says "3 done · 1 failed", and the row opens its error log.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, UI_TIMEOUT_MS, VsCode } from './harness';

const FOLDER = 'zoo-checkpoints';
const CHECKPOINTS = ['cnn.onnx', 'keras_cnn.h5', 'keras_cnn.keras'];
const MENU = 'Analyze Folder of Checkpoints…';
/** Three quick analyses (two orders, width 4), two at a time: ~10 s alone, more beside a workbench on two cores. */
const ZOO_TIMEOUT_MS = 240_000;
const formats = join(repoRoot, 'test', 'fixtures', 'formats');

describe('a folder of checkpoints analysed as a zoo', { timeout: 15 * 60_000 }, () => {
  let vs: VsCode;

  before(
    async () => {
      vs = await VsCode.start({
        name: 'zoo',
        prepare: (ws) => {
          mkdirSync(join(ws, FOLDER));
          for (const f of CHECKPOINTS) cpSync(join(formats, f), join(ws, FOLDER, f));
        },
        userSettings: {
          'featureComplexity.dataset': join(formats, 'data.npz'),
          'featureComplexity.cluster.scheduler': 'local',
          'featureComplexity.orders': [0, 2],
          'featureComplexity.budget': 'quick',
          'featureComplexity.width': 4,
          'featureComplexity.exemplars': [],
          'featureComplexity.shapley': false,
          'featureComplexity.substitution': false,
          // A port opened elsewhere on the machine (a test's Slurm daemons) must not put a toast over the view.
          'remote.autoForwardPorts': false,
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('right-click a folder → Analyze Folder of Checkpoints…: the zoo runs, the view lists its rows done, a row opens its results', async () => {
    const t0 = Date.now();
    await vs.explorerContextMenuWhen(FOLDER, (l) => l.includes(MENU), 'folder-menu');
    // The entry is offered on folders only.
    assert.ok(!(await vs.explorerContextMenu('notes.txt')).includes(MENU), 'a file’s menu has no Analyze Folder');
    await vs.explorerContextMenuClick(FOLDER, MENU);

    // The name prompt offers the folder's name; the dataset and where to run come from the settings.
    const widget = vs.page.locator('.quick-input-widget');
    await widget.locator('.quick-input-title', { hasText: 'Zoo name' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const input = widget.locator('.quick-input-box input');
    assert.equal(await input.inputValue(), FOLDER);
    await vs.screenshot('name-prompt');
    await vs.page.keyboard.press('Enter');

    const progress = await vs.waitForNotification(new RegExp(`Zoo ${FOLDER}`), 60_000);
    await vs.screenshot('progress');
    assert.match(progress.message, /of 3/, `progress: ${progress.message}`);

    const end = await vs.waitForNotification(new RegExp(`zoo ${FOLDER} (finished|was cancelled)|zoo ${FOLDER}:`), ZOO_TIMEOUT_MS);
    assert.equal(end.severity, 'info', end.message);
    assert.equal(end.message, `Feature Complexity: zoo ${FOLDER} finished: 3 done of 3.`);
    const seconds = (Date.now() - t0) / 1000;

    // What the engine wrote: three complete results in the zoo's folder.
    const dir = join(vs.workspace, '.feature-complexity', 'zoos', FOLDER);
    const results = readdirSync(join(dir, 'results')).filter((f) => f.endsWith('.json'));
    assert.equal(results.length, 3, JSON.stringify(results));
    for (const f of results) {
      const r = JSON.parse(readFileSync(join(dir, 'results', f), 'utf8')) as { complete: boolean; budget: string; orders: number[] };
      assert.deepEqual([r.complete, r.budget, r.orders], [true, 'quick', [0, 2]]);
    }
    assert.ok(existsSync(join(dir, 'zoo.json')));

    // The view: a Zoos group, the zoo with "3 done", its three rows done.
    const pane = await vs.viewPane('Feature Complexity');
    const zooRow = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-name', { hasText: new RegExp(`^${FOLDER}$`) }) });
    await zooRow.locator('.label-description', { hasText: /^3 done$/ }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await pane.locator('.monaco-list-row .label-name', { hasText: /^Zoos$/ }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const rows = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-description', { hasText: /^done$/ }) });
    for (let i = 0; i < 50 && (await rows.count()) < 3; i++) await vs.page.waitForTimeout(200);
    const names = await rows.locator('.label-name').allInnerTexts();
    assert.deepEqual(
      names.map((n) => n.trim()),
      CHECKPOINTS,
    );
    assert.equal(await rows.locator('.codicon-pass-filled').count(), 3, 'each done row has the pass icon');
    await vs.screenshot('view-done');

    // A finished zoo's menu: Predict, no Cancel, no Run Again, no Resubmit.
    await vs.dismissHover();
    await zooRow.click({ button: 'right' });
    const menu = vs.page.locator('.context-view .monaco-menu');
    await menu.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const labels = (await menu.locator('.action-item:not(.disabled) .action-label').allInnerTexts()).map((s) => s.trim()).filter(Boolean);
    await vs.screenshot('zoo-menu');
    await vs.page.keyboard.press('Escape');
    assert.ok(labels.includes('Predict Performance from Analyses'), JSON.stringify(labels));
    for (const absent of ['Cancel Zoo', 'Run Zoo Again', 'Resubmit Failed Rows to Slurm']) assert.ok(!labels.includes(absent), JSON.stringify(labels));

    // A click on a done row opens its results panel.
    await rows.filter({ has: vs.page.locator('.label-name', { hasText: /^cnn\.onnx$/ }) }).click();
    await vs.significanceRow('l = 2');
    const title = await vs.page.locator('.tabs-container .tab.active').innerText();
    assert.match(title, /cnn\.onnx/);
    await vs.screenshot('row-results');
    process.stderr.write(`[e2e] zoo of 3 checkpoints: menu to "finished" in ${seconds.toFixed(1)} s\n`);
  });

  test('the same folder again with a damaged checkpoint added: only the new row runs, it fails, and its row opens its errors', async () => {
    await vs.runCommand('View: Close All Editors');
    await vs.clearNotifications();
    writeFileSync(join(vs.workspace, FOLDER, 'broken.onnx'), 'not an ONNX file');
    await vs.explorerContextMenuClick(FOLDER, MENU);
    const widget = vs.page.locator('.quick-input-widget');
    await widget.locator('.quick-input-title', { hasText: 'Zoo name' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.page.keyboard.press('Enter');

    // The re-plan keeps the three rows done and adds the new one, which fails with the engine's one line.
    const end = await vs.waitForNotification(new RegExp(`zoo ${FOLDER}(:| finished| was cancelled)`), ZOO_TIMEOUT_MS);
    assert.equal(end.severity, 'warning', end.message);
    assert.match(end.message, new RegExp(`^Feature Complexity: zoo ${FOLDER}: 3 done · 1 failed of 4\\.`));
    const dir = join(vs.workspace, '.feature-complexity', 'zoos', FOLDER);
    const record = JSON.parse(readFileSync(join(dir, 'rows', '3.json'), 'utf8')) as { state: string; error: string };
    assert.equal(record.state, 'failed');

    const pane = await vs.viewPane('Feature Complexity');
    const zooRow = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-name', { hasText: new RegExp(`^${FOLDER}$`) }) });
    await zooRow.locator('.label-description', { hasText: /^3 done · 1 failed$/ }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const broken = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-name', { hasText: /^broken\.onnx$/ }) });
    await broken.locator('.label-description', { hasText: /^failed$/ }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal(await broken.locator('.codicon-error').count(), 1, 'the failed row has the error icon');

    // A zoo with a failed row offers to run it again and to resubmit it to Slurm.
    await vs.dismissHover();
    await zooRow.click({ button: 'right' });
    const menu = vs.page.locator('.context-view .monaco-menu');
    await menu.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const labels = (await menu.locator('.action-item:not(.disabled) .action-label').allInnerTexts()).map((s) => s.trim()).filter(Boolean);
    await vs.screenshot('zoo-menu-failed');
    await vs.page.keyboard.press('Escape');
    for (const offered of ['Predict Performance from Analyses', 'Run Zoo Again', 'Resubmit Failed Rows to Slurm'])
      assert.ok(labels.includes(offered), `${offered} in ${JSON.stringify(labels)}`);
    assert.ok(!labels.includes('Cancel Zoo'), JSON.stringify(labels));

    // Its click opens the row's error log, which ends with the one-line reason.
    await broken.click();
    await vs.page.locator('.tabs-container .tab.active', { hasText: '3.err' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const editor = vs.page.locator('.editor-instance .monaco-editor .view-lines').first();
    await editor.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const text = (await editor.innerText()).replace(/\s/g, ' ');
    assert.ok(text.includes(record.error.slice(0, 40).replace(/\s/g, ' ')), `the log shows the error '${record.error}': ${text}`);
    await vs.screenshot('failed-row-log');
  });
});
