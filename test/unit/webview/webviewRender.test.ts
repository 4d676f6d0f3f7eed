import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseResult } from '../../../src/shared/files/analysis';
import { inlineable, makeNonce, resultsPageHtml } from '../../../src/extension/panels/pageHtml';
import { exportNotification, readyNotification, showResultNotification } from '../../../src/shared/webviewProtocol';
import {
  axisCut,
  bandOf,
  efficiencyCheck,
  headline,
  lossSeries,
  reliabilityRows,
  reliabilityTable,
  settingsRows,
  shapleyRows,
  significanceRows,
  substitutionRows,
  toCsv,
  formatSeconds,
  progressText,
} from '../../../src/webview/results/render';
import { CAVEAT } from '../../../src/webview/common/format';
import { parseColor, withAlpha, type Theme } from '../../../src/webview/common/theme';
import { validateResult, type ResultFile } from '../../../src/analysis/pipeline/result';

const load = (name: string) => parseResult(JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'results', name), 'utf8'))).result;
const complete = load('fixture-complete.json');
const running = load('fixture-running.json');
const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('orders fall into low (≤ 4), mid (≤ 14) and high bands', () => {
  assert.deepEqual([0, 2, 4, 8, 14, 20, 26, 32].map(bandOf), ['low', 'low', 'low', 'mid', 'mid', 'high', 'high', 'high']);
});

test('headline sums ρ per band and counts finished orders', () => {
  const h = headline(complete);
  close(h.shares.low, 0.412 + 0.197 + 0.118);
  close(h.shares.mid, 0.071 + 0.043);
  close(h.shares.high, 0.027 + 0.016 + 0.011);
  close(h.shares.residue, 0.058);
  assert.equal(h.teacherTestAccuracy, 0.9047);
  assert.deepEqual([h.finishedOrders, h.totalOrders, h.complete], [8, 8, true]);

  const r = headline(running);
  // While it runs the engine lists only the finished orders: the plan is unknown.
  assert.deepEqual([r.finishedOrders, r.totalOrders, r.complete], [3, undefined, false]);
  assert.equal(progressText(r), 'incomplete: 3 orders finished');
  assert.deepEqual(r.bandsPresent, { low: true, mid: false, high: false });
  // An older file whose orders list is longer than the finished ones names the plan too.
  const listed = structuredClone(running);
  listed.orders = [0, 2, 4, 8, 14, 20, 26, 32];
  assert.equal(progressText(headline(listed)), 'incomplete: 3 of 8 orders finished');
  // A file that records its plan: the badge says N of M.
  const planned = headline(load('fixture-running-planned.json'));
  assert.deepEqual([planned.finishedOrders, planned.totalOrders, planned.complete], [3, 8, false]);
  assert.equal(progressText(planned), 'incomplete: 3 of 8 orders finished');
  const orders = settingsRows(load('fixture-running-planned.json')).find(([k]) => k === 'Orders');
  assert.deepEqual(orders, ['Orders', '0, 2, 4 (of 0, 2, 4, 8, 14, 20, 26, 32 planned)']);
  assert.equal(settingsRows(complete).find(([k]) => k === 'Orders')?.[1], '0, 2, 4, 8, 14, 20, 26, 32');
});

test('significance rows: one per component then the residue, test ρ only where the file has it', () => {
  const rows = significanceRows(complete);
  assert.equal(rows.length, 9);
  assert.deepEqual(rows[8], { label: 'residue Δf', order: null, rhoTrain: 0.058, rhoTest: 0.071 });
  assert.deepEqual(rows[3], { label: 'l = 8', order: 8, rhoTrain: 0.071, rhoTest: 0.078 });
  assert.ok(significanceRows(running).every((r) => r.rhoTest === undefined));
});

test('loss series keep every epoch, 1-based, and drop non-positive values for the log axis', () => {
  const s = lossSeries(complete);
  assert.deepEqual(
    s.map((x) => x.order),
    [0, 2, 4, 8, 14, 20, 26, 32],
  );
  assert.equal(s[0].points.length, 40);
  assert.deepEqual(s[0].points[0], { x: 1, y: complete.components[0].lossCurve![0] });
  const r = structuredClone(running);
  r.components[0].lossCurve = [0.5, 0, -1, 0.2];
  r.components[1].lossCurve = [];
  const t = lossSeries(r);
  assert.deepEqual(t[0].points, [
    { x: 1, y: 0.5 },
    { x: 4, y: 0.2 },
  ]);
  assert.deepEqual(
    t.map((x) => x.order),
    [0, 4],
  );
});

test("reliable and unreliable parts are the file's shares of Var[f], shown as they are, and add up to ρ of the component", () => {
  const rows = reliabilityRows(complete)!;
  for (const [i, row] of rows.entries()) {
    const c = complete.reliability![i];
    assert.equal(row.reliableOfFeature, c.reliableVariance);
    assert.equal(row.unreliableOfFeature, c.unreliableVariance);
    close(row.reliableOfFeature + row.unreliableOfFeature, complete.components[i].rho, 1e-6);
  }
  assert.equal(reliabilityRows(running), undefined);
});

/** Written by the engine's own command line (scripts/make-fixtures.ts results), not by hand. */
const engineFile = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'results', 'engine-reliability.json'), 'utf8')) as ResultFile;
const engine = load('engine-reliability.json');
const THEME: Theme = {
  kind: 'dark',
  foreground: '#ccc',
  muted: '#999',
  background: '#1e1e1e',
  border: '#444',
  grid: '#333',
  gridMinor: '#222',
  fontFamily: 'sans-serif',
  fontSize: 12,
  blue: '#3794ff',
  green: '#89d185',
  orange: '#d18616',
  red: '#f14c4c',
  purple: '#b180d7',
  series: ['#3794ff'],
} as Theme;

test("an engine-written result: the reliability table and chart show the file's shares of Var[f] and ρ_rel as they are", async () => {
  assert.equal(validateResult(engineFile), null, 'a valid result file');
  assert.ok(
    engineFile.reliabilitySettings && engineFile.reliability!.length === engineFile.components.length,
    'the engine measured reliability for every order',
  );
  const file = [...engineFile.reliability!].sort((a, b) => a.order - b.order);
  const rows = reliabilityRows(engine)!;
  const testRho = (order: number) => engineFile.reliabilityTest!.find((t) => t.order === order)!.reliableRho;
  assert.deepEqual(
    rows,
    file.map((x) => ({
      order: x.order,
      reliableRho: x.reliableRho,
      reliableOfFeature: x.reliableVariance,
      unreliableOfFeature: x.unreliableVariance,
      reliableRhoTest: testRho(x.order),
    })),
  );
  for (const x of file) {
    // Shares of Var[f], so each part is at most the component's own ρ share of f (not absolute variances, not divided twice).
    const rho = engineFile.components.find((c) => c.order === x.order)!.rho;
    assert.ok(x.reliableVariance > 1e-3 && x.reliableVariance <= rho + 1e-9, `order ${x.order}: reliable ${x.reliableVariance} of ρ ${rho}`);
    assert.ok(x.unreliableVariance >= 0 && x.unreliableVariance <= rho + 1e-9);
    assert.ok(x.reliableRho >= 0 && x.reliableRho <= 1, `ρ_rel ${x.reliableRho}`);
  }

  // The table: ρ_rel in percent to 0.1, the parts to 4 decimals, read back equal to the file's.
  const table = reliabilityTable(rows);
  assert.deepEqual(
    table.rows.map((r) => r.c),
    file.map((x) => `l = ${x.order}`),
  );
  table.rows.forEach((r, i) => {
    const x = file[i];
    assert.ok(Math.abs(Number(r.rel.replace(' %', '')) / 100 - x.reliableRho) <= 0.0005 + 1e-12, `${r.rel} vs ${x.reliableRho}`);
    assert.ok(Math.abs(Number(r.relf) - x.reliableVariance) <= 0.00005 + 1e-12, `${r.relf} vs ${x.reliableVariance}`);
    assert.ok(Math.abs(Number(r.unrelf) - x.unreliableVariance) <= 0.00005 + 1e-12, `${r.unrelf} vs ${x.unreliableVariance}`);
    // ρ_rel on the test samples, the file's reliabilityTest.
    assert.ok(Math.abs(Number(r.relt.replace(' %', '')) / 100 - testRho(x.order)) <= 0.0005 + 1e-12, `${r.relt} vs ${testRho(x.order)}`);
  });

  // The chart: two stacked datasets whose bars are the file's numbers.
  // The chart module is an ES module (the webview bundle's): loaded as one.
  const { reliabilityChart } = await import('../../../src/webview/results/charts.mjs');
  const chart = reliabilityChart(rows, THEME);
  const data = chart.data.datasets as { label: string; data: number[] }[];
  assert.deepEqual(
    data.map((d) => d.label),
    ['reliable', 'unreliable'],
  );
  assert.deepEqual(
    data[0].data,
    file.map((x) => x.reliableVariance),
  );
  assert.deepEqual(
    data[1].data,
    file.map((x) => x.unreliableVariance),
  );

  // The Settings tab names how reliability was measured, as the file records it.
  assert.match(
    new Map(settingsRows(engine)).get('Reliability') ?? '',
    /^joint .*; K = 3 networks \(the model and 2 exemplars\), 10 cycle rounds, \d+ samples$/,
  );

  // The CSV export carries them unchanged too.
  const lines = toCsv(engine).trimEnd().split('\n');
  const header = lines[0].split(',');
  file.forEach((x, i) => {
    const row = lines[1 + i].split(',');
    assert.equal(Number(row[header.indexOf('reliable_var_over_f')]), x.reliableVariance);
    assert.equal(Number(row[header.indexOf('unreliable_var_over_f')]), x.unreliableVariance);
    assert.equal(Number(row[header.indexOf('reliable_rho')]), x.reliableRho);
  });
});

test('Shapley rows join effectiveness and over-fitting by order, with either missing', () => {
  const rows = shapleyRows(complete)!;
  assert.deepEqual(rows[0], { order: 0, phiTrain: 1.214, effectiveness: 0.4946, phiGap: 0.052, overfitting: 0.0428 });
  const only = structuredClone(complete);
  delete only.overfitting;
  only.effectiveness = only.effectiveness!.slice(0, 2);
  assert.deepEqual(shapleyRows(only), [
    { order: 0, phiTrain: 1.214, effectiveness: 0.4946 },
    { order: 2, phiTrain: 0.402, effectiveness: 0.2369 },
  ]);
  assert.equal(shapleyRows(running), undefined);
});

test('efficiency check compares Σφ with the loss difference recorded in the file', () => {
  const e = efficiencyCheck(complete)!;
  close(e.sumPhiTrain, e.lossDecrease, 1e-3);
  close(e.sumPhiGap, e.gapIncrease, 1e-3);
  assert.equal(efficiencyCheck(running), undefined);
});

test('substitution rows sorted by order', () => {
  const r = structuredClone(complete);
  r.substitution!.reverse();
  assert.deepEqual(
    substitutionRows(r)!.map((x) => x.order),
    [0, 2, 4, 8, 14, 20, 26, 32],
  );
  assert.equal(substitutionRows(running), undefined);
});

test('settings list every setting the numbers depend on', () => {
  const rows = new Map(settingsRows(complete));
  assert.equal(rows.get('Target layer'), 'conv3');
  assert.equal(rows.get('Seed'), '0');
  assert.equal(rows.get('Backend'), 'wasm');
  assert.equal(rows.get('Budget'), 'standard');
  assert.equal(rows.get('Disentangler width'), '32');
  assert.equal(rows.get('Time: total'), '47 min 21 s');
  assert.match(CAVEAT, /not an exact decomposition/);
});

test('settings name the reliability method, K, rounds and exemplars when the file records them', () => {
  const withReliability = {
    ...complete,
    reliabilitySettings: { method: 'joint' as const, networks: 3, exemplars: ['/m/a/model.json', '/m/b.onnx'], rounds: 10, samples: 512 },
  };
  const rows = new Map(settingsRows(withReliability));
  assert.match(rows.get('Reliability') ?? '', /^joint .*; K = 3 networks \(the model and 2 exemplars\), 10 cycle rounds, 512 samples$/);
  assert.equal(rows.get('Exemplars'), '/m/a/model.json, /m/b.onnx');
  assert.equal(new Map(settingsRows(complete)).get('Reliability'), undefined);
});

test('durations read as a person would say them', () => {
  assert.deepEqual(
    [formatSeconds(0.412), formatSeconds(2.38), formatSeconds(64.3), formatSeconds(2841.012), formatSeconds(7200)],
    ['412 ms', '2.4 s', '1 min 4 s', '47 min 21 s', '2 h 0 min'],
  );
});

test('CSV has one row per order, the residue and the teacher, with empty cells for absent numbers', () => {
  const lines = toCsv(complete).trimEnd().split('\n');
  assert.equal(lines.length, 1 + 8 + 2);
  const header = lines[0].split(',');
  const c0 = lines[1].split(',');
  const at = (row: string[], col: string) => row[header.indexOf(col)];
  assert.equal(at(c0, 'rho_train'), '0.412');
  assert.equal(at(c0, 'substitution_test_accuracy'), '0.7431');
  assert.equal(at(lines[9].split(','), 'component'), 'residue');
  assert.equal(at(lines[9].split(','), 'phi_train'), '0.021');
  const partial = toCsv(running).trimEnd().split('\n');
  assert.equal(partial.length, 1 + 3 + 2);
  assert.equal(at(partial[1].split(','), 'rho_test'), '');
  assert.equal(at(partial[1].split(','), 'phi_train'), '');
});

test('CSV of a result with no finished order keeps the residue and teacher rows, non-finite numbers empty', () => {
  const r = structuredClone(running);
  r.components = [];
  r.featureVariance = NaN;
  const lines = toCsv(r).trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[2], /^teacher,,,,,/);
});

test('theme colours parse from the notations VS Code uses', () => {
  assert.deepEqual(parseColor('#3794ff'), [0x37, 0x94, 0xff]);
  assert.deepEqual(parseColor('#fff'), [255, 255, 255]);
  assert.deepEqual(parseColor('#cccccc0a'), [204, 204, 204]);
  assert.deepEqual(parseColor('rgb(10, 20, 30)'), [10, 20, 30]);
  assert.equal(parseColor('var(--x)'), undefined);
  assert.equal(withAlpha('#3794ff', 0.5), 'rgba(55, 148, 255, 0.5)');
  assert.equal(withAlpha('red', 0.5), 'red');
});

test('the page has a strict CSP with a fresh nonce on its script and style', () => {
  const nonce = makeNonce((n) => new Uint8Array(n).map((_, i) => i * 7));
  assert.match(nonce, /^[A-Za-z0-9]{32}$/);
  const html = resultsPageHtml({
    cspSource: 'https://x.vscode-cdn.net',
    nonce,
    scriptUri: 'https://x/dist/webview.js',
    styleUri: 'https://x/media/webview.css',
    title: 'a <b>',
  });
  const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)![1];
  assert.equal(
    csp,
    `default-src 'none'; img-src https://x.vscode-cdn.net data:; style-src https://x.vscode-cdn.net 'nonce-${nonce}'; script-src 'nonce-${nonce}'; font-src https://x.vscode-cdn.net`,
  );
  assert.match(html, new RegExp(`<script nonce="${nonce}" src="https://x/dist/webview.js">`));
  assert.match(html, /<title>a &#60;b&#62;<\/title>/);
  assert.doesNotMatch(html, /unsafe-inline|style="/);
});

test('the page can carry its bundle and stylesheet inline, under the same nonce and CSP', () => {
  const nonce = makeNonce((n) => new Uint8Array(n).map((_, i) => i * 3));
  const base = {
    cspSource: 'https://x.vscode-cdn.net',
    nonce,
    scriptUri: 'https://x/dist/webview-results.js',
    styleUri: 'https://x/media/webview.css',
    title: 't',
  };
  const html = resultsPageHtml({ ...base, scriptText: 'console.log("a < b")', styleText: 'body { color: red }' });
  assert.ok(html.includes(`<script nonce="${nonce}">console.log("a < b")</script>`), html);
  assert.ok(html.includes(`<style nonce="${nonce}">body { color: red }</style>`), html);
  assert.doesNotMatch(html, /src="https:\/\/x\/dist|href="https:\/\/x\/media/);
  assert.match(/Content-Security-Policy" content="([^"]+)"/.exec(html)![1], new RegExp(`script-src 'nonce-${nonce}'$|script-src 'nonce-${nonce}';`));
  assert.doesNotMatch(html, /unsafe-inline/);
  // Text that would end the script early is never inlined: the page loads the file instead.
  const unsafe = resultsPageHtml({ ...base, scriptText: 'x = "</script><script>alert(1)"', styleText: 'a{}</style>' });
  assert.match(unsafe, new RegExp(`<script nonce="${nonce}" src="https://x/dist/webview-results.js"></script>`));
  assert.match(unsafe, /<link rel="stylesheet" href="https:\/\/x\/media\/webview.css"/);
  assert.doesNotMatch(unsafe, /alert/);
  assert.ok(inlineable('return `<!--${a}-->`') && !inlineable('"<SCRIPT>"'));
});

test('protocol messages are recognised by method only', () => {
  const m = showResultNotification.message({ path: '/a.json', fileName: 'a.json', warnings: [], readAt: '' });
  assert.equal(m.method, 'results/show');
  assert.ok(showResultNotification.is(m));
  assert.ok(!readyNotification.is(m));
  assert.ok(exportNotification.is({ method: 'results/export', params: { format: 'csv', suggestedName: 'a.csv', content: '' } }));
  assert.ok(!exportNotification.is(null));
  assert.ok(!exportNotification.is('results/export'));
});

test('one exploding ratio is cut at the axis edge, a steady trend is not', () => {
  // α_overfit of the complete fixture rises steadily 0.04 → 1: nothing to cut.
  assert.equal(axisCut(complete.overfitting!.map((o) => o.alpha ?? undefined)), undefined);
  assert.deepEqual(axisCut([0.1, 0.2, 0.3, 0.25, 0.4, 0.35, -57, 0.3]), { limit: 0.4 * 1.25, cut: [6] });
  // At most a quarter of the bars are cut.
  assert.deepEqual(axisCut([1, 100, 10000, 2, 3, 2, 1, 2])?.cut, [1, 2]);
  assert.equal(axisCut([1, 1000]), undefined);
  assert.deepEqual(axisCut([undefined, 1, 2, 1, 1.5, 90, NaN, 1])?.cut, [5]);
});
