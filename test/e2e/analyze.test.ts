/**
 * The whole analysis as a user runs it in the real workbench: right-click a checkpoint, answer the
 * dataset / target layer / budget prompts, watch the progress notification, read the ρ values in
 * the results panel; a second run asks nothing; a cancelled run keeps its finished orders; the
 * panel survives a window reload; a corrupt checkpoint gives a readable error and the engine stays up.
 *
 * The teacher is generated here (a 28×28×1 conv net whose target layer a disentangler can reach),
 * the data is the repository's Fashion-MNIST demo subset, and the workspace settings pick the
 * smallest analysis a user could ask for (three orders, width 4), so the file runs in minutes.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { repoRoot, SESSION_START_TIMEOUT_MS, UI_TIMEOUT_MS, VsCode } from './harness';

const ANALYZE = 'Analyze Feature Complexity';
const CAPABILITIES = 'Feature Complexity: Show Engine Capabilities';
const ORDERS = [0, 2, 4];
/** The engine starts on the first request; on a loaded 2-core machine that takes a while. */
const ENGINE_TIMEOUT_MS = 90_000;
/** A quick analysis of three orders at width 4: ~8 s alone on this machine, more beside a workbench. */
const ANALYSIS_TIMEOUT_MS = 120_000;

interface Result {
  complete: boolean;
  targetLayer: string;
  budget: string;
  backend: string;
  threads?: number;
  backendDetail?: string;
  orders: number[];
  plannedOrders?: number[];
  teacher: { testAccuracy: number };
  components: { order: number; rho: number; rhoTest?: number }[];
  residue: { rho: number; rhoTest?: number };
}

/** Seeded conv1 (14×14×4) → conv2 (7×7×8, the default target) → flatten → logits, as model.json + weights.bin. */
async function writeTeacher(dir: string): Promise<void> {
  await tf.setBackend('cpu');
  const model = tfl.sequential();
  model.add(
    tfl.layers.conv2d({
      inputShape: [28, 28, 1],
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      name: 'conv1',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  model.add(
    tfl.layers.conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      name: 'conv2',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax', name: 'logits', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (art) => {
      if (!(art.weightData instanceof ArrayBuffer)) throw new Error('expected one weight buffer');
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(art.weightData));
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({ format: 'layers-model', modelTopology: art.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
}

describe('analyzing a checkpoint in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;
  let teacherDir: string;
  const resultsFolder = () => join(vs.workspace, '.feature-complexity');
  /** Result files of one checkpoint (a model.json is named after its folder), oldest first. */
  const resultFiles = (name: string) =>
    readdirSync(resultsFolder(), { withFileTypes: true })
      .filter((d) => d.isFile() && d.name.startsWith(`${name}-`) && d.name.endsWith('.json'))
      .map((d) => d.name)
      .sort();
  const readResult = (file: string) => JSON.parse(readFileSync(join(resultsFolder(), file), 'utf8')) as Result;

  /** Rows of the panel's significance table: label → [ρ train, ρ test] as displayed. */
  async function significanceTable(): Promise<Map<string, string[]>> {
    const rows = vs.webview().locator('#block-significance vscode-data-grid-row');
    const cells = await rows.evaluateAll((els) => els.map((r) => [...r.querySelectorAll('vscode-data-grid-cell')].map((c) => (c.textContent ?? '').trim())));
    return new Map(cells.filter((c) => c.length > 0).map(([label, ...values]) => [label, values]));
  }

  /**
   * The file the visible panel shows (its header names it), and that the table shows that file's ρ
   * at 4 decimals. The panel follows its file while the engine rewrites it after each order, so the
   * comparison is repeated until the panel caught up, or the time is up.
   */
  async function assertPanelShowsItsFile(): Promise<{ file: string; result: Result }> {
    const end = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      try {
        return await panelShowsItsFile();
      } catch (e) {
        if (Date.now() > end) throw e;
        await vs.page.waitForTimeout(500);
      }
    }
  }

  async function panelShowsItsFile(): Promise<{ file: string; result: Result }> {
    const header = vs.webview().locator('p.file');
    await header.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const file = (await header.innerText()).split(' · ')[0].trim();
    const result = readResult(file);
    // The table is drawn once the file reached the webview; its last row is the residue.
    await vs
      .webview()
      .locator('#block-significance vscode-data-grid-cell', { hasText: /^\s*residue Δf\s*$/ })
      .first()
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const table = await significanceTable();
    const shown = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(4));
    for (const c of result.components) {
      const expected = c.rhoTest === undefined ? [shown(c.rho)] : [shown(c.rho), shown(c.rhoTest)];
      assert.deepEqual(table.get(`l = ${c.order}`), expected, `ρ of l = ${c.order} in the panel vs ${file}`);
    }
    const residue = result.residue.rhoTest === undefined ? [shown(result.residue.rho)] : [shown(result.residue.rho), shown(result.residue.rhoTest)];
    assert.deepEqual(table.get('residue Δf'), residue, `ρ of the residue in the panel vs ${file}`);
    assert.equal(table.size, result.components.length + 2, `one row per finished order, the residue and the header: ${JSON.stringify([...table.keys()])}`);
    const teacher = (await vs.webview().locator('#stat-teacher .value').innerText()).trim();
    assert.equal(teacher, `${(result.teacher.testAccuracy * 100).toFixed(1)} %`);
    return { file, result };
  }

  before(
    async () => {
      teacherDir = mkdtempSync(join(tmpdir(), 'fc-e2e-teacher-'));
      await writeTeacher(teacherDir);
      vs = await VsCode.start({
        name: 'analyze',
        prepare: (ws) => {
          // The fixture's own model.json has a 13×13 conv output that no disentangler stride schedule reaches.
          for (const f of ['model.json', 'weights.bin']) {
            cpSync(join(teacherDir, f), join(ws, f));
            cpSync(join(teacherDir, f), join(ws, 'slow', f));
          }
          cpSync(join(repoRoot, 'media', 'demo', 'fashion-mnist'), join(ws, 'data', 'fashion-mnist'), { recursive: true });
          mkdirSync(join(ws, 'broken'));
          writeFileSync(join(ws, 'broken', 'model.json'), '{"modelTopology": {"class_name": "Sequen\u0000\u0007 not json at all');
          mkdirSync(join(ws, '.vscode'));
          writeFileSync(
            join(ws, '.vscode', 'settings.json'),
            JSON.stringify(
              { 'featureComplexity.orders': ORDERS, 'featureComplexity.width': 4, 'featureComplexity.shapley': true, 'featureComplexity.substitution': true },
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
    rmSync(teacherDir, { recursive: true, force: true });
  });

  test('first run: dataset, target layer and budget prompts, a progress notification, the panel shows the file’s ρ', async () => {
    await vs.explorerContextMenuClick('model.json', ANALYZE, 1);

    const dataset = await vs.quickPick(/^Dataset/, 'dataset-prompt');
    assert.equal(dataset.items[0], 'fashion-mnist', `dataset prompt: ${JSON.stringify(dataset)}`);
    assert.equal(dataset.descriptions[0], 'data/fashion-mnist');
    assert.match(dataset.items[dataset.items.length - 1], /Browse…$/);
    await vs.acceptQuickPick('fashion-mnist');

    const layer = await vs.quickPick(/^Target layer/, 'layer-prompt', ENGINE_TIMEOUT_MS);
    assert.deepEqual(layer.items, ['conv1', 'conv2', 'flatten', 'logits']);
    assert.equal(layer.active, 'conv2', 'the engine’s default target layer is preselected');
    await vs.acceptQuickPick();

    const budget = await vs.quickPick(/^Training budget/, 'budget-prompt');
    assert.deepEqual(budget.items, ['quick', 'standard', 'thorough', 'reference']);
    await vs.acceptQuickPick('quick');

    const progress = await vs.waitForNotification(/order \d+ \(\d of \d\) · epoch \d+/, ANALYSIS_TIMEOUT_MS);
    await vs.screenshot('progress');
    // Which order of how many trains: order 2 is the 2nd of the 3 in the workspace setting.
    const place = /order (\d+) \((\d) of (\d)\) · epoch \d+ · loss [\d.]+e[-+]\d+ \(\d+%\)/.exec(progress.message);
    assert.ok(place, progress.message);
    assert.deepEqual([Number(place[2]), Number(place[3])], [ORDERS.indexOf(Number(place[1])) + 1, ORDERS.length], progress.message);

    const done = await vs.waitForNotification('finished', ANALYSIS_TIMEOUT_MS);
    assert.equal(done.severity, 'info', done.message);
    const { file, result } = await assertPanelShowsItsFile();
    await vs.screenshot('results-panel');
    assert.deepEqual(resultFiles('workspace'), [file]);
    assert.equal(result.complete, true);
    assert.equal(result.budget, 'quick');
    assert.equal(result.targetLayer, 'conv2');
    assert.deepEqual(
      result.components.map((c) => c.order),
      ORDERS,
    );
    // The Settings tab names the backend and the threads each training step used: every core by default.
    const frame = vs.webview();
    await frame.locator('#tab-settings').click();
    const settingsBox = frame.locator('#block-settings');
    await settingsBox.locator('dt', { hasText: 'Threads per training step' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const shown = await settingsBox
      .locator('dl')
      .evaluate((dl) => Object.fromEntries([...dl.querySelectorAll('dt')].map((dt) => [dt.textContent ?? '', dt.nextElementSibling?.textContent ?? ''])));
    await vs.screenshot('settings-tab');
    assert.equal(result.threads, availableParallelism());
    assert.equal(shown['Threads per training step'], String(result.threads), JSON.stringify(shown));
    assert.equal(shown['Backend'], result.backendDetail ? `${result.backend}: ${result.backendDetail}` : result.backend);
    await frame.locator('#tab-significance').click();
    await vs.clearNotifications();
  });

  test('second run on the same checkpoint asks nothing: progress, then the panel of the new file', async () => {
    const before = resultFiles('workspace');
    await vs.explorerContextMenuClick('model.json', ANALYZE, 1);
    const widget = vs.page.locator('.quick-input-widget');
    const progress = await vs.waitForNotification(/order \d+ \(\d of \d\) · epoch \d+/, ANALYSIS_TIMEOUT_MS);
    assert.ok(!(await widget.isVisible()), 'no prompt while the remembered answers run');
    await vs.screenshot('rerun-progress');
    assert.match(progress.message, /order/);
    await vs.waitForNotification('finished', ANALYSIS_TIMEOUT_MS);
    const added = resultFiles('workspace').filter((f) => !before.includes(f));
    assert.equal(added.length, 1, `one new result file: ${JSON.stringify(added)}`);
    const { file, result } = await assertPanelShowsItsFile();
    await vs.screenshot('rerun-panel');
    assert.equal(file, added[0], 'the panel shows the new file');
    assert.equal(result.budget, 'quick', 'the remembered budget');
    assert.ok(!(await widget.isVisible()), 'no prompt after the run');
    await vs.clearNotifications();
  });

  test('the results panel survives a window reload', async () => {
    const { file } = await assertPanelShowsItsFile();
    await vs.reloadWindow();
    const again = await assertPanelShowsItsFile();
    await vs.screenshot('after-reload');
    assert.equal(again.file, file);
  });

  test('cancel after the first order: warning, a file with complete: false and the finished order, the incomplete badge', async () => {
    await vs.explorerFolder('slow', true);
    await vs.explorerContextMenuClick('model.json', ANALYZE, 2);
    await vs.quickPick(/^Dataset/);
    await vs.acceptQuickPick('fashion-mnist');
    await vs.quickPick(/^Target layer/, undefined, ENGINE_TIMEOUT_MS);
    await vs.acceptQuickPick();
    await vs.quickPick(/^Training budget/);
    // Thorough trains each order for tens of seconds here: time to cancel during the second one.
    await vs.acceptQuickPick('thorough');

    const progress = await vs.waitForNotification(new RegExp(`order 2 \\(2 of ${ORDERS.length}\\) · epoch \\d+`), 4 * ANALYSIS_TIMEOUT_MS);
    // Order 0 is in the file now, and the panel opens on it while order 2 trains.
    await vs
      .webview()
      .locator('p.file', { hasText: /^slow-/ })
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const live = await assertPanelShowsItsFile();
    assert.match(live.file, /^slow-/);
    assert.equal(live.result.complete, false);
    await vs.screenshot('cancel-during-order-2');
    await progress.locator.hover();
    await progress.locator.locator('.monaco-button', { hasText: /^Cancel$/ }).click();

    const warning = await vs.waitForNotification('finished orders are kept', ANALYSIS_TIMEOUT_MS);
    assert.equal(warning.severity, 'warning', warning.message);
    const [file] = resultFiles('slow');
    assert.ok(file, 'a result file of slow/model.json');
    assert.ok(warning.message.includes(file), `the warning names ${file}: ${warning.message}`);
    assert.ok(warning.message.includes(`after 1 of ${ORDERS.length} orders`), warning.message);
    const result = readResult(file);
    assert.equal(result.complete, false);
    assert.deepEqual(
      result.components.map((c) => c.order),
      [0],
    );
    // The finished orders, and the plan they are part of.
    assert.deepEqual(result.orders, [0]);
    assert.deepEqual(result.plannedOrders, ORDERS);

    const shown = await assertPanelShowsItsFile();
    assert.equal(shown.file, file);
    const badge = (await vs.webview().locator('#incomplete').innerText()).trim();
    assert.equal(badge, `incomplete: 1 of ${ORDERS.length} orders finished`);
    await vs.screenshot('cancelled-panel');
    // The Feature Complexity view says the same of the analysis.
    const pane = await vs.viewPane('Feature Complexity');
    const row = pane.locator('.monaco-list-row', { hasText: `incomplete: 1 of ${ORDERS.length} orders` });
    await row.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('cancelled-tree');
    await vs.clearNotifications();
    await vs.explorerFolder('slow', false);
  });

  test('a corrupt checkpoint: an error naming the file, and the engine stays up', async () => {
    const [pid] = vs.enginePids();
    // Only one model.json may show at depth 2: the corrupt one.
    await vs.explorerFolder('slow', false);
    await vs.explorerFolder('broken', true);
    await vs.explorerContextMenuClick('model.json', ANALYZE, 2);
    // The checkpoint is read while the dataset prompt shows; its failure closes the prompt unanswered.
    const err = await vs.waitForNotification(/model\.json/, ENGINE_TIMEOUT_MS);
    await vs.screenshot('corrupt-checkpoint');
    assert.ok(!(await vs.page.locator('.quick-input-widget').isVisible()), 'no prompt stays open for a checkpoint that cannot be read');
    assert.equal(err.severity, 'error', err.message);
    assert.match(err.message, /broken[\\/]model\.json/);
    await vs.clearNotifications();

    await vs.runCommand(CAPABILITIES);
    const caps = await vs.waitForNotification('Feature Complexity engine', ENGINE_TIMEOUT_MS);
    assert.match(caps.message, /\bwasm\b/);
    assert.deepEqual(vs.enginePids(), [pid], 'the same engine process answered');
    await vs.clearNotifications();
    await vs.explorerFolder('broken', false);
  });

  test('the results panel in a light and a dark theme', async () => {
    for (const [theme, kind] of [
      ['Default Light Modern', 'vscode-light'],
      ['Default Dark Modern', 'vscode-dark'],
    ] as const) {
      await vs.setColorTheme(theme);
      await vs.webview().locator(`body.${kind}`).waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
      await assertPanelShowsItsFile();
      // Charts redraw on the theme change; give them a frame.
      await vs.page.waitForTimeout(500);
      await vs.screenshot(`theme-${kind}`);
    }
  });
});
