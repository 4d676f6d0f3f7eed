/**
 * A stored analysis as the user meets it: a result file in the workspace's .feature-complexity/
 * folder is listed in the Explorer's "Feature Complexity" view, and clicking it opens the results
 * panel (a webview) showing the significance ρ of each component read from that file; a model
 * definition in the user's code whose name matches the checkpoint gets a CodeLens with the summary.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, SESSION_START_TIMEOUT_MS, storeResults, UI_TIMEOUT_MS, VsCode } from './harness';

const RESULT_FILE = join(repoRoot, 'test', 'fixtures', 'results', 'fixture-complete.json');

/** PascalCase of the checkpoint's name (fashion-cnn → FashionCnn): the name heuristic links them. */
function definitionNameFor(checkpointName: string): string {
  return checkpointName
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase())
    .join('');
}

interface Result {
  checkpoint: { path: string };
  targetLayer: string;
  components: { order: number; rho: number; rhoTest?: number }[];
  residue: { rho: number; rhoTest?: number };
}

/** The numbers that follow a row label in the panel's text, e.g. "l = 2" → [0.197, 0.188]. */
function rowNumbers(lines: string[], label: string): number[] {
  const i = lines.indexOf(label);
  if (i < 0) return [];
  const out: number[] = [];
  for (const l of lines.slice(i + 1)) {
    const v = Number(l);
    if (l === '' || Number.isNaN(v)) break;
    out.push(v);
  }
  return out;
}

describe('stored analyses in VS Code', { timeout: 20 * 60_000 }, () => {
  let vs: VsCode;
  const result = JSON.parse(readFileSync(RESULT_FILE, 'utf8')) as Result;
  const cp = result.checkpoint.path;
  // A TF.js model.json is named after its folder.
  const cpName = basename(cp) === 'model.json' ? basename(dirname(cp)) : basename(cp);
  const linkedClass = definitionNameFor(cpName);

  before(
    async () => {
      vs = await VsCode.start({
        name: 'results',
        prepare: (ws) => {
          storeResults(ws, [RESULT_FILE]);
          writeFileSync(
            join(ws, 'net.py'),
            ['import torch.nn as nn', '', '', `class ${linkedClass}(nn.Module):`, '    pass', '', '', 'class UnseenNet(nn.Module):', '    pass', ''].join('\n'),
          );
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('the Feature Complexity view lists the analysis and opens it in the results panel with its ρ values', async () => {
    const pane = await vs.viewPane('Feature Complexity');
    // Grouped by checkpoint.
    const checkpointRow = pane.locator('.monaco-list-row[aria-level="1"]');
    await checkpointRow.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    assert.equal((await checkpointRow.first().locator('.label-name').innerText()).trim(), cpName);
    const analysisRow = pane.locator('.monaco-list-row[aria-level="2"]').first();
    await analysisRow.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('analyses-view');

    await analysisRow.click();
    const body = vs.webview().locator('body');
    const lastOrder = result.components[result.components.length - 1].order;
    // The table is drawn once the file's content reached the webview.
    await vs.webview().getByText(`l = ${lastOrder}`, { exact: true }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('results-panel');

    const text = await body.innerText();
    assert.ok(text.includes(result.targetLayer), `panel names the target layer ${result.targetLayer}`);
    const lines = text.split('\n').map((l) => l.trim());
    const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 5e-4;
    for (const c of result.components) {
      const [train, testSplit] = rowNumbers(lines, `l = ${c.order}`);
      assert.ok(close(train, c.rho), `ρ train of l = ${c.order}: panel ${train}, file ${c.rho}`);
      if (c.rhoTest !== undefined) assert.ok(close(testSplit, c.rhoTest), `ρ test of l = ${c.order}: panel ${testSplit}, file ${c.rhoTest}`);
    }
    const [residue] = rowNumbers(lines, 'residue Δf');
    assert.ok(close(residue, result.residue.rho), `ρ of the residue: panel ${residue}, file ${result.residue.rho}`);
  });

  test('a CodeLens above the matching model definition summarises the analysis and opens it', async () => {
    const pane = await vs.viewPane('Feature Complexity');
    const summary = (await pane.locator('.monaco-list-row[aria-level="1"] .label-description').first().innerText()).trim();
    assert.ok(summary.length > 0, 'the checkpoint row carries the summary');
    await vs.runCommand('View: Close All Editors');

    await vs.explorerRow('net.py').click();
    const lenses = vs.page.locator('.monaco-editor .codelens-decoration');
    await lenses.nth(1).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('codelens');
    const texts = (await lenses.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.equal(texts.length, 2, `one lens per model definition: ${JSON.stringify(texts)}`);
    // Lenses come in line order: the linked class first, the unlinked one after it.
    assert.equal(texts[0], `Feature complexity: ${summary}`);
    assert.equal(texts[1], 'Feature complexity: Analyze…');

    await lenses.first().locator('a').first().click();
    await vs.webview().getByText(`l = ${result.components[0].order}`, { exact: true }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('codelens-opened-panel');
    assert.ok((await vs.webview().locator('body').innerText()).includes(result.targetLayer));
  });
});
