/**
 * How long a stored analysis takes to open in its results panel, in the real workbench
 * (code-server + Chromium, the e2e harness): from the click on its row in the Feature Complexity
 * view to the panel showing the teacher's accuracy. Reference, measured in the same run: opening
 * the same result file as text in an editor (from the Explorer, to its first line showing).
 * Prints one JSON line per bench: {bench, backend, ours_ms, reference, reference_ms, ratio}.
 *
 * The analysis is one from the model zoo (experiments/zoo: $FC_ZOO_DIR, else fc-zoo beside the repository) when it has results,
 * else the demo result fixture. Screenshots of its panel in the light and dark themes go to
 * test-results/bench-panel-*.png.
 *
 * Run: npm run build && node --import tsx bench/panel-open.ts
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ZOO_DIR } from '../experiments/zoo/common';
import { repoRoot, VsCode } from '../test/e2e/harness';

const REPEATS = 7;
const zooResults = join(ZOO_DIR, 'results');
const source =
  existsSync(zooResults) && readdirSync(zooResults).some((f) => f.endsWith('.json'))
    ? join(
        zooResults,
        readdirSync(zooResults)
          .filter((f) => f.endsWith('.json'))
          .sort()[0],
      )
    : join(repoRoot, 'test', 'fixtures', 'results', 'demo-quick.json');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Where an open's time went, in ms after the click: when VS Code's webview host frame started and
 * when its service worker was ready (its own mark content/workerReady: the first webview of a
 * browser profile installs the worker), when the page's own frame started and its script arrived,
 * and the page's User Timing marks (src/webview/common/page.mts: fc:script … fc:painted).
 */
async function phases(vs: VsCode, clickedAt: number): Promise<Record<string, number>> {
  const outer = await (await vs.page.locator('iframe.webview.ready:visible').last().elementHandle())?.contentFrame();
  const inner = await (await outer?.$('#active-frame'))?.contentFrame();
  if (!outer || !inner) return {};
  const host = (await outer.evaluate(`(() => {
    const at = (ms) => Math.round(performance.timeOrigin + ms - ${clickedAt});
    const worker = performance.getEntriesByType('mark').find((m) => m.name.endsWith('content/workerReady'));
    return { hostFrame: at(0), ...(worker ? { workerReady: at(worker.startTime) } : {}) };
  })()`)) as Record<string, number>;
  // A string, not a function: tsx would wrap the function's inner helpers in its own __name, unknown in the page.
  const page = (await inner.evaluate(`(() => {
    const t0 = ${clickedAt};
    const at = (ms) => Math.round(performance.timeOrigin + ms - t0);
    const out = { pageFrame: at(0) };
    for (const r of performance.getEntriesByType('resource')) {
      const name = r.name.split('?')[0].split('/').pop() || r.name;
      if (/webview/.test(name)) out[name + ' fetched'] = at(r.responseEnd);
    }
    for (const m of performance.getEntriesByType('mark')) if (m.name.startsWith('fc:')) out[m.name] = at(m.startTime);
    return out;
  })()`)) as Record<string, number>;
  return { ...host, ...page };
}

async function main(): Promise<void> {
  const vs = await VsCode.start({
    name: 'bench-panel',
    prepare: (ws) => {
      mkdirSync(join(ws, '.feature-complexity'));
      cpSync(source, join(ws, '.feature-complexity', basename(source)));
    },
  });
  try {
    const pane = await vs.viewPane('Feature Complexity');
    const row = pane.locator('.monaco-list-row[aria-level="2"]').first();
    await row.waitFor({ state: 'visible', timeout: 60_000 });
    const panel: number[] = [];
    const text: number[] = [];
    const split: Record<string, number>[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await vs.runCommand('View: Close All Editors');
      const t0 = performance.now();
      const clickedAt = Date.now();
      await row.click();
      await vs.webview().locator('#stat-teacher .value').waitFor({ state: 'visible', timeout: 60_000 });
      panel.push(performance.now() - t0);
      split.push({ ...(await phases(vs, clickedAt)), visible: Math.round(panel[panel.length - 1]) });

      await vs.runCommand('View: Close All Editors');
      await vs.explorerFolder('.feature-complexity', true);
      const t1 = performance.now();
      await vs.explorerRow(basename(source)).click();
      await vs.page.locator('.monaco-editor .view-line').first().waitFor({ state: 'visible', timeout: 60_000 });
      text.push(performance.now() - t1);
      await vs.explorerFolder('.feature-complexity', false);
    }
    // A window reload keeps the browser profile and so the webview service worker VS Code installed
    // on the first open: the first open after it is what a user meets after reopening the window.
    await vs.runCommand('View: Close All Editors');
    await vs.reloadWindow();
    const rowAfterReload = (await vs.viewPane('Feature Complexity')).locator('.monaco-list-row[aria-level="2"]').first();
    await rowAfterReload.waitFor({ state: 'visible', timeout: 60_000 });
    const t2 = performance.now();
    const clickedAfterReload = Date.now();
    await rowAfterReload.click();
    await vs.webview().locator('#stat-teacher .value').waitFor({ state: 'visible', timeout: 60_000 });
    const afterReload = performance.now() - t2;
    const splitAfterReload = { ...(await phases(vs, clickedAfterReload)), visible: Math.round(afterReload) };

    // The first open includes the webview's first load; the median is what a user meets after that.
    const ours = median(panel);
    const reference = median(text);
    process.stdout.write(
      JSON.stringify({
        bench: `open stored analysis (${basename(source)})`,
        backend: 'code-server',
        ours_ms: Math.round(ours),
        reference: 'same file as text',
        reference_ms: Math.round(reference),
        ratio: +(ours / reference).toFixed(2),
        first_open_ms: Math.round(panel[0]),
        first_open_painted_ms: split[0]['fc:painted'],
        first_open_after_reload_ms: Math.round(afterReload),
        runs_ms: panel.map(Math.round),
      }) + '\n',
    );
    // The phases of the first open, a repeat one and the first after the reload, on stderr (ms after the click).
    process.stderr.write(
      `first open: ${JSON.stringify(split[0])}\nrepeat open: ${JSON.stringify(split[Math.floor(split.length / 2)])}\nfirst open after reload: ${JSON.stringify(splitAfterReload)}\n`,
    );
    await vs.runCommand('View: Close All Editors');
    await row.click();
    await vs.webview().locator('#stat-teacher .value').waitFor({ state: 'visible', timeout: 60_000 });
    for (const theme of ['Light Modern', 'Dark Modern']) {
      await vs.setColorTheme(theme);
      await vs.page.waitForTimeout(1000);
      await vs.screenshot(`${theme.split(' ')[0].toLowerCase()}-zoo-panel`);
    }
  } finally {
    await vs.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
