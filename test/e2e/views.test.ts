/**
 * The comparison view as the user meets it: two stored analyses selected together in the
 * Explorer's .feature-complexity folder, "Compare Analyses" from their context menu, and a
 * panel that names both analyses, shows their ρ, and warns that their settings differ.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, UI_TIMEOUT_MS, VsCode } from './harness';

const FILES = ['fixture-complete.json', 'demo-quick.json'].map((f) => join(repoRoot, 'test', 'fixtures', 'results', f));

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

describe('comparing stored analyses in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;
  const results = FILES.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Result);

  before(async () => {
    vs = await VsCode.start({
      name: 'views',
      prepare: (ws) => {
        mkdirSync(join(ws, '.feature-complexity'));
        for (const f of FILES) cpSync(f, join(ws, '.feature-complexity', basename(f)));
      },
    });
  }, { timeout: SESSION_START_TIMEOUT_MS });

  after(async () => {
    await vs?.stop();
  });

  test('two analyses selected in the Explorer open in one comparison that names both', async () => {
    await vs.explorerRow('.feature-complexity').click();
    const [first, second] = FILES.map((f) => vs.explorerRow(basename(f)));
    await first.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await first.click();
    await second.click({ modifiers: ['Control'] });
    await second.click({ button: 'right' });
    const item = vs.page.locator('.context-view .monaco-menu .action-item .action-label', { hasText: /^Compare Analyses$/ });
    await item.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('explorer-compare-menu');
    await item.click();

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
});
