/**
 * A folder of checkpoints analysed as a zoo (issue #16), as a user does it in code-server:
 * right-click the folder in the Explorer → "Analyze Folder of Checkpoints…", accept the offered
 * name; the dataset and "locally" come from the settings. The engine's CLI plans the zoo and runs
 * its three rows two at a time behind a progress notification; the Feature Complexity view shows
 * the zoo with "3 done" and its three rows; a row opens its results panel, and the zoo's menu
 * offers what a finished zoo can do (Predict) and not what it cannot (Cancel, Run Again, Resubmit).
 * The same folder again, with a damaged checkpoint added, runs only the new row: it fails, the
 * view says "3 done · 1 failed", and the row opens its error log. Cancel on the progress
 * notification stops a long local run, its row recorded as cancelled. With the scheduler set to Slurm
 * (stand-in commands on the PATH), a refused sbatch shows its one-line reason, a submitted job
 * array shows its rows queued, Cancel Zoo runs scancel and Resubmit Failed Rows submits again.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator } from 'playwright-core';
import { type Notification, repoRoot, SESSION_START_TIMEOUT_MS, UI_TIMEOUT_MS, VsCode } from './harness';

const FOLDER = 'zoo-checkpoints';
const CHECKPOINTS = ['cnn.onnx', 'keras_cnn.h5', 'keras_cnn.keras'];
const MENU = 'Analyze Folder of Checkpoints…';
/** A folder whose one checkpoint is analysed long enough to be cancelled. */
const SLOW = 'slow-checkpoints';
/** Three quick analyses (two orders, width 4), two at a time: ~10 s alone, more beside a workbench on two cores. */
const ZOO_TIMEOUT_MS = 240_000;
const formats = join(repoRoot, 'test', 'fixtures', 'formats');

/** The settings of a small, fast analysis of the fixture checkpoints on the fixture data. */
const ANALYSIS_SETTINGS = {
  'featureComplexity.dataset': join(formats, 'data.npz'),
  'featureComplexity.orders': [0, 2],
  'featureComplexity.budget': 'quick',
  'featureComplexity.width': 4,
  'featureComplexity.exemplars': [],
  'featureComplexity.shapley': false,
  'featureComplexity.substitution': false,
  // A port opened elsewhere on the machine (a test's Slurm daemons) must not put a toast over the view.
  'remote.autoForwardPorts': false,
};

function copyCheckpoints(ws: string): void {
  mkdirSync(join(ws, FOLDER));
  for (const f of CHECKPOINTS) cpSync(join(formats, f), join(ws, FOLDER, f));
}

/** Right-click the folder → Analyze Folder of Checkpoints…, and accept the name it offers (returned) or type `name`. */
async function analyzeFolder(vs: VsCode, step?: string, folder = FOLDER, name?: string): Promise<string> {
  await vs.explorerContextMenuClick(folder, MENU);
  const widget = vs.page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: 'Zoo name' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const input = widget.locator('.quick-input-box input');
  const offered = await input.inputValue();
  if (name !== undefined) await input.fill(name);
  if (step) await vs.screenshot(step);
  await vs.page.keyboard.press('Enter');
  return offered;
}

/** The zoo's row of the Feature Complexity view, once its description reads `counts`. */
async function zooNode(vs: VsCode, counts: RegExp, timeout = UI_TIMEOUT_MS, name = FOLDER): Promise<Locator> {
  const pane = await vs.viewPane('Feature Complexity');
  const row = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-name', { hasText: new RegExp(`^${name}$`) }) });
  await row.locator('.label-description', { hasText: counts }).waitFor({ state: 'visible', timeout });
  return row;
}

/** The zoo row's context menu: its labels, and `click` run when given (else the menu is closed). */
async function zooMenu(vs: VsCode, zooRow: Locator, step: string, click?: string): Promise<string[]> {
  await vs.dismissHover();
  await zooRow.click({ button: 'right' });
  const menu = vs.page.locator('.context-view .monaco-menu');
  await menu.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  const items = menu.locator('.action-item:not(.disabled) .action-label');
  const labels = (await items.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  await vs.screenshot(step);
  if (click === undefined) await vs.page.keyboard.press('Escape');
  else await items.filter({ hasText: new RegExp(`^${click}$`) }).click();
  await menu.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  return labels;
}

describe('a folder of checkpoints analysed as a zoo', { timeout: 15 * 60_000 }, () => {
  let vs: VsCode;

  before(
    async () => {
      vs = await VsCode.start({
        name: 'zoo',
        prepare: copyCheckpoints,
        userSettings: { ...ANALYSIS_SETTINGS, 'featureComplexity.cluster.scheduler': 'local' },
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
    // The name prompt offers the folder's name; the dataset and where to run come from the settings.
    assert.equal(await analyzeFolder(vs, 'name-prompt'), FOLDER);

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
    const zooRow = await zooNode(vs, /^3 done$/);
    const pane = await vs.viewPane('Feature Complexity');
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
    const labels = await zooMenu(vs, zooRow, 'zoo-menu');
    for (const offered of ['Predict Performance from Analyses', 'Compare Analyses']) assert.ok(labels.includes(offered), JSON.stringify(labels));
    for (const absent of ['Cancel Zoo', 'Run Zoo Again', 'Resubmit Failed Rows to Slurm']) assert.ok(!labels.includes(absent), JSON.stringify(labels));

    // A click on a done row opens its results panel.
    const cnn = rows.filter({ has: vs.page.locator('.label-name', { hasText: /^cnn\.onnx$/ }) });
    await vs.clickUntil(cnn, vs.page.locator('.tabs-container .tab.active', { hasText: 'cnn.onnx' }), 'done-row-click');
    await vs.significanceRow('l = 2');
    const title = await vs.page.locator('.tabs-container .tab.active').innerText();
    assert.match(title, /cnn\.onnx/);
    await vs.screenshot('row-results');

    // Compare on the zoo: its three finished rows side by side, without a question.
    await zooMenu(vs, zooRow, 'zoo-menu-compare', 'Compare Analyses');
    const compared = vs.webview().locator('#compared .name');
    await compared.nth(2).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal(await compared.count(), 3);
    await vs.screenshot('zoo-compare');
    process.stderr.write(`[e2e] zoo of 3 checkpoints: menu to "finished" in ${seconds.toFixed(1)} s\n`);
  });

  test('the same folder again with a damaged checkpoint added: only the new row runs, it fails, and its row opens its errors', async () => {
    await vs.runCommand('View: Close All Editors');
    await vs.clearNotifications();
    writeFileSync(join(vs.workspace, FOLDER, 'broken.onnx'), 'not an ONNX file');
    await analyzeFolder(vs);

    // The re-plan keeps the three rows done and adds the new one, which fails with the engine's one line.
    const end = await vs.waitForNotification(new RegExp(`zoo ${FOLDER}(:| finished| was cancelled)`), ZOO_TIMEOUT_MS);
    assert.equal(end.severity, 'warning', end.message);
    assert.match(end.message, new RegExp(`^Feature Complexity: zoo ${FOLDER}: 3 done · 1 failed of 4\\.`));
    const dir = join(vs.workspace, '.feature-complexity', 'zoos', FOLDER);
    const record = JSON.parse(readFileSync(join(dir, 'rows', '3.json'), 'utf8')) as { state: string; error: string };
    assert.equal(record.state, 'failed');

    const zooRow = await zooNode(vs, /^3 done · 1 failed$/);
    const pane = await vs.viewPane('Feature Complexity');
    const broken = pane.locator('.monaco-list-row', { has: vs.page.locator('.label-name', { hasText: /^broken\.onnx$/ }) });
    await broken.locator('.label-description', { hasText: /^failed$/ }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal(await broken.locator('.codicon-error').count(), 1, 'the failed row has the error icon');

    // A zoo with a failed row offers to run it again and to resubmit it to Slurm.
    const labels = await zooMenu(vs, zooRow, 'zoo-menu-failed');
    for (const offered of ['Predict Performance from Analyses', 'Run Zoo Again', 'Resubmit Failed Rows to Slurm'])
      assert.ok(labels.includes(offered), `${offered} in ${JSON.stringify(labels)}`);
    assert.ok(!labels.includes('Cancel Zoo'), JSON.stringify(labels));

    // Its click opens the row's error log, which ends with the one-line reason.
    await vs.clickUntil(broken, vs.page.locator('.tabs-container .tab.active', { hasText: '3.err' }), 'failed-row-click');
    const editor = vs.page.locator('.editor-instance .monaco-editor .view-lines').first();
    await editor.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const text = (await editor.innerText()).replace(/\s/g, ' ');
    assert.ok(text.includes(record.error.slice(0, 40).replace(/\s/g, ' ')), `the log shows the error '${record.error}': ${text}`);
    await vs.screenshot('failed-row-log');
  });

  test('Cancel on the progress notification stops a local run: its row is recorded as cancelled and no engine process is left', async () => {
    await vs.runCommand('View: Close All Editors');
    await vs.clearNotifications();
    // A long analysis (workspace settings, read when the command runs): six orders at the standard budget.
    mkdirSync(join(vs.workspace, '.vscode'), { recursive: true });
    writeFileSync(
      join(vs.workspace, '.vscode', 'settings.json'),
      JSON.stringify({ 'featureComplexity.orders': [0, 2, 4, 8, 14, 20], 'featureComplexity.budget': 'standard', 'featureComplexity.width': 16 }),
    );
    mkdirSync(join(vs.workspace, SLOW));
    cpSync(join(formats, 'cnn.onnx'), join(vs.workspace, SLOW, 'cnn.onnx'));
    await vs.explorerRow(SLOW).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    // The workbench reads the new settings file a moment later, on a loaded machine a few moments:
    // a zoo planned before that has the quick settings (its flags say so), and another is tried.
    let zoo = '';
    let started: { state: string; pid: number } | undefined;
    let running: Notification | undefined;
    for (let attempt = 1; !started; attempt++) {
      zoo = `${SLOW}-${attempt}`;
      await vs.page.waitForTimeout(2000);
      assert.equal(await analyzeFolder(vs, undefined, SLOW, zoo), SLOW);
      const ended = new RegExp(`zoo ${zoo}(:| finished| was cancelled)`);
      const seen = await vs.waitForNotification(new RegExp(`Zoo ${zoo}: 1 running of 1|${ended.source}`), 120_000);
      const dir = join(vs.workspace, '.feature-complexity', 'zoos', zoo);
      const args = (JSON.parse(readFileSync(join(dir, 'zoo.json'), 'utf8')) as { args: string[] }).args;
      if (!ended.test(seen.message) && args.join(' ').includes('--orders 0,2,4,8,14,20')) {
        running = seen;
        started = JSON.parse(readFileSync(join(dir, 'rows', '0.json'), 'utf8')) as { state: string; pid: number };
      } else {
        assert.ok(attempt < 3, `no run of the slow settings was seen running: ${args.join(' ')}; the notification: ${seen.message}`);
        process.stderr.write(`[e2e] attempt ${attempt} was not the slow run seen running (${seen.message}); again\n`);
        if (!ended.test(seen.message)) await vs.waitForNotification(ended, ZOO_TIMEOUT_MS);
        await vs.clearNotifications();
      }
    }
    await vs.screenshot('running');
    const dir = join(vs.workspace, '.feature-complexity', 'zoos', zoo);
    assert.equal(started.state, 'running');
    await running!.locator.locator('.monaco-button', { hasText: /^Cancel$/ }).click();

    const end = await vs.waitForNotification(new RegExp(`zoo ${zoo}(:| finished| was cancelled)`), 60_000);
    assert.equal(end.message, `Feature Complexity: zoo ${zoo} was cancelled: 1 failed of 1.`);
    assert.equal(end.severity, 'warning');
    // The row's process records that it was cancelled. (`zoo cancel` signals the row twice, itself and
    // through the local run; a second SIGTERM that lands while the first is being recorded ends the
    // process before it has written, and the engine then reports the row as stopped without finishing.)
    const record = JSON.parse(readFileSync(join(dir, 'rows', '0.json'), 'utf8')) as { state: string; error?: string };
    const errLog = existsSync(join(dir, 'logs', '0.err')) ? readFileSync(join(dir, 'logs', '0.err'), 'utf8').slice(-1500) : '(no log)';
    assert.ok(
      (record.state === 'failed' && record.error === 'cancelled (SIGTERM)') || record.state === 'running',
      `record ${JSON.stringify(record)}; 0.err:\n${errLog}`,
    );
    if (record.state === 'running')
      process.stderr.write('[e2e] the cancelled row ended before it recorded its cancellation (the double SIGTERM of zoo cancel)\n');
    await vs.until('the row’s engine process to end', () => {
      try {
        process.kill(started!.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.ok(!existsSync(join(dir, 'local-run.json')), 'the local run is gone');
    await zooNode(vs, /^1 failed$/, UI_TIMEOUT_MS, zoo);
    await vs.screenshot('cancelled');
  });
});

/**
 * Stand-ins for Slurm's commands: sbatch records the script and queues its array's tasks as
 * PENDING (job ids from 4242), or fails like a refused submission while `<state>/fail` exists;
 * squeue lists the queue; scancel empties it; sacct has no accounting. They come first on the
 * PATH of the engine's processes through a `featureComplexity.nodePath` wrapper (the extension
 * host's own PATH is the login shell's, which code-server resolves afresh). A real cluster's
 * behaviour is the engine's tests' business; here the host's side is under test.
 */
function fakeSlurm(state: string): string {
  const bin = join(state, 'bin');
  mkdirSync(bin, { recursive: true });
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script(
    'sbatch',
    `S='${state}'
if [ -e "$S/fail" ]; then echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1; fi
for a; do f="$a"; done
echo "$@" >> "$S/sbatch.args"
cp "$f" "$S/last.sbatch"
n=$(cat "$S/next" 2>/dev/null || echo 4242); echo $((n + 1)) > "$S/next"
range=$(sed -n 's/^#SBATCH --array=\\([0-9,-]*\\).*/\\1/p' "$f")
for part in $(echo "$range" | tr ',' ' '); do
  i=\${part%-*}; b=\${part#*-}
  while [ "$i" -le "$b" ]; do echo "\${n}_$i|PENDING" >> "$S/queue"; i=$((i + 1)); done
done
echo "$n"`,
  );
  script('squeue', `cat '${state}/queue' 2>/dev/null; exit 0`);
  script('scancel', `echo "$@" >> '${state}/scancel.args'; : > '${state}/queue'`);
  script('sacct', 'echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1');
  // The Node the extension runs the engine's CLI with: this one, with the stand-ins first on its PATH.
  script('node', `PATH='${bin}':"$PATH" exec '${process.execPath}' "$@"`);
  return join(bin, 'node');
}

describe('a folder of checkpoints submitted to Slurm', { timeout: 10 * 60_000 }, () => {
  let vs: VsCode;
  const state = mkdtempSync(join(tmpdir(), 'fc-e2e-slurm-'));

  before(
    async () => {
      vs = await VsCode.start({
        name: 'zoo-slurm',
        prepare: copyCheckpoints,
        userSettings: {
          ...ANALYSIS_SETTINGS,
          'featureComplexity.cluster.scheduler': 'slurm',
          'featureComplexity.cluster.partition': 'main',
          'featureComplexity.cluster.cpusPerTask': 2,
          'featureComplexity.cluster.sbatchArgs': ['--mem=1G'],
          'featureComplexity.nodePath': fakeSlurm(state),
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
    rmSync(state, { recursive: true, force: true });
  });

  test('a refused submission shows sbatch’s one line; then the job array is submitted, its rows queued, cancelled and resubmitted', async () => {
    // sbatch refuses: its reason, through the engine's one-line error, in an error message.
    writeFileSync(join(state, 'fail'), '');
    await vs.explorerContextMenuWhen(FOLDER, (l) => l.includes(MENU));
    await analyzeFolder(vs);
    const refused = await vs.waitForNotification(/Feature Complexity: zoo /, 120_000);
    await vs.screenshot('sbatch-refused');
    assert.equal(refused.severity, 'error', refused.message);
    assert.match(
      refused.message,
      /^Feature Complexity: zoo zoo-checkpoints: sbatch .*failed: sbatch: error: Batch job submission failed: Invalid partition name/,
    );
    await zooNode(vs, /^3 waiting$/);
    await vs.clearNotifications();

    // Submitted: the job, its three tasks queued in the view.
    rmSync(join(state, 'fail'));
    await analyzeFolder(vs);
    const submitted = await vs.waitForNotification(/Feature Complexity: zoo /, 120_000);
    assert.equal(submitted.severity, 'info', submitted.message);
    assert.equal(submitted.message, 'Feature Complexity: zoo zoo-checkpoints: submitted job 4242 (3 rows); the Feature Complexity view follows its rows.');
    const batch = readFileSync(join(state, 'last.sbatch'), 'utf8');
    for (const line of ['#SBATCH --array=0-2', '#SBATCH --partition=main', '#SBATCH --cpus-per-task=2', '#SBATCH --mem=1G'])
      assert.ok(batch.split('\n').includes(line), `${line} in the batch script:\n${batch}`);
    const zooRow = await zooNode(vs, /^3 queued$/);
    const pane = await vs.viewPane('Feature Complexity');
    await pane.locator('.monaco-list-row .codicon-clock').nth(2).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('queued');
    await vs.clearNotifications();

    // Cancel Zoo: scancel of the job; the tasks left the queue without starting, so the rows failed.
    const labels = await zooMenu(vs, zooRow, 'queued-menu', 'Cancel Zoo');
    for (const l of ['Cancel Zoo', 'Run Zoo Again']) assert.ok(labels.includes(l), `${l} in ${JSON.stringify(labels)}`);
    const cancelled = await vs.waitForNotification(/Feature Complexity: zoo /, 60_000);
    assert.equal(cancelled.message, 'Feature Complexity: zoo zoo-checkpoints: scancel 4242.');
    assert.equal(readFileSync(join(state, 'scancel.args'), 'utf8').trim(), '4242');
    const failed = await zooNode(vs, /^3 failed$/, 60_000);
    await vs.screenshot('cancelled');
    await vs.clearNotifications();

    // Resubmit Failed Rows to Slurm: a new job for the three rows.
    await zooMenu(vs, failed, 'failed-menu', 'Resubmit Failed Rows to Slurm');
    const again = await vs.waitForNotification(/Feature Complexity: zoo /, 120_000);
    assert.equal(again.message, 'Feature Complexity: zoo zoo-checkpoints: submitted job 4243 (3 rows); the Feature Complexity view follows its rows.');
    await zooNode(vs, /^3 queued$/);
    const args = readFileSync(join(state, 'sbatch.args'), 'utf8').trim().split('\n');
    assert.equal(args.length, 2, 'two submissions reached sbatch');
    await vs.screenshot('resubmitted');
  });
});
