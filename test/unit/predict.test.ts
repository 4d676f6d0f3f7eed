/** `predict`: from result files to MAE, R², a PCA map and a prediction, as a function and as a command. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../../src/analysis/errors';
import { featureVector, predictFromResults, readPredictSource, selectFeatureOrders, type PredictInput } from '../../src/analysis/predict';
import { seededRandom } from '../../src/analysis/metrics/shapley';

const MAIN = join(__dirname, '../../src/analysis/main.ts');
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
  const rand = seededRandom(seed);
  return Array.from({ length: m }, (_, i) => ({ path: `/r/model-${i}.json`, result: syntheticResult(i, rand, noise) }));
}

test('result files are read with one clear line when a needed field is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-read-'));
  const write = (name: string, v: unknown) => {
    writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
    return join(dir, name);
  };
  const good = syntheticResult(0, seededRandom(1));
  assert.deepEqual(readPredictSource(write('good.json', good)), good);
  assert.throws(() => readPredictSource(write('broken.json', '{')), (e: unknown) => e instanceof BadInputError && /broken\.json: not a readable/.test(e.message));
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
  assert.throws(() => predictFromResults(collection(9, 5)), (e: unknown) => e instanceof BadInputError && /at least 10/.test(e.message));
  assert.doesNotThrow(() => predictFromResults(collection(9, 5), { orders: [0, 2], repeats: 5 }));
  const inputs = collection(12, 6);
  delete inputs[4].result.reliability;
  assert.throws(() => predictFromResults(inputs), (e: unknown) => e instanceof BadInputError && /model-4\.json.*no reliability/.test(e.message));
});

test('the command prints MAE, R², the spread, a table and the prediction; --json carries the PCA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-predict-'));
  const rand = seededRandom(7);
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
