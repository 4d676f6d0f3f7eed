/** The comparison, prediction and calibration views' numbers, from real fixtures and the real predictor. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { predictFromResults } from '../../../src/analysis/experiments/predict';
import { parseResult } from '../../../src/shared/files/analysis';
import { makeNonce, resultsPageHtml } from '../../../src/extension/panels/pageHtml';
import {
  calibrationLabels,
  calibrationSettings,
  calibrationTable,
  calibrationVerdict,
  centreRises,
  poorFitWarning,
} from '../../../src/webview/calibration/render';
import { calibrationSeries, CalibrationFormatError, centreOfMass, parseTaskComplexity } from '../../../src/shared/files/calibration';
import {
  compareCsv,
  comparedAnalyses,
  compareReliabilityRows,
  compareReliabilityTable,
  compareRows,
  compareTable,
  differenceWarning,
  isZoo,
  settingDifferences,
} from '../../../src/webview/compare/render';
import { checkpointName } from '../../../src/shared/naming';
import {
  isoLines,
  niceRange,
  pcaMap,
  predictedVsActual,
  predictStats,
  predictTable,
  predictWarning,
  scaleColor,
  scaleTicks,
  settingsNotice,
} from '../../../src/webview/predict/render';
import { showCalibrationNotification, showCompareNotification, showPredictNotification, type ComparedAnalysis } from '../../../src/shared/webviewProtocol';
import { syntheticZoo } from '../../fixtures/views/synthetic';
import type { Theme } from '../../../src/webview/common/theme';

const THEME = {
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
  series: ['#3794ff', '#d18616'],
} as Theme;

const fixture = (name: string): ComparedAnalysis => {
  const { result, warnings } = parseResult(JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'results', name), 'utf8')));
  return { path: `/ws/.feature-complexity/${name}`, fileName: name, result, warnings };
};
const complete = fixture('fixture-complete.json');
const demo = fixture('demo-quick.json');
const close = (a: number | undefined, b: number, eps = 1e-9) => assert.ok(a !== undefined && Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('legend names: checkpoint (a model.json by its folder) · layer · budget; the file name only where two would read the same', () => {
  assert.equal(checkpointName('/m/fashion-cnn/model.json'), 'fashion-cnn');
  assert.equal(checkpointName('C:\\m\\net.onnx'), 'net.onnx');
  const items = comparedAnalyses([complete, demo]);
  assert.deepEqual(
    items.map((c) => c.label),
    ['fashion-cnn · conv3 · standard', 'teacher-seed0 · pool2 · quick'],
  );
  const twice = comparedAnalyses([complete, { ...complete, fileName: 'again.json' }, { path: '/x.json', fileName: 'x.json', error: 'broken', warnings: [] }]);
  assert.equal(twice.length, 2, 'an unreadable file is left out of the charts');
  assert.deepEqual(
    twice.map((c) => c.label),
    ['fashion-cnn · conv3 · standard (fixture-complete)', 'fashion-cnn · conv3 · standard (again)'],
  );
});

test('ρ rows: the union of orders, an empty cell where an analysis lacks an order, the residue last', () => {
  const items = comparedAnalyses([complete, demo]);
  const rows = compareRows(items);
  assert.deepEqual(
    rows.map((r) => r.order),
    [0, 2, 4, 8, 14, 20, 26, 32, null],
  );
  close(rows[0].rho[0], 0.412);
  close(rows[1].rho[1], demo.result!.components[1].rho);
  assert.equal(rows[3].rho[1], undefined, 'the demo has no order 8');
  close(rows[8].rho[1], demo.result!.residue.rho);
  const table = compareTable(rows, items);
  assert.deepEqual(
    table.columns.map((c) => c.title),
    ['component', ...items.map((c) => c.label)],
  );
  assert.deepEqual(table.rows[3], { c: 'l = 8', a0: '0.071', a1: '–' });
  // A zoo gets one row per analysis: its names would not fit as column titles.
  const zooItems = comparedAnalyses(syntheticZoo(6, 2).map((z, i) => ({ path: z.path, fileName: `m${i}.json`, ...parseResult(z.result) })));
  assert.ok(isZoo(zooItems) && !isZoo(items));
  const zooTable = compareTable(compareRows(zooItems), zooItems);
  assert.equal(zooTable.rows.length, 6);
  assert.deepEqual(
    zooTable.columns.map((c) => c.title),
    ['analysis', 'l = 0', 'l = 2', 'l = 4', 'l = 8', 'l = 14', 'Δf'],
  );
  assert.equal(zooTable.rows[0].c0, zooItems[0].result.components[0].rho.toFixed(3));
  const relZoo = compareReliabilityTable(compareReliabilityRows(zooItems)!, zooItems);
  assert.equal(relZoo.rows.length, 6);
  assert.match(relZoo.rows[5].c1, /^0\.\d{3} \/ 0\.\d{3}$/);
});

test('settings that make ρ incomparable are named with each analysis’s value', () => {
  const items = comparedAnalyses([complete, demo]);
  const diffs = settingDifferences(items);
  assert.deepEqual(
    diffs.map((d) => d.setting),
    ['orders', 'disentangler width', 'budget', 'dataset', 'target layer', 'target feature shape'],
  );
  assert.deepEqual(diffs.find((d) => d.setting === 'disentangler width')?.values, ['32', '16']);
  assert.deepEqual(diffs.find((d) => d.setting === 'target feature shape')?.values, ['7×7×32', '7×7×16']);
  assert.match(
    differenceWarning(diffs),
    /^Settings differ: orders, disentangler width, budget, dataset, target layer, target feature shape\. ρ is a relative distribution/,
  );
  const same = comparedAnalyses([complete, { ...complete, fileName: 'copy.json' }]);
  assert.deepEqual(settingDifferences(same), []);
  assert.equal(differenceWarning([]), '');
  // Reliability settings count where both measured reliability; an analysis without it has none to differ.
  const engine = fixture('engine-reliability.json');
  const other = structuredClone(engine);
  other.fileName = 'other.json';
  other.result!.reliabilitySettings!.method = 'target-phi';
  other.result!.reliabilitySettings!.rounds = 0;
  assert.deepEqual(
    settingDifferences(comparedAnalyses([engine, other])).map((d) => d.setting),
    ['reliability method', 'reliability cycle rounds'],
  );
  assert.ok(!settingDifferences(comparedAnalyses([engine, demo])).some((d) => d.setting.startsWith('reliability') || d.setting === 'exemplars'));
});

test('reliability overlay: shares of Var[f] per analysis, none when no analysis measured it', () => {
  const items = comparedAnalyses([complete, demo]);
  const rows = compareReliabilityRows(items)!;
  // The file holds shares of Var[f] already: shown as they are, not divided by Var[f] again.
  const r0 = complete.result!.reliability!.find((r) => r.order === 0)!;
  close(rows[0].reliable[0], r0.reliableVariance);
  close(rows[0].unreliable[0], r0.unreliableVariance);
  close(rows[0].reliable[0]! + rows[0].unreliable[0]!, complete.result!.components[0].rho, 1e-6);
  assert.equal(rows[0].reliable[1], undefined);
  assert.equal(compareReliabilityRows(comparedAnalyses([demo, demo])), undefined);
});

test("comparing an engine-written result: its reliability rows, table cells and chart bars are the file's shares of Var[f]", async () => {
  const engine = fixture('engine-reliability.json');
  const file = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'results', 'engine-reliability.json'), 'utf8')) as {
    reliability: { order: number; reliableVariance: number; unreliableVariance: number }[];
  };
  const items = comparedAnalyses([complete, engine]);
  const rows = compareReliabilityRows(items)!;
  for (const x of file.reliability) {
    const row = rows.find((r) => r.order === x.order)!;
    assert.equal(row.reliable[1], x.reliableVariance);
    assert.equal(row.unreliable[1], x.unreliableVariance);
  }
  // Orders of the other analysis only: no number for the engine's.
  assert.equal(rows.find((r) => r.order === 4)!.reliable[1], undefined);
  const table = compareReliabilityTable(rows, items);
  const col = table.columns.find((c) => c.title.startsWith(items[1].label))!.key;
  for (const x of file.reliability) {
    const cell = table.rows.find((r) => r.c === `l = ${x.order}`)![col];
    const [rel, unrel] = cell.split(' / ').map(Number);
    assert.ok(
      Math.abs(rel - x.reliableVariance) <= 0.0005 + 1e-12 && Math.abs(unrel - x.unreliableVariance) <= 0.0005 + 1e-12,
      `${cell} vs ${x.reliableVariance} / ${x.unreliableVariance}`,
    );
  }
  // The chart module is an ES module (the webview bundle's): loaded as one.
  const { compareReliabilityChart } = await import('../../../src/webview/compare/charts.mjs');
  const chart = compareReliabilityChart(rows, items, THEME);
  const sets = chart.data.datasets as { label: string; data: number[] }[];
  const orderIndex = (o: number) => rows.findIndex((r) => r.order === o);
  const reliable = sets.find((d) => d.label === `${items[1].label}: reliable`)!;
  const unreliable = sets.find((d) => d.label === `${items[1].label}: unreliable`)!;
  for (const x of file.reliability) {
    assert.equal(reliable.data[orderIndex(x.order)], x.reliableVariance);
    assert.equal(unreliable.data[orderIndex(x.order)], x.unreliableVariance);
  }
  const csv = compareCsv(items).trim().split('\n');
  const header = csv[0].split(',');
  const c0 = csv.find((l) => l.startsWith('c0,'))!.split(',');
  assert.equal(Number(c0[header.indexOf(`reliable/Var[f] ${items[1].label}`)]), file.reliability.find((x) => x.order === 0)!.reliableVariance);
});

test('comparison CSV: one ρ column per analysis, reliability columns, a row per component and the residue', () => {
  const items = comparedAnalyses([complete, demo]);
  const lines = compareCsv(items).trim().split('\n');
  assert.equal(lines.length, 1 + 9);
  assert.equal(lines[0].split(',').length, 2 + 2 + 4);
  assert.match(lines[1], /^c0,0,0\.412,0\.300041/);
  assert.match(lines[9], /^residue,,0\.058,0\.142552/);
});

const zoo = syntheticZoo(25, 1);
const report = predictFromResults(
  zoo.filter((_, i) => i !== 12),
  { repeats: 100 },
  zoo[12],
);

test('predicted vs measured: points in percent, held-out and fitted series, the chosen one, a square range covering all', () => {
  const d = predictedVsActual(report);
  assert.equal(d.fitted.length, 24);
  assert.equal(d.heldOut.length, report.models.filter((m) => Number.isFinite(m.heldOut)).length);
  close(d.fitted[0].x, report.models[0].actual * 100, 1e-9);
  close(d.chosen?.y, report.prediction!.predicted * 100, 1e-9);
  for (const p of [...d.heldOut, ...d.fitted, d.chosen!]) assert.ok(p.x > d.range.min && p.x < d.range.max && p.y > d.range.min && p.y < d.range.max);
  // A model the engine never held out arrives as null (JSON has no NaN) and is not drawn as held out.
  const wire = JSON.parse(JSON.stringify({ ...report, models: report.models.map((m, i) => (i === 0 ? { ...m, heldOut: NaN } : m)) }));
  assert.equal(predictedVsActual(wire).heldOut.length, d.heldOut.length - (Number.isFinite(report.models[0].heldOut) ? 1 : 0));
});

test('axis range ends on round ticks', () => {
  assert.deepEqual(niceRange(14.2, 62.9), { min: 10, max: 70 });
  assert.deepEqual(niceRange(0.31, 0.48), { min: 0.3, max: 0.5 });
  assert.deepEqual(niceRange(20, 40), { min: 15, max: 45 });
});

test('headline: held-out MAE ± its std in points, R², the spread of the targets, the prediction', () => {
  const stats = predictStats(report);
  const cv = report.crossValidation;
  assert.equal(stats.find((s) => s.id === 'mae')?.value, `${(100 * cv.maeTest).toFixed(2)} pts ± ${(100 * cv.maeTestStd).toFixed(2)} pts`);
  assert.equal(stats.find((s) => s.id === 'r2')?.value, cv.r2Test.toFixed(3));
  assert.match(stats.find((s) => s.id === 'spread')!.value, /^\d+\.\d\d % … \d+\.\d\d %$/);
  assert.match(stats.find((s) => s.id === 'prediction')!.label, new RegExp(`predicted for ${report.prediction!.label.replace('.', '\\.')}`));
  // The synthetic zoo is linear plus noise: the regressor must do far better than the spread of the targets.
  assert.ok(cv.maeTest < report.targetSpread.std / 3, `MAE ${cv.maeTest} vs std ${report.targetSpread.std}`);
  assert.equal(predictWarning(report), '');
  // An outlier far from the zoo (an easy task's model) breaks the fit: the view says so.
  const outlier = { path: '/zoo/outlier.json', result: { ...zoo[0].result, teacher: { ...zoo[0].result.teacher, testAccuracy: 0.95 } } };
  const broken = predictFromResults([...zoo.slice(0, 11), outlier], { repeats: 100 });
  assert.match(predictWarning(broken), /does not generalise/);
  const rows = predictTable(report);
  assert.equal(rows.length, 25);
  assert.ok(rows[24].model.startsWith('▶ '));
  const loss = predictFromResults(zoo.slice(0, 20), { repeats: 20, target: 'loss' });
  assert.match(predictStats(loss)[0].value, /^\d\.\d{4} ± \d\.\d{4}$/);
});

test('prediction panel: a settings warning with a refit button when the analyses differ, none when they agree', () => {
  assert.equal(settingsNotice(report), undefined, 'the synthetic zoo was analysed with one set of settings');
  // A saved report from before the check has no settings record: no warning to show.
  assert.equal(settingsNotice({ ...report, settings: undefined }), undefined);
  const mixed = zoo.map((z, i) => (i < 4 ? { ...z, result: { ...z.result, budget: 'standard' } } : z));
  const all = predictFromResults(mixed.slice(0, 24), { repeats: 20 }, mixed[24]);
  const n = settingsNotice(all)!;
  assert.match(n.text, /^The analyses differ in settings: budget\. /);
  assert.deepEqual(n.rows, [['budget', 'quick: 21 analyses\nstandard: 4 analyses']]);
  // The model to predict (a quick one) is in the quick group: 21 with it, 20 to fit.
  assert.deepEqual(n.action, { label: 'Fit only the largest consistent group (20 analyses)', consistentOnly: true });
  const only = predictFromResults(mixed.slice(0, 24), { repeats: 20, consistentOnly: true }, mixed[24]);
  assert.equal(only.models.length, 20);
  assert.deepEqual(settingsNotice(only)!.action, { label: 'Fit all 24 analyses again', consistentOnly: false });
});

test('PCA map: one point per model, colour scale over the measured values, iso-lines of the regressor', () => {
  const m = pcaMap(report);
  assert.equal(m.points.length, 24);
  close(m.points[3].x, report.models[3].pca[0]);
  close(m.min, Math.min(...report.models.map((x) => x.actual * 100), report.prediction!.actual * 100));
  assert.equal(scaleColor(m.min, m.min, m.max, '#0000ff', '#ff8000'), 'rgb(0, 0, 255)');
  assert.equal(scaleColor(m.max, m.min, m.max, '#0000ff', '#ff8000'), 'rgb(255, 128, 0)');
  assert.equal(scaleColor(5, 0, 10, '#000000', '#ffffff'), 'rgb(128, 128, 128)');
  assert.deepEqual(scaleTicks(20, 60), ['20.0', '30.0', '40.0', '50.0', '60.0']);
  const iso = isoLines(report, m);
  assert.equal(iso.length, 3);
  // Along each line the regressor restricted to the plane predicts the line's value.
  const { intercept, slopes } = report.pca.plane;
  for (const l of iso) for (const p of l.points) close((intercept + slopes[0] * p.x + slopes[1] * p.y) * 100, l.value, 1e-6);
});

const calibration = {
  tasks: [
    {
      k: 8,
      components: [
        { order: 0, rho: 0.1 },
        { order: 2, rho: 0.3 },
      ],
      residue: { rho: 0.4 },
    },
    {
      k: 0,
      components: [
        { order: 0, rho: 0.8 },
        { order: 2, rho: 0.1 },
      ],
      residue: { rho: 0.05 },
    },
  ],
};

test('calibration: the ARCHITECTURE.md shape is checked with one sentence', () => {
  assert.equal(parseTaskComplexity(calibration), calibration);
  assert.throws(
    () => parseTaskComplexity({}),
    (e: unknown) => e instanceof CalibrationFormatError && /no "tasks" list/.test(e.message),
  );
  assert.throws(() => parseTaskComplexity({ tasks: [{ k: 1, components: [{ order: 0 }], residue: { rho: 0 } }] }), /k=1 lacks components/);
  assert.throws(() => parseTaskComplexity({ tasks: [{ k: 1, components: [], residue: {} }] }), /residue\.rho/);
});

test('calibration series: by k, ρ per order then the residue, centre of mass computed where the file lacks it', () => {
  const s = calibrationSeries(calibration);
  assert.deepEqual(
    s.map((x) => x.k),
    [0, 8],
  );
  assert.deepEqual(s[0].rho, [0.8, 0.1, 0.05]);
  close(s[0].centre, (0.1 * 1 + 0.05 * 2) / 0.95);
  close(centreOfMass([0, 0], 1), 2);
  assert.deepEqual(calibrationLabels(calibration), ['l = 0', 'l = 2', 'residue Δf']);
  assert.deepEqual(calibrationTable(calibration, s)[2], { c: 'residue Δf', t0: '0.050', t1: '0.400' });
  assert.ok(centreRises(s));
  assert.match(calibrationVerdict(s), /^The self-test holds/);
  const recorded = calibrationSeries({
    tasks: [
      { ...calibration.tasks[1], centreOfMass: 3 },
      { ...calibration.tasks[0], centreOfMass: 1 },
    ],
  });
  assert.equal(recorded[0].centre, 3, 'the engine’s value is shown when recorded');
  assert.ok(!centreRises(recorded));
  assert.match(calibrationVerdict(recorded), /drops at k = 8/);
  assert.deepEqual(calibrationSettings(calibration)[0], ['Tasks k', '8, 0']);
});

test('each view has its own page and message kind', () => {
  const html = resultsPageHtml({
    cspSource: 'vscode-resource:',
    nonce: makeNonce(() => new Uint8Array(32)),
    scriptUri: 's.js',
    styleUri: 's.css',
    title: 't',
    view: 'compare',
  });
  assert.match(html, /<main id="app" data-view="compare"/);
  assert.match(resultsPageHtml({ cspSource: 'x', nonce: 'n', scriptUri: 's', styleUri: 'c', title: 't' }), /data-view="results"/);
  const methods = [showCompareNotification, showPredictNotification, showCalibrationNotification].map((n) => n.method);
  assert.deepEqual(methods, ['compare/show', 'predict/show', 'calibration/show']);
  assert.ok(showCompareNotification.is(showCompareNotification.message({ analyses: [] })));
  assert.ok(!showPredictNotification.is(showCompareNotification.message({ analyses: [] })));
});

test('calibration: the engine’s own output reads, and a target DNN that did not learn its task is named', () => {
  const out = parseTaskComplexity(JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'views', 'task-complexity-quick.json'), 'utf8')));
  const s = calibrationSeries(out);
  assert.deepEqual(
    s.map((x) => x.k),
    [0, 2, 8, 26, 80],
  );
  for (const [i, t] of out.tasks.entries()) {
    assert.equal(s[i].centre, t.centreOfMass);
    close(
      s[i].rho.reduce<number>((a, b) => a + (b ?? 0), 0),
      t.components.reduce((a, c) => a + c.rho, 0) + t.residue.rho,
    );
  }
  const poor = s.filter((x) => (x.targetFit ?? 1) < 0.5).map((x) => `k = ${x.k}`);
  const warning = poorFitWarning(s);
  if (poor.length) for (const k of poor) assert.ok(warning.includes(k), warning);
  else assert.equal(warning, '');
  assert.equal(poorFitWarning(calibrationSeries(calibration)), '', 'no warning without a recorded fit');
});
