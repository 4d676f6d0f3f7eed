/**
 * The comparison, prediction and calibration views as the user meets them: two stored analyses
 * selected together in the Explorer open in one comparison that names both and warns that their
 * settings differ; "Predict Performance from Analyses" fits the engine's regressor on every
 * analysis with reliability, warns that their settings differ and fits again on the largest group
 * that agrees; a saved calibration opens from its context menu.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { syntheticZoo } from '../fixtures/views/synthetic';
import { predictFromResults } from '../../src/analysis/experiments/predict';
import type { Locator } from 'playwright-core';
import { repoRoot, SESSION_START_TIMEOUT_MS, storeResults, UI_TIMEOUT_MS, VsCode } from './harness';

const FILES = ['fixture-complete.json', 'demo-quick.json'].map((f) => join(repoRoot, 'test', 'fixtures', 'results', f));
const ZOO = syntheticZoo(12, 7);
const CALIBRATION = join(repoRoot, 'test', 'fixtures', 'views', 'task-complexity-quick.json');
const CALIBRATION_NAME = 'task-complexity-2026-11-26T04-13-00-000Z.json';
/** A saved prediction: the engine's report on the synthetic zoo, as "Export JSON" of the prediction view writes it. */
const PREDICTION = predictFromResults(
  ZOO.map((z, i) => ({ path: `/r/zoo-${i}.json`, result: z.result })),
  { repeats: 200 },
);

interface Result {
  checkpoint: { path: string };
  targetLayer: string;
  budget: string;
  components: { order: number; rho: number }[];
}

/** The legend name the view gives an analysis: checkpoint (a model.json by its folder) · layer · budget. */
function legendName(r: Result): string {
  const parts = r.checkpoint.path.split('/').filter(Boolean);
  const name = parts[parts.length - 1] === 'model.json' ? parts[parts.length - 2] : parts[parts.length - 1];
  return `${name} · ${r.targetLayer} · ${r.budget}`;
}

/**
 * Right-clicks `row` until its context menu shows `label`, and runs that entry: on a loaded
 * machine a menu can open, or take a click, while the Explorer re-renders (file events of the
 * fixture copy), so a menu still open after the click gets Enter on its highlighted entry.
 */
async function runContextMenu(vs: VsCode, row: Locator, label: string, step?: string, prepare?: () => Promise<void>): Promise<void> {
  const item = await contextMenuItem(vs, row, label, prepare);
  if (step) await vs.screenshot(step);
  await item.hover();
  await item.click();
  const menu = vs.page.locator('.context-view .monaco-menu');
  await menu.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => vs.page.keyboard.press('Enter'));
}

async function contextMenuItem(vs: VsCode, row: Locator, label: string, prepare?: () => Promise<void>): Promise<Locator> {
  const item = vs.page.locator('.context-view .monaco-menu .action-item .action-label', { hasText: new RegExp(`^${label}$`) });
  for (let attempt = 1; ; attempt++) {
    await prepare?.();
    await row.click({ button: 'right' });
    try {
      await item.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS / 3 });
      return item;
    } catch (e) {
      if (attempt === 4) {
        await vs.screenshot(`context-menu-without-${label.replace(/\W+/g, '-').toLowerCase()}`);
        throw e;
      }
      if (process.env.FC_E2E_DEBUG) await vs.screenshot(`context-menu-attempt-${attempt}`);
      await vs.page.keyboard.press('Escape');
    }
  }
}

describe('comparing stored analyses in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;
  const results = FILES.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Result);

  before(
    async () => {
      vs = await VsCode.start({
        name: 'views',
        prepare: (ws) => {
          const dir = storeResults(ws, FILES);
          ZOO.forEach((z, i) => writeFileSync(join(dir, `zoo-${i}.json`), JSON.stringify(z.result)));
          cpSync(CALIBRATION, join(dir, CALIBRATION_NAME));
          writeFileSync(join(dir, 'prediction.json'), JSON.stringify(PREDICTION, null, 2));
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('two analyses selected in the Explorer open in one comparison that names both', async () => {
    const folder = vs.explorerRow('.feature-complexity');
    await folder.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    if ((await folder.getAttribute('aria-expanded')) !== 'true') await folder.click();
    const [first, second] = FILES.map((f) => vs.explorerRow(basename(f)));
    await first.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    // Both rows selected before each right-click, or the menu is the single-file one: a re-render
    // of the Explorer (file events of the fixture copy) can drop a selection made a moment before.
    const selected = vs.page.locator('.explorer-folders-view .monaco-list-row[aria-selected="true"]');
    // A Ctrl+click can land while the Explorer re-renders and count as a plain click: try again,
    // and on alternate tries extend the selection from the first row with Shift+Arrow instead
    // (the two files are neighbours in the Explorer's alphabetical order).
    const selectBoth = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        await first.click();
        // The click opens the file in a preview editor; once that editor is up, the Explorer
        // reveals (and selects) the active file again: select the second row after that.
        await vs.page
          .locator('.tabs-container .tab', { hasText: basename(FILES[0]) })
          .first()
          .waitFor({ state: 'visible', timeout: 10_000 })
          .catch(() => undefined);
        await vs.page.waitForTimeout(300);
        if (attempt % 2 === 1) await second.click({ modifiers: ['Control'] });
        else await vs.page.keyboard.press(basename(FILES[1]) < basename(FILES[0]) ? 'Shift+ArrowUp' : 'Shift+ArrowDown');
        for (let tries = 0; tries < 20 && (await selected.count()) < 2; tries++) await vs.page.waitForTimeout(100);
        if ((await selected.count()) === 2) return;
        if (attempt === 6) throw new Error(`two rows should be selected, ${await selected.count()} are`);
      }
    };
    await runContextMenu(vs, second, 'Compare Analyses', 'explorer-compare-menu', selectBoth);

    const names = results.map(legendName);
    const frame = vs.webview();
    await frame.locator('#compared').getByText(names[1], { exact: true }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('comparison-panel');
    const listed = (await frame.locator('#compared .name').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual([...listed].sort(), [...names].sort());
    // The two were analysed with different orders, widths and layers: the view says so.
    assert.match(await frame.locator('#settings-differ').innerText(), /Settings differ: orders/);
    const text = await frame.locator('body').innerText();
    assert.ok(text.includes(results[0].components[0].rho.toFixed(3)), 'ρ of the first analysis at l = 0 is in the table');
    assert.ok(text.includes(results[1].components[0].rho.toFixed(3)), 'ρ of the second analysis at l = 0 is in the table');
  });

  test('Predict Performance fits the regressor on every analysis with reliability and shows its error', async () => {
    await vs.page.keyboard.press('Escape');
    await vs.runCommand('View: Close All Editors');
    const page = vs.page;
    // The command opens its own pick lists at once, so the palette is driven by hand here.
    await page
      .locator('.monaco-workbench')
      .focus()
      .catch(() => undefined);
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await input.fill('>Feature Complexity: Predict Performance from Analyses');
    await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await page.keyboard.press('Enter');
    const title = page.locator('.quick-input-widget .quick-input-title');
    await title.getByText('Analyses to fit the regressor on').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('predict-pick-fit');
    await page.keyboard.press('Enter');
    await title.getByText('Predict one checkpoint (kept out of the fit)?').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await page.keyboard.press('Enter');

    const frame = vs.webview();
    await frame.locator('#stat-mae').waitFor({ state: 'visible', timeout: 90_000 });
    await vs.screenshot('predict-panel');
    // The zoo and the one fixture that measured reliability; the demo did not.
    const withReliability = ZOO.length + 1;
    assert.match(await frame.locator('header .file').innerText(), new RegExp(`^${withReliability} models; vector: reliable\\(0\\)`));
    assert.match(await frame.locator('#stat-mae .value').innerText(), /^\d+\.\d\d pts ± \d+\.\d\d pts$/);
    assert.match(await frame.locator('#stat-r2 .value').innerText(), /^-?\d+\.\d{3}$/);
    assert.ok(await frame.locator('#colour-legend').isVisible(), 'the PCA colour scale is shown');

    // The hand-made fixture was analysed with other orders, width, budget and task than the zoo: the panel says so.
    const settings = frame.locator('#predict-settings');
    assert.match(await settings.innerText(), /^The analyses differ in settings: orders, disentangler width, budget, task \(format, classes, test samples\)\./);
    assert.match(await settings.innerText(), /quick: 12 analyses\nstandard: 1 analysis/);
    const refit = frame.locator('#predict-refit');
    assert.equal((await refit.innerText()).trim(), `Fit only the largest consistent group (${ZOO.length} analyses)`);
    await refit.click();
    await frame.locator('header .file', { hasText: new RegExp(`^${ZOO.length} models;`) }).waitFor({ state: 'visible', timeout: 90_000 });
    await vs.screenshot('predict-panel-consistent');
    assert.match(
      await settings.innerText(),
      new RegExp(`Only the largest group with the same settings was fitted: ${ZOO.length} of ${withReliability} analyses; left out: fashion-cnn\\.`),
    ); // a model.json is named by its folder, as everywhere
    assert.equal((await refit.innerText()).trim(), `Fit all ${withReliability} analyses again`);
  });

  test('a saved calibration opens from its context menu with its verdict', async () => {
    await vs.runCommand('View: Close All Editors');
    await runContextMenu(vs, vs.explorerRow(CALIBRATION_NAME), 'Open Task-Complexity Calibration');
    const frame = vs.webview();
    await frame
      .locator('#verdict')
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS })
      .catch(async (e: unknown) => {
        throw new Error(`no calibration verdict; screenshot ${await vs.screenshot('calibration-missing')}`, { cause: e });
      });
    await vs.screenshot('calibration-panel');
    const out = JSON.parse(readFileSync(CALIBRATION, 'utf8')) as { tasks: { k: number; centreOfMass: number }[] };
    const verdict = await frame.locator('#verdict').innerText();
    const first = out.tasks[0];
    assert.ok(verdict.includes(`${first.centreOfMass.toFixed(2)} at k = ${first.k}`), verdict);
    const text = await frame.locator('body').innerText();
    for (const t of out.tasks) assert.ok(text.includes(`k = ${t.k}`), `task k = ${t.k} is shown`);
  });

  test('the Feature Complexity view lists the saved calibration and prediction with their headlines, and a click opens each', async () => {
    await vs.runCommand('View: Close All Editors');
    const pane = await vs.viewPane('Feature Complexity');
    // The groups come after the analyses: End scrolls the list down to them.
    await pane.locator('.monaco-list-row').first().click();
    await vs.page.keyboard.press('End');
    const out = JSON.parse(readFileSync(CALIBRATION, 'utf8')) as { tasks: { k: number; centreOfMass: number }[] };
    const centres = out.tasks.map((t) => `k=${t.k}: ${t.centreOfMass.toFixed(2)}`).join(' · ');
    const calibration = pane.locator('.monaco-list-row[aria-level="2"]', { hasText: centres });
    const mae = (x: number) => `${(100 * x).toFixed(2)} pts`;
    const cv = PREDICTION.crossValidation;
    const prediction = pane.locator('.monaco-list-row[aria-level="2"]', { hasText: `MAE ${mae(cv.maeTest)} ± ${mae(cv.maeTestStd)} · ${ZOO.length} models` });
    await calibration.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await prediction.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await pane.locator('.monaco-list-row[aria-level="1"]', { hasText: 'Task-complexity calibrations' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await pane.locator('.monaco-list-row[aria-level="1"]', { hasText: 'Predictions' }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('tree-calibration-prediction');

    await calibration.click();
    const frame = vs.webview();
    await frame.locator('#verdict').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.ok((await frame.locator('#verdict').innerText()).includes(`${out.tasks[0].centreOfMass.toFixed(2)} at k = ${out.tasks[0].k}`));

    await vs.runCommand('View: Close All Editors');
    await prediction.click();
    await frame.locator('#stat-mae').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('saved-prediction-panel');
    assert.equal((await frame.locator('#stat-mae .value').innerText()).trim(), `${mae(cv.maeTest)} ± ${mae(cv.maeTestStd)}`);
    assert.match(await frame.locator('header .file').innerText(), new RegExp(`^${ZOO.length} models; vector: reliable\\(0\\)`));
  });
});
