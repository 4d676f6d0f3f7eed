/**
 * The reliability of a result the engine wrote itself (test/fixtures/results/engine-reliability.json,
 * from scripts/make-fixtures.ts results), as the user meets it in VS Code: opened from the Feature
 * Complexity view, its Reliability tab shows a table and a stacked bar chart whose numbers are the
 * file's. The engine writes the reliable and unreliable parts as shares of Var[f]; the panel must
 * show them as they are (it once divided them by Var[f] again). The chart is read back from what
 * it drew (the canvas's data-drawn: each bar's top minus its base on the value axis).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DrawnValues } from '../../src/webview/common/drawnValues';
import { repoRoot, SESSION_START_TIMEOUT_MS, storeResults, UI_TIMEOUT_MS, VsCode } from './harness';

const RESULT_FILE = join(repoRoot, 'test', 'fixtures', 'results', 'engine-reliability.json');

interface Result {
  engineVersion?: string;
  featureVariance: number;
  components: { order: number; rho: number }[];
  reliability: { order: number; reliableRho: number; reliableVariance: number; unreliableVariance: number }[];
  reliabilityTest: { order: number; reliableRho: number }[];
}

describe('reliability of an engine-written result in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;
  const result = JSON.parse(readFileSync(RESULT_FILE, 'utf8')) as Result;
  const file = [...result.reliability].sort((a, b) => a.order - b.order);

  before(
    async () => {
      vs = await VsCode.start({
        name: 'reliability',
        prepare: (ws) => storeResults(ws, [RESULT_FILE]),
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test("the Reliability tab's table and chart show the file's shares of Var[f] and ρ_rel", async () => {
    assert.ok(file.length > 0 && result.engineVersion, 'the fixture is an engine result with reliability');
    const pane = await vs.viewPane('Feature Complexity');
    const analysisRow = pane.locator('.monaco-list-row[aria-level="2"]').first();
    await analysisRow.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await analysisRow.click();

    const frame = vs.webview();
    const tab = frame.locator('#tab-reliability');
    await tab.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await tab.click();
    const block = frame.locator('#block-reliability');
    const last = `l = ${file[file.length - 1].order}`;
    await block
      .locator('vscode-data-grid-cell', { hasText: last })
      .first()
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS })
      .catch(async (e: unknown) => {
        throw new Error(`the reliability table has no row ${last}; screenshot ${await vs.screenshot('reliability-missing')}`, { cause: e });
      });
    const canvas = frame.locator('#chart-reliability');
    // The chart writes what it drew after each draw.
    await frame.locator('#chart-reliability[data-drawn]').waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
    const shot = await vs.screenshot('reliability-tab');

    // The table: order, ρ_rel in percent on the training and the test samples, reliable / Var[f], unreliable / Var[f].
    const cells = await block
      .locator('vscode-data-grid-row')
      .evaluateAll((els) => els.map((r) => [...r.querySelectorAll('vscode-data-grid-cell')].map((c) => (c.textContent ?? '').trim())));
    const table = new Map(cells.filter((c) => c.length === 5 && c[0].startsWith('l = ')).map(([label, ...values]) => [label, values]));
    assert.equal(table.size, file.length, `one row per order with reliability: ${JSON.stringify([...table.keys()])} (screenshot ${shot})`);
    for (const x of file) {
      const [rel, relt, relf, unrelf] = table.get(`l = ${x.order}`) ?? [];
      assert.match(rel, /^\d+\.\d %$/);
      assert.ok(
        Math.abs(Number(rel.replace(' %', '')) / 100 - x.reliableRho) <= 0.0005 + 1e-12,
        `ρ_rel of l = ${x.order}: panel ${rel}, file ${x.reliableRho}`,
      );
      const test = result.reliabilityTest.find((t) => t.order === x.order)!;
      assert.ok(
        Math.abs(Number(relt.replace(' %', '')) / 100 - test.reliableRho) <= 0.0005 + 1e-12,
        `test ρ_rel of l = ${x.order}: panel ${relt}, file ${test.reliableRho}`,
      );
      assert.ok(
        Math.abs(Number(relf) - x.reliableVariance) <= 0.00005 + 1e-12,
        `reliable / Var[f] of l = ${x.order}: panel ${relf}, file ${x.reliableVariance}`,
      );
      assert.ok(
        Math.abs(Number(unrelf) - x.unreliableVariance) <= 0.00005 + 1e-12,
        `unreliable / Var[f] of l = ${x.order}: panel ${unrelf}, file ${x.unreliableVariance}`,
      );
    }

    // The chart: each stacked bar's height on its axis, read back from the drawing.
    const drawn = JSON.parse((await canvas.getAttribute('data-drawn')) ?? 'null') as DrawnValues;
    assert.deepEqual(
      drawn.labels,
      file.map((x) => `l = ${x.order}`),
    );
    assert.deepEqual(
      drawn.datasets.map((d) => d.label),
      ['reliable', 'unreliable'],
    );
    assert.ok(drawn.perPixel !== null && drawn.perPixel > 0, 'the value axis has a scale');
    // A bar is read back to within a pixel or two of its axis.
    const tolerance = 2 * drawn.perPixel! + 1e-9;
    const max = Math.max(...file.map((x) => x.reliableVariance + x.unreliableVariance));
    assert.ok(drawn.perPixel! < max / 50, `the bars span many pixels (${drawn.perPixel} per pixel, tallest ${max})`);
    file.forEach((x, i) => {
      const reliable = drawn.datasets[0].values[i];
      const unreliable = drawn.datasets[1].values[i];
      assert.ok(
        reliable !== null && Math.abs(reliable - x.reliableVariance) <= tolerance,
        `reliable bar of l = ${x.order}: drawn ${reliable}, file ${x.reliableVariance} (± ${tolerance})`,
      );
      assert.ok(
        unreliable !== null && Math.abs(unreliable - x.unreliableVariance) <= tolerance,
        `unreliable bar of l = ${x.order}: drawn ${unreliable}, file ${x.unreliableVariance} (± ${tolerance})`,
      );
    });
  });
});
