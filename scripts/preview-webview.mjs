// Renders the results panel, and the comparison, prediction and calibration views, outside VS Code
// and screenshots them, to look at them as a user would.
// Serves the same page the host builds (same CSP, nonce, dist/webview-<view>.js, media/webview.css) from
// a local HTTP server, with a fake acquireVsCodeApi that posts a result file, and with VS Code's
// --vscode-* theme variables for a dark and a light theme. Needs `npm run build` first.
//
//   node --import tsx scripts/preview-webview.mjs [result.json] [running-result.json] [task-complexity.json]
//
// Writes test-results/preview/*.png and report.json (console errors, CSP violations, exports).
// The prediction view gets the engine handler's answer for a synthetic model zoo.
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseResult } from '../src/shared/files/analysis.ts';
import { resultsPageHtml } from '../src/extension/panels/pageHtml.ts';
import { handlePredict } from '../src/analysis/rpc/viewRequests.ts';
import { parseTaskComplexity } from '../src/shared/files/calibration.ts';
import { syntheticZoo } from '../test/fixtures/views/synthetic.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-results', 'preview');
mkdirSync(out, { recursive: true });
const completePath = resolve(process.argv[2] ?? join(root, 'test/fixtures/results/fixture-complete.json'));
const runningPath = resolve(process.argv[3] ?? join(root, 'test/fixtures/results/fixture-running.json'));
const calibrationPath = resolve(process.argv[4] ?? join(root, 'test/fixtures/views/task-complexity-quick.json'));
const demoPath = join(root, 'test/fixtures/results/demo-quick.json');
if (!existsSync(join(root, 'dist/webview-results.js'))) throw new Error('dist/webview-results.js is missing: run `npm run build` first');

// VS Code's Dark Modern and Light Modern values of the variables the panel and the toolkit read.
const common = {
  '--vscode-font-family': "-apple-system, BlinkMacSystemFont, 'Segoe WPC', 'Segoe UI', 'Ubuntu', 'Droid Sans', sans-serif",
  '--vscode-font-size': '13px',
  '--vscode-font-weight': 'normal',
  '--vscode-editor-font-family': "'Droid Sans Mono', 'monospace', monospace",
};
const THEMES = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      ...common,
      '--vscode-editor-background': '#1f1f1f',
      '--vscode-editor-foreground': '#cccccc',
      '--vscode-foreground': '#cccccc',
      '--vscode-descriptionForeground': '#9d9d9d',
      '--vscode-panel-border': '#2b2b2b',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-button-background': '#0078d4',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#026ec1',
      '--vscode-button-secondaryBackground': '#313131',
      '--vscode-button-secondaryForeground': '#cccccc',
      '--vscode-button-secondaryHoverBackground': '#3c3c3c',
      '--vscode-button-border': '#ffffff12',
      '--vscode-focusBorder': '#0078d4',
      '--vscode-panelTitle-activeForeground': '#cccccc',
      '--vscode-panelTitle-activeBorder': '#0078d4',
      '--vscode-panelTitle-inactiveForeground': '#9d9d9d',
      '--vscode-panel-background': '#181818',
      '--vscode-list-hoverBackground': '#2a2d2e',
      '--vscode-list-activeSelectionBackground': '#04395e',
      '--vscode-keybindingTable-headerBackground': '#cccccc0a',
      '--vscode-keybindingTable-rowsBackground': '#cccccc0a',
      '--vscode-editorWarning-foreground': '#cca700',
      '--vscode-errorForeground': '#f85149',
      '--vscode-textBlockQuote-background': '#2b2b2b',
    },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: {
      ...common,
      '--vscode-editor-background': '#ffffff',
      '--vscode-editor-foreground': '#3b3b3b',
      '--vscode-foreground': '#3b3b3b',
      '--vscode-descriptionForeground': '#3b3b3b',
      '--vscode-panel-border': '#e5e5e5',
      '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-green': '#388a34',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-red': '#e51400',
      '--vscode-charts-purple': '#652d90',
      '--vscode-charts-yellow': '#bf8803',
      '--vscode-button-background': '#005fb8',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#0258a8',
      '--vscode-button-secondaryBackground': '#e5e5e5',
      '--vscode-button-secondaryForeground': '#3b3b3b',
      '--vscode-button-secondaryHoverBackground': '#cccccc',
      '--vscode-button-border': '#0000001a',
      '--vscode-focusBorder': '#005fb8',
      '--vscode-panelTitle-activeForeground': '#3b3b3b',
      '--vscode-panelTitle-activeBorder': '#005fb8',
      '--vscode-panelTitle-inactiveForeground': '#3b3b3b',
      '--vscode-panel-background': '#f8f8f8',
      '--vscode-list-hoverBackground': '#f2f2f2',
      '--vscode-list-activeSelectionBackground': '#e8e8e8',
      '--vscode-keybindingTable-headerBackground': '#3b3b3b0a',
      '--vscode-keybindingTable-rowsBackground': '#3b3b3b0a',
      '--vscode-editorWarning-foreground': '#bf8803',
      '--vscode-errorForeground': '#f85149',
      '--vscode-textBlockQuote-background': '#f8f8f8',
    },
  },
  'high-contrast': {
    bodyClass: 'vscode-high-contrast',
    vars: {
      ...common,
      '--vscode-editor-background': '#000000',
      '--vscode-editor-foreground': '#ffffff',
      '--vscode-foreground': '#ffffff',
      '--vscode-descriptionForeground': '#ffffffb3',
      '--vscode-panel-border': '#6fc3df',
      '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-green': '#89d185',
      '--vscode-charts-orange': '#d18616',
      '--vscode-charts-red': '#f14c4c',
      '--vscode-charts-purple': '#b180d7',
      '--vscode-charts-yellow': '#cca700',
      '--vscode-button-background': '#000000',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-border': '#6fc3df',
      '--vscode-button-secondaryBackground': '#000000',
      '--vscode-button-secondaryForeground': '#ffffff',
      '--vscode-contrastBorder': '#6fc3df',
      '--vscode-contrastActiveBorder': '#f38518',
      '--vscode-focusBorder': '#f38518',
      '--vscode-panelTitle-activeForeground': '#ffffff',
      '--vscode-panelTitle-activeBorder': '#6fc3df',
      '--vscode-panelTitle-inactiveForeground': '#ffffff',
      '--vscode-editorWarning-foreground': '#ff0000',
      '--vscode-errorForeground': '#f48771',
    },
  },
};

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.map': 'application/json' };

function page(origin, theme, view) {
  const nonce = 'previewNonce0123456789abcdefABCD';
  const html = resultsPageHtml({
    cspSource: origin,
    nonce,
    scriptUri: `${origin}/dist/webview-${view ?? 'results'}.js`,
    styleUri: `${origin}/media/webview.css`,
    title: 'preview',
    view,
  });
  // VS Code sets the variables on <html> through the CSSOM (an inline style attribute would break
  // the CSP) and the theme class on <body>; the fake API answers
  // `results/ready` with the message the test sets in window.__message, or the result in window.__result.
  const fake = `<script nonce="${nonce}">
    for (const [k, v] of Object.entries(${JSON.stringify(THEMES[theme].vars)})) document.documentElement.style.setProperty(k, v);
    document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' sample: ' + e.sample));
    window.__posted = [];
    // __state may be preset by the test, as VS Code hands a revived page its saved state.
    window.acquireVsCodeApi = () => ({
      postMessage(m) {
        window.__posted.push(m);
        if (m && m.method === 'results/ready' && (window.__message || window.__result)) window.postMessage(window.__message ?? { method: 'results/show', params: window.__result }, '*');
      },
      getState() { return window.__state; },
      setState(s) { window.__state = s; },
    });
  </script>`;
  return html.replace('<body>', `<body class="${THEMES[theme].bodyClass}">`).replace(`<script nonce="${nonce}" src=`, `${fake}\n<script nonce="${nonce}" src=`);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = /^\/page\/(dark|light|high-contrast)$/.exec(url.pathname);
  if (m) {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page(`http://${req.headers.host}`, m[1], url.searchParams.get('view') ?? 'results'));
    return;
  }
  if (url.pathname.startsWith('/dist/') || url.pathname.startsWith('/media/')) {
    const file = join(root, url.pathname);
    if (file.startsWith(root) && existsSync(file)) {
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
      return;
    }
  }
  res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

// What the host sends: the file through the same parser.
const showParams = (file) => ({
  path: file,
  fileName: basename(file),
  ...parseResult(JSON.parse(readFileSync(file, 'utf8'))),
  readAt: new Date().toISOString(),
});
const report = { origin, consoleErrors: [], pageErrors: [], checks: {} };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  for (const theme of ['dark', 'light', 'high-contrast']) {
    const context = await browser.newContext({ viewport: { width: 1180, height: 900 }, deviceScaleFactor: 1 });
    const p = await context.newPage();
    // The favicon request is the browser's, not the page's; VS Code never makes it.
    p.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && report.consoleErrors.push(`${theme}: ${m.text()}`));
    p.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && report.consoleErrors.push(`${theme}: ${r.status()} ${r.url()}`));
    p.on('pageerror', (e) => report.pageErrors.push(`${theme}: ${e.message}`));
    await p.addInitScript((r) => (window.__result = r), showParams(runningPath));
    await p.goto(`${origin}/page/${theme}`);
    await p.waitForSelector('#stat-teacher');
    await p.waitForTimeout(300);
    await p.screenshot({ path: join(out, `${theme}-running.png`), fullPage: true });
    report.checks[`${theme}-running-badge`] = await p.textContent('#incomplete').catch(() => null);
    await p.click('#tab-reliability');
    await p.waitForTimeout(200);
    report.checks[`${theme}-running-reliability`] = await p.textContent('#block-reliability .missing');
    await p.click('#tab-significance');

    // The engine rewrote the file: the host posts it again; the panel redraws in place.
    await p.evaluate((params) => window.postMessage({ method: 'results/show', params }, '*'), showParams(completePath));
    await p.waitForTimeout(300);
    report.checks[`${theme}-complete-badge-gone`] = (await p.$('#incomplete')) === null;
    for (const tab of ['significance', 'training', 'reliability', 'shapley', 'substitution', 'settings']) {
      await p.click(`#tab-${tab}`);
      await p.waitForTimeout(250);
      await p.screenshot({ path: join(out, `${theme}-${tab}.png`), fullPage: true });
    }
    report.checks[`${theme}-settings-caveat`] = await p.textContent('#block-settings .caveat');
    report.checks[`${theme}-significance-grid-cells`] = await p.$$eval('#block-significance vscode-data-grid-cell', (cells) =>
      cells.slice(0, 6).map((c) => c.textContent),
    );

    await p.click('#tab-significance');
    await p.waitForTimeout(200);
    await p.click('#export-csv');
    await p.click('#png-significance');
    const posted = await p.evaluate(() => window.__posted);
    const csv = posted.find((m) => m.method === 'results/export' && m.params.format === 'csv');
    const png = posted.find((m) => m.method === 'results/export' && m.params.format === 'png');
    report.checks[`${theme}-export-csv`] = csv && { suggestedName: csv.params.suggestedName, firstLines: csv.params.content.split('\n').slice(0, 3) };
    report.checks[`${theme}-export-png`] = png && {
      suggestedName: png.params.suggestedName,
      bytes: Math.round((png.params.content.length * 3) / 4),
      prefix: png.params.content.slice(0, 22),
    };
    if (png) writeFileSync(join(out, `${theme}-exported-significance.png`), Buffer.from(png.params.content.split(',')[1], 'base64'));
    report.checks[`${theme}-state`] = await p.evaluate(() => window.__state);

    // A revived panel: VS Code hands back the state the page kept; the same tab must open.
    await p.evaluate(() => (window.__state = { ...window.__state, tab: 'substitution' }));
    await p.addInitScript(() => (window.__state = { resultPath: 'x', tab: 'substitution' }));
    await p.reload();
    await p.waitForSelector('#stat-teacher');
    await p.waitForTimeout(500);
    report.checks[`${theme}-revived-tab`] = { activeid: await p.getAttribute('vscode-panels', 'activeid'), state: await p.evaluate(() => window.__state) };

    if (theme === 'dark') {
      // VS Code switches theme by swapping the body class and the variables on <html>.
      await p.evaluate((t) => {
        for (const [k, v] of Object.entries(t.vars)) document.documentElement.style.setProperty(k, v);
        document.body.className = t.bodyClass;
      }, THEMES.light);
      await p.waitForTimeout(300);
      await p.screenshot({ path: join(out, 'dark-switched-to-light.png'), fullPage: true });
    }
    // A narrow panel: the table goes below its chart.
    await p.setViewportSize({ width: 560, height: 900 });
    await p.click('#tab-significance');
    await p.waitForTimeout(300);
    await p.screenshot({ path: join(out, `${theme}-narrow.png`), fullPage: true });
    await context.close();
  }

  // The comparison, prediction and calibration views, each with what its host sends.
  const zooDir = mkdtempSync(join(tmpdir(), 'fc-preview-zoo-'));
  const zoo = syntheticZoo(25, 1).map((z, i) => {
    const file = join(zooDir, `model-${i}.json`);
    writeFileSync(file, JSON.stringify(z.result));
    return file;
  });
  const predictReport = handlePredict({ results: zoo.filter((_, i) => i !== 12), for: zoo[12], repeats: 200 });
  const compared = [completePath, demoPath].map((file) => ({ path: file, fileName: basename(file), ...parseResult(JSON.parse(readFileSync(file, 'utf8'))) }));
  const zooCompared = zoo.slice(0, 12).map((file) => ({ path: file, fileName: basename(file), ...parseResult(JSON.parse(readFileSync(file, 'utf8'))) }));
  const views = {
    'compare-zoo': {
      view: 'compare',
      message: { method: 'compare/show', params: { analyses: zooCompared } },
      ready: '#block-compare-rho vscode-data-grid-cell',
    },
    compare: { message: { method: 'compare/show', params: { analyses: compared } }, ready: '#block-compare-rho vscode-data-grid-cell' },
    predict: { message: { method: 'predict/show', params: { report: predictReport, madeAt: new Date().toISOString() } }, ready: '#stat-mae' },
    calibration: {
      message: {
        method: 'calibration/show',
        params: { path: calibrationPath, fileName: basename(calibrationPath), output: parseTaskComplexity(JSON.parse(readFileSync(calibrationPath, 'utf8'))) },
      },
      ready: '#verdict',
    },
  };
  for (const theme of ['dark', 'light', 'high-contrast']) {
    for (const [name, v] of Object.entries(views)) {
      const view = v.view ?? name;
      const context = await browser.newContext({ viewport: { width: 1180, height: 900 }, deviceScaleFactor: 1 });
      const p = await context.newPage();
      p.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && report.consoleErrors.push(`${theme} ${view}: ${m.text()}`));
      p.on('pageerror', (e) => report.pageErrors.push(`${theme} ${view}: ${e.message}`));
      await p.addInitScript((msg) => (window.__message = msg), v.message);
      await p.goto(`${origin}/page/${theme}?view=${view}`);
      await p.waitForSelector(v.ready);
      await p.waitForTimeout(400);
      await p.screenshot({ path: join(out, `${theme}-view-${name}.png`), fullPage: true });
      report.checks[`${theme}-${name}-text`] = (await p.textContent('header')).slice(0, 400);
      report.checks[`${theme}-${name}-state`] = await p.evaluate(() => JSON.stringify(window.__state).slice(0, 200));
      if (name === 'compare') report.checks[`${theme}-compare-warning`] = await p.textContent('#settings-differ').catch(() => null);
      await context.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
if (report.consoleErrors.length || report.pageErrors.length) process.exitCode = 1;
