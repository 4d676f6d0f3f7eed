/** `predict`: from result files to MAE, R², a PCA map and a prediction, as a function and as a command. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consistentGroups, predictSettingsWarning, settingDifferences } from '../../../src/shared/comparability';
import { BadInputError } from '../../../src/analysis/util/errors';
import { featureVector, predictFromResults, readPredictSource, selectFeatureOrders, type PredictInput } from '../../../src/analysis/experiments/predict';
import { mulberry32 } from '../../../src/analysis/util/random';

const MAIN = join(__dirname, '..', '../../src/analysis/main.ts');
function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

const ORDERS = [0, 2, 4, 8, 14];
// Accuracy = 0.3 + Σ w · shares: reliable low-order variance helps, unreliable hurts.
const W = [0.4, -0.3, 0.3, -0.2, 0.1, -0.4, 0.05, -0.1];

/** A result file (the fields of ARCHITECTURE.md's contract) whose accuracy is a known linear function of its 8-d vector. */
function syntheticResult(i: number, rand: () => number, noise = 0, withReliability = true) {
  const reliability = ORDERS.map((order) => ({ order, reliableRho: rand(), reliableVariance: 0.3 * rand(), unreliableVariance: 0.2 * rand() }));
  const x = reliability.slice(0, 4).flatMap((r) => [r.reliableVariance, r.unreliableVariance]);
  const acc = 0.3 + x.reduce((s, v, k) => s + v * W[k], 0) + noise * (rand() - 0.5);
  return {
    schemaVersion: 1,
    checkpoint: { path: `/models/resnet-${i}.h5`, sha256: i.toString(16).padStart(64, '0') },
    targetLayer: 'block3',
    dataset: { path: '/data/cifar', format: 'cifar10', normalization: '0-1', trainSamples: 200 + 100 * i, testSamples: 1000 },
    backend: 'wasm',
    seed: 0,
    budget: 'quick',
    orders: ORDERS,
    components: ORDERS.map((order) => ({ order, rho: 0.1, variance: 1 })),
    residue: { rho: 0.1, variance: 1 },
    featureVariance: 10,
    teacher: { trainAccuracy: 1, testAccuracy: acc, trainLoss: 0.01, testLoss: 2 - 2 * acc },
    timing: {},
    complete: true,
    ...(withReliability ? { reliability } : {}),
  };
}

function collection(m: number, seed: number, noise = 0): PredictInput[] {
  const rand = mulberry32(seed);
  return Array.from({ length: m }, (_, i) => ({ path: `/r/model-${i}.json`, result: syntheticResult(i, rand, noise) }));
}

test('result files are read with one clear line when a needed field is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-read-'));
  const write = (name: string, v: unknown) => {
    writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
    return join(dir, name);
  };
  const good = syntheticResult(0, mulberry32(1));
  assert.deepEqual(readPredictSource(write('good.json', good)), good);
  assert.throws(
    () => readPredictSource(write('broken.json', '{')),
    (e: unknown) => e instanceof BadInputError && /broken\.json: not a readable/.test(e.message),
  );
  assert.throws(() => readPredictSource(write('v2.json', { ...good, schemaVersion: 2 })), BadInputError);
  assert.throws(() => readPredictSource(write('noteacher.json', { ...good, teacher: {} })), /teacher/);
  assert.throws(() => readPredictSource(write('rel.json', { ...good, reliability: [{ order: 0 }] })), /reliableVariance/);
});

test('default features: reliable/unreliable shares of the 4 lowest common orders', () => {
  const inputs = collection(3, 2);
  assert.deepEqual(selectFeatureOrders(inputs), [0, 2, 4, 8]);
  const r = inputs[0].result.reliability!;
  assert.deepEqual(featureVector(inputs[0], [2, 8]), [r[1].reliableVariance, r[1].unreliableVariance, r[3].reliableVariance, r[3].unreliableVariance]);
  assert.throws(() => selectFeatureOrders(inputs, [0, 3]), BadInputError);
});

test('noiseless collection: MAE ≈ 0, R² = 1, the fit recovers the weights, --for is predicted exactly', () => {
  const inputs = collection(26, 3);
  const forInput = inputs.pop()!;
  const r = predictFromResults(inputs, { repeats: 100, seed: 1 }, forInput);
  assert.deepEqual(r.featureOrders, [0, 2, 4, 8]);
  assert.equal(r.models.length, 25);
  assert.ok(r.crossValidation.maeTest < 1e-8, `MAE ${r.crossValidation.maeTest}`);
  assert.ok(Math.abs(r.r2Fit - 1) < 1e-10 && Math.abs(r.crossValidation.r2Test - 1) < 1e-10);
  r.fit.coefficients.forEach((c, k) => assert.ok(Math.abs(c - W[k]) < 1e-8));
  assert.ok(r.prediction && Math.abs(r.prediction.predicted - r.prediction.actual) < 1e-8);
  assert.equal(r.pca.components.length, 2);
  assert.equal(r.models[0].pca.length, 2);
  assert.equal(r.crossValidation.trainSize, 20);
  assert.equal(r.crossValidation.testSize, 5);
});

test('the --for model is kept out of the fit even when it is in the list', () => {
  const inputs = collection(14, 4, 0.02);
  const r = predictFromResults(inputs, { repeats: 20 }, inputs[3]);
  assert.equal(r.models.length, 13);
  assert.ok(!r.models.some((m) => m.path === inputs[3].path));
});

test('too few models, or a file without reliability, is a BadInputError', () => {
  assert.throws(
    () => predictFromResults(collection(9, 5)),
    (e: unknown) => e instanceof BadInputError && /at least 10/.test(e.message),
  );
  assert.doesNotThrow(() => predictFromResults(collection(9, 5), { orders: [0, 2], repeats: 5 }));
  const inputs = collection(12, 6);
  delete inputs[4].result.reliability;
  assert.throws(
    () => predictFromResults(inputs),
    (e: unknown) => e instanceof BadInputError && /model-4\.json.*no reliability/.test(e.message),
  );
});

test('the command prints MAE, R², the spread, a table and the prediction; --json carries the PCA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-predict-'));
  const rand = mulberry32(7);
  const files = Array.from({ length: 13 }, (_, i) => {
    const path = join(dir, `model-${i}.json`);
    writeFileSync(path, JSON.stringify(syntheticResult(i, rand, 0.01)));
    return path;
  });
  const table = cli('predict', ...files.slice(0, 12), '--repeats', '50', '--for', files[12]);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /held-out MAE: [\d.]+ points/);
  assert.match(table.stdout, /R²: held-out/);
  assert.match(table.stdout, /spread: /);
  assert.match(table.stdout, /resnet-11\.h5/);
  assert.match(table.stdout, /prediction for resnet-12\.h5/);

  const out = join(dir, 'out', 'predict.json');
  const json = cli('predict', ...files, '--repeats', '50', '--target', 'loss', '--json', '--out', out);
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.target, 'loss');
  assert.equal(report.models.length, 13);
  assert.equal(report.models[0].pca.length, 2);
  assert.equal(report.pca.explainedVarianceRatio.length, 2);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), report);

  const few = cli('predict', ...files.slice(0, 5));
  assert.equal(few.status, 2);
  assert.equal(few.stderr.trim().split('\n').length, 1);
  assert.match(few.stderr, /too few/);
  const bad = cli('predict', ...files, '--target', 'speed');
  assert.equal(bad.status, 2);
  const noRel = join(dir, 'bare.json');
  writeFileSync(noRel, JSON.stringify(syntheticResult(99, rand, 0, false)));
  const missing = cli('predict', ...files, noRel);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /bare\.json: has no reliability/);
});

/** Reliability as the engine records it: the same method, rounds and exemplars for every model unless changed. */
const SETTINGS = { method: 'joint', networks: 3, exemplars: ['/ex/a', '/ex/b'], rounds: 10, samples: 1000, version: 2 };

/**
 * `base` models with one set of settings, then groups that differ in one setting each (`change`
 * applied to their result), so the largest consistent group is known.
 */
function mixed(base: number, groups: { n: number; change: (r: Record<string, unknown>) => void }[], seed = 8): PredictInput[] {
  const rand = mulberry32(seed);
  let i = 0;
  const make = (change?: (r: Record<string, unknown>) => void) => {
    const result: Record<string, unknown> = {
      ...syntheticResult(i, rand, 0.01),
      width: 16,
      featureShape: [7, 7, 16],
      reliabilitySettings: structuredClone(SETTINGS),
    };
    change?.(result);
    return { path: `/r/model-${i++}.json`, result: result as unknown as PredictInput['result'] };
  };
  return [...Array.from({ length: base }, () => make()), ...groups.flatMap((g) => Array.from({ length: g.n }, () => make(g.change)))];
}

const standardBudget = (r: Record<string, unknown>) => (r.budget = 'standard');
const targetPhi = (r: Record<string, unknown>) => ((r.reliabilitySettings as typeof SETTINGS).method = 'target-phi');

test('analyses with the same settings: no differing setting, no warning, every one fitted', () => {
  // The dataset folder and its training samples differ per model (each is analysed on its own training set): not a mixed setting.
  const inputs = mixed(12, []);
  const r = predictFromResults(inputs, { repeats: 20 });
  assert.deepEqual(r.settings?.differing, []);
  assert.equal(predictSettingsWarning(r.settings), '');
  assert.equal(r.models.length, 12);
  assert.deepEqual(r.settings?.leftOut, []);
  assert.equal(predictFromResults(inputs, { repeats: 20, consistentOnly: true }).models.length, 12, 'nothing to restrict');
});

test('mixed budgets and reliability methods: the report names each differing setting with its counts, and the warning says so', () => {
  const inputs = mixed(12, [
    { n: 3, change: standardBudget },
    { n: 2, change: targetPhi },
  ]);
  const r = predictFromResults(inputs, { repeats: 20 });
  assert.equal(r.models.length, 17, 'without --consistent-only every analysis is fitted');
  assert.deepEqual(r.settings?.differing, [
    {
      setting: 'budget',
      counts: [
        { value: 'quick', analyses: 14 },
        { value: 'standard', analyses: 3 },
      ],
    },
    {
      setting: 'reliability method',
      counts: [
        { value: 'joint', analyses: 15 },
        { value: 'target-phi', analyses: 2 },
      ],
    },
  ]);
  assert.equal(r.settings?.largestGroup, 12);
  const warning = predictSettingsWarning(r.settings);
  assert.match(warning, /^The analyses differ in settings: budget \(14 × quick \| 3 × standard\); reliability method \(15 × joint \| 2 × target-phi\)\./);
  assert.match(warning, /largest group with the same settings has 12 of 17 analyses/);
  // Widths, orders, exemplars, rounds, the rule's version, the task and the feature shape count too.
  const each: [string, (x: Record<string, unknown>) => void][] = [
    ['disentangler width', (x) => (x.width = 32)],
    ['orders', (x) => (x.orders = [0, 2, 4, 8, 14, 20])],
    ['exemplars', (x) => ((x.reliabilitySettings as typeof SETTINGS).exemplars = ['/ex/c', '/ex/d'])],
    ['reliability cycle rounds', (x) => ((x.reliabilitySettings as typeof SETTINGS).rounds = 0)],
    ['reliability rule version', (x) => delete (x.reliabilitySettings as Partial<typeof SETTINGS>).version],
    ['task (format, classes, test samples)', (x) => (x.dataset = { ...(x.dataset as object), testSamples: 500 })],
    ['target feature shape', (x) => (x.featureShape = [14, 14, 16])],
  ];
  for (const [setting, change] of each) {
    const diffs = settingDifferences(
      mixed(2, [{ n: 1, change }]).map((x) => x.result),
      'predict',
    );
    assert.deepEqual(
      diffs.map((d) => d.setting),
      [setting],
    );
  }
});

test('--consistent-only fits the largest group with the same settings and names the ones left out', () => {
  const inputs = mixed(12, [
    { n: 3, change: standardBudget },
    { n: 2, change: targetPhi },
  ]);
  assert.deepEqual(
    consistentGroups(
      inputs.map((i) => i.result),
      'predict',
    ).map((g) => g.length),
    [12, 3, 2],
  );
  const r = predictFromResults(inputs, { repeats: 20, consistentOnly: true });
  assert.deepEqual(
    r.models.map((m) => m.path),
    inputs.slice(0, 12).map((i) => i.path),
  );
  assert.deepEqual(
    r.settings?.leftOut.map((l) => l.label),
    ['resnet-12.h5', 'resnet-13.h5', 'resnet-14.h5', 'resnet-15.h5', 'resnet-16.h5'],
  );
  assert.equal(r.settings?.consistentOnly, true);
  assert.match(predictSettingsWarning(r.settings), /Only the largest group with the same settings was fitted: 12 of 17 analyses; left out: resnet-12\.h5, /);
  // With a model to predict, the group is that model's: a regressor from other settings says nothing about it.
  const five = mixed(12, [{ n: 5, change: standardBudget }]);
  const own = predictFromResults(five, { repeats: 20, consistentOnly: true, orders: [0] }, five[13]);
  assert.deepEqual(
    own.models.map((m) => m.path),
    [12, 14, 15, 16].map((i) => five[i].path),
  );
  assert.equal(own.settings?.largestGroup, 5);
  assert.equal(own.prediction?.path, five[13].path);
});

test('the command warns on stderr when the analyses differ, not when they agree; --consistent-only restricts the fit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-predict-mixed-'));
  const write = (inputs: PredictInput[], prefix: string) =>
    inputs.map((input, i) => {
      const path = join(dir, `${prefix}-${i}.json`);
      writeFileSync(path, JSON.stringify(input.result));
      return path;
    });
  const same = write(mixed(12, []), 'same');
  const agree = cli('predict', ...same, '--repeats', '20');
  assert.equal(agree.status, 0, agree.stderr);
  assert.doesNotMatch(agree.stderr, /warning|differ/);

  const files = write(
    mixed(12, [
      { n: 3, change: standardBudget },
      { n: 2, change: targetPhi },
    ]),
    'mixed',
  );
  const all = cli('predict', ...files, '--repeats', '20');
  assert.equal(all.status, 0, all.stderr);
  assert.match(
    all.stderr,
    /^feature-complexity predict: warning: The analyses differ in settings: budget \(14 × quick \| 3 × standard\); reliability method \(15 × joint \| 2 × target-phi\)\..* Pass --consistent-only to fit only that group\.$/m,
  );
  assert.match(all.stdout, /of 17 models/);

  const only = cli('predict', ...files, '--repeats', '20', '--consistent-only', '--json');
  assert.equal(only.status, 0, only.stderr);
  const report = JSON.parse(only.stdout);
  assert.equal(report.models.length, 12);
  assert.equal(report.settings.leftOut.length, 5);
  assert.match(only.stderr, /warning: .*Only the largest group with the same settings was fitted: 12 of 17 analyses/);

  const help = cli('predict', '--help');
  assert.match(help.stdout, /--consistent-only/);
});
