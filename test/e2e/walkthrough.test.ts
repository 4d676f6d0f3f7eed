/**
 * The Getting Started walkthrough (issue #17), as a new user clicks through it in code-server:
 * opened from "Welcome: Open Walkthrough…", each of its four steps shows its text and picture
 * (screenshot per step), and the first step's button analyses the demo model that ships with the
 * extension without a single question: the analysis runs, its panel opens, and the Feature
 * Complexity view lists it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SESSION_START_TIMEOUT_MS, UI_TIMEOUT_MS, VsCode } from './harness';

const WALKTHROUGH = 'Get Started with Feature Complexity';
const STEPS = ['Analyse the bundled demo model', 'Read the results panel', 'See the numbers above your model code', 'Where to go next'];
const ANALYSIS_TIMEOUT_MS = 240_000;

describe('the Getting Started walkthrough', { timeout: 15 * 60_000 }, () => {
  let vs: VsCode;

  before(
    async () => {
      vs = await VsCode.start({
        name: 'walkthrough',
        prepare: (ws) => {
          // Two orders keep the run short; the walkthrough itself sets nothing.
          mkdirSync(join(ws, '.vscode'));
          writeFileSync(
            join(ws, '.vscode', 'settings.json'),
            JSON.stringify({ 'featureComplexity.orders': [0, 2], 'featureComplexity.shapley': false }, null, 2),
          );
        },
      });
    },
    { timeout: SESSION_START_TIMEOUT_MS },
  );

  after(async () => {
    await vs?.stop();
  });

  test('every step shows its text and picture', async () => {
    await vs.runCommandKeepOpen('Welcome: Open Walkthrough...');
    // The picker lists the walkthroughs of VS Code and of the installed extensions.
    const ours = vs.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: WALKTHROUGH });
    await ours.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    await vs.screenshot('walkthrough-picker');
    await vs.acceptQuickPick(WALKTHROUGH);
    const page = vs.page.locator('.gettingStartedContainer');
    await page.locator('.getting-started-category-title, h2', { hasText: WALKTHROUGH }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    for (const [i, title] of STEPS.entries()) {
      const step = page.locator('.getting-started-step', { hasText: title }).first();
      await step.click();
      await step.locator('.step-description-container').first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
      await vs.screenshot(`step-${i + 1}`);
    }
  });

  test('the first step analyses the bundled demo model without a question and opens its panel', async () => {
    const page = vs.page.locator('.gettingStartedContainer');
    await page.locator('.getting-started-step', { hasText: STEPS[0] }).first().click();
    await page.getByRole('button', { name: 'Analyze the Demo Model' }).first().click();
    await vs.analysisFinished('demo', ANALYSIS_TIMEOUT_MS);
    const dir = join(vs.workspace, '.feature-complexity');
    const files = readdirSync(dir).filter((f) => f.startsWith('demo-cnn-') && f.endsWith('.json'));
    assert.equal(files.length, 1, JSON.stringify(readdirSync(dir)));
    const r = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as { complete: boolean; targetLayer: string; budget: string; dataset: { path: string } };
    assert.equal(r.complete, true);
    assert.equal(r.targetLayer, 'pool2');
    assert.equal(r.budget, 'quick');
    assert.match(r.dataset.path, /media\/demo\/fashion-mnist$/);
    const pane = await vs.viewPane('Feature Complexity');
    await pane.locator('.monaco-list-row', { hasText: 'demo-cnn' }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  });
});
