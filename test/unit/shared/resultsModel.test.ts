import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateResult } from '../../../src/analysis/pipeline/result';
import { parseResult, ResultFormatError } from '../../../src/shared/files/analysis';
import { readResultFile } from '../../../src/extension/analyses/resultFile';

const fixtures = join(__dirname, '..', '..', 'fixtures', 'results');
const raw = (name: string) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

test('reads a complete result with every optional section', async () => {
  const { result, warnings } = await readResultFile(join(fixtures, 'fixture-complete.json'));
  assert.deepEqual(warnings, []);
  assert.equal(result.complete, true);
  assert.deepEqual(result.orders, [0, 2, 4, 8, 14, 20, 26, 32]);
  assert.equal(result.components.length, 8);
  assert.equal(result.components[0].rho, 0.412);
  assert.equal(result.components[0].rhoTest, 0.405);
  assert.equal(result.components[7].lossCurve?.length, 26);
  assert.equal(result.reliability?.length, 8);
  assert.equal(result.effectiveness?.[0].alpha, 0.4946);
  assert.equal(result.overfitting?.[7].alpha, 1);
  assert.equal(result.shapley?.players.length, 9);
  assert.equal(result.substitution?.[0].testAccuracy, 0.7431);
  assert.equal(result.timing.total, 2841.012);
  assert.equal(result.width, 32);
  assert.equal(result.checkpoint.path, '/home/user/models/fashion-cnn/model.json');
  assert.equal(result.checkpoint.sha256.length, 64);
  assert.equal(result.dataset, '/usr/share/datasets/fashion-mnist');
  assert.deepEqual(result.datasetInfo, { format: 'idx', normalization: '0-1', trainSamples: 2000, testSamples: 2000, numClasses: 10 });
  assert.deepEqual([result.components[0].epochs, result.components[0].converged], [40, true]);
  assert.equal(result.featureVarianceTest, 14.95);
});

test('a running analysis without optional sections is readable and incomplete', () => {
  const { result, warnings } = parseResult(raw('fixture-running.json'));
  assert.deepEqual(warnings, []);
  assert.equal(result.complete, false);
  assert.equal(result.components.length, 3);
  // The engine lists only the finished orders while it runs.
  assert.deepEqual(result.orders, [0, 2, 4]);
  for (const k of ['reliability', 'effectiveness', 'overfitting', 'shapley', 'substitution'] as const) assert.equal(result[k], undefined, k);
  assert.equal(result.components[0].rhoTest, undefined);
});

test('a partial file that records its plan keeps the finished orders and the planned ones apart', () => {
  const { result, warnings } = parseResult(raw('fixture-running-planned.json'));
  assert.deepEqual(warnings, []);
  assert.equal(result.complete, false);
  assert.deepEqual(result.orders, [0, 2, 4]);
  assert.deepEqual(result.plannedOrders, [0, 2, 4, 8, 14, 20, 26, 32]);
  // Older files do not carry a plan, and none is invented for them.
  assert.equal(parseResult(raw('fixture-running.json')).result.plannedOrders, undefined);
  const r = raw('fixture-running-planned.json');
  r.plannedOrders = ['all'];
  assert.equal(parseResult(r).result.plannedOrders, undefined);
});

test('components come out sorted by order whatever the file order', () => {
  const r = raw('fixture-running.json');
  r.components = [...(r.components as unknown[])].reverse();
  assert.deepEqual(
    parseResult(r).result.components.map((c) => c.order),
    [0, 2, 4],
  );
});

test('missing required parts throw one clear ResultFormatError', () => {
  const cases: [string, (r: Record<string, unknown>) => void, RegExp][] = [
    ['no components', (r) => delete r.components, /"components" is missing/],
    ['no residue', (r) => delete r.residue, /"residue" is missing/],
    ['no teacher', (r) => delete r.teacher, /"teacher" is missing/],
    ['component without rho', (r) => delete (r.components as Record<string, unknown>[])[1].rho, /components\[1\]\.rho/],
    ['teacher accuracy not a number', (r) => ((r.teacher as Record<string, unknown>).testAccuracy = '90%'), /teacher\.testAccuracy/],
    ['newer schema', (r) => (r.schemaVersion = 2), /schemaVersion 2/],
    ['no schema', (r) => delete r.schemaVersion, /schemaVersion is missing/],
  ];
  for (const [name, mutate, message] of cases) {
    const r = raw('fixture-complete.json');
    mutate(r);
    assert.throws(
      () => parseResult(r),
      (e: unknown) => e instanceof ResultFormatError && message.test(e.message),
      name,
    );
  }
  assert.throws(() => parseResult([1, 2]), ResultFormatError);
  assert.throws(() => parseResult(null), ResultFormatError);
});

test('malformed optional sections are dropped with a warning, the rest still shows', () => {
  const r = raw('fixture-complete.json');
  r.reliability = 'oops';
  (r.effectiveness as Record<string, unknown>[])[2] = { order: 4 };
  r.shapley = { players: [] };
  const { result, warnings } = parseResult(r);
  assert.equal(result.reliability, undefined);
  assert.equal(result.effectiveness?.length, 7);
  assert.equal(result.shapley, undefined);
  assert.equal(result.substitution?.length, 8);
  assert.equal(warnings.length, 3);
  assert.match(warnings.join(' '), /"reliability" is not a list/);
  assert.match(warnings.join(' '), /1 entry of "effectiveness"/);
  assert.match(warnings.join(' '), /"shapley"/);
});

test('tolerates a plain dataset path, older checkpoint spellings and missing orders / complete', () => {
  const r = raw('fixture-running.json');
  r.dataset = '/data/fmnist';
  r.checkpoint = { path: 'models/b.onnx', hash: 'abc' };
  assert.deepEqual(parseResult(r).result.checkpoint, { path: 'models/b.onnx', sha256: 'abc', format: undefined });
  r.checkpoint = 'models/a.h5';
  delete r.orders;
  delete r.complete;
  const { result } = parseResult(r);
  assert.equal(result.dataset, '/data/fmnist');
  assert.deepEqual(result.checkpoint, { path: 'models/a.h5', sha256: '' });
  assert.equal(result.datasetInfo, undefined);
  assert.deepEqual(result.orders, [0, 2, 4]);
  // Every listed order finished, so without a flag the file counts as complete.
  assert.equal(result.complete, true);
});

test('a file that is not JSON says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-results-'));
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{"schemaVersion": 1, "components": [');
  await assert.rejects(readResultFile(file), (e: unknown) => e instanceof ResultFormatError && /not valid JSON/.test(e.message));
  await assert.rejects(readResultFile(join(dir, 'absent.json')), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
});

test("the fixtures are valid result files by the engine's own schema", () => {
  for (const name of ['fixture-complete.json', 'fixture-running.json', 'fixture-running-planned.json']) assert.equal(validateResult(raw(name)), null, name);
});

test('a file written by `feature-complexity demo --orders 0,2,4` reads without warnings', async () => {
  const { result, warnings } = await readResultFile(join(fixtures, 'demo-quick.json'));
  assert.deepEqual(warnings, []);
  assert.equal(result.complete, true);
  assert.deepEqual(
    result.components.map((c) => c.order),
    [0, 2, 4],
  );
  assert.ok(result.components.every((c) => c.lossCurve && c.lossCurve.length === c.epochs));
  assert.equal(result.datasetInfo?.numClasses, 10);
  assert.equal(validateResult(raw('demo-quick.json')), null);
});

test('an undefined α (null in the file) keeps its row and its φ', () => {
  const r = raw('fixture-complete.json');
  (r.effectiveness as { alpha: number | null }[])[0].alpha = null;
  (r.overfitting as { alpha: number | null }[])[1].alpha = null;
  const { result, warnings } = parseResult(r);
  assert.deepEqual(warnings, []);
  assert.equal(result.effectiveness?.length, 8);
  assert.equal(result.effectiveness?.[0].alpha, null);
  assert.ok(Number.isFinite(result.effectiveness?.[0].phiTrain));
  assert.equal(result.overfitting?.[1].alpha, null);
});
