import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError } from '../../../src/analysis/util/errors';
import { readResult, validateResult, writeResult, type ResultFile } from '../../../src/analysis/pipeline/result';
import { formatResult } from '../../../src/analysis/cli/commands';

function sample(): ResultFile {
  return {
    schemaVersion: 1,
    kind: 'analysis',
    checkpoint: { path: '/m/model.json', sha256: 'a'.repeat(64) },
    targetLayer: 'conv2',
    dataset: { path: '/d', format: 'idx', normalization: 'pixel / 255', trainSamples: 100, testSamples: 50 },
    backend: 'wasm',
    seed: 0,
    budget: 'quick',
    orders: [0, 2],
    plannedOrders: [0, 2],
    components: [
      { order: 0, rho: 0.7, variance: 7, rhoTest: 0.68, varianceTest: 6.5, lossCurve: [1, 0.5] },
      { order: 2, rho: 0.2, variance: 2 },
    ],
    residue: { rho: 0.1, variance: 1 },
    featureVariance: 10,
    teacher: { trainAccuracy: 0.9, testAccuracy: 0.85, trainLoss: 0.3, testLoss: 0.4 },
    timing: { load: 0.1, disentanglers: 12 },
    complete: true,
    substitution: [{ order: 0, testAccuracy: 0.5, testLoss: 1.2 }],
  };
}

test('result: a written file validates and reads back; the write is atomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-result-'));
  try {
    const p = join(dir, 'sub', 'r.json');
    writeResult(p, sample());
    assert.deepEqual(readResult(p), sample());
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['r.json'], 'no temp file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('result: broken files do not validate', () => {
  assert.equal(validateResult(sample()), null);
  // Files written before the plan was recorded still validate.
  const older: Partial<ResultFile> = sample();
  delete older.plannedOrders;
  assert.equal(validateResult(older), null);
  const broken: [string, (r: Record<string, unknown>) => void][] = [
    ['missing components', (r) => delete r.components],
    ['wrong schemaVersion', (r) => (r.schemaVersion = 2)],
    ['negative ρ', (r) => ((r.components as { rho: number }[])[0].rho = -0.1)],
    ['bad hash', (r) => ((r.checkpoint as { sha256: string }).sha256 = 'xyz')],
    ['accuracy above 1', (r) => ((r.teacher as { testAccuracy: number }).testAccuracy = 85)],
    ['unknown backend', (r) => (r.backend = 'tpu')],
    ['complete not boolean', (r) => (r.complete = 'yes')],
    ['planned orders not integers', (r) => (r.plannedOrders = [0, 'two'])],
    ['negative planned order', (r) => (r.plannedOrders = [-1, 2])],
    ['malformed shapley', (r) => (r.shapley = { baseline: 'mean', players: [{ name: 'c0' }], train: {}, test: {} })],
  ];
  for (const [what, breakIt] of broken) {
    const r = JSON.parse(JSON.stringify(sample()));
    breakIt(r);
    assert.notEqual(validateResult(r), null, what);
  }
  const dir = mkdtempSync(join(tmpdir(), 'fc-result-'));
  try {
    const r = JSON.parse(JSON.stringify(sample()));
    delete r.residue;
    assert.throws(() => writeResult(join(dir, 'bad.json'), r), /schema/);
    assert.equal(existsSync(join(dir, 'bad.json')), false);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(r));
    assert.throws(() => readResult(join(dir, 'bad.json')), BadInputError);
    assert.ok(readFileSync(join(dir, 'bad.json'), 'utf8').length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI table shows each optional metric of an order in its own column, and a failed stage', () => {
  const plain = formatResult(sample());
  assert.match(plain, /subst\. test acc/);
  assert.doesNotMatch(plain, /ρ_rel|α_effective|α_overfit/);
  const r: ResultFile = {
    ...sample(),
    reliability: [{ order: 2, reliableRho: 0.61, reliableVariance: 1.2, unreliableVariance: 0.8 }],
    reliabilityMethod: 'joint test',
    effectiveness: [
      { order: 0, phiTrain: 0.5, alpha: 0.19 },
      { order: 2, phiTrain: 0.1, alpha: null },
    ],
    overfitting: [{ order: 0, phiGap: 0.05, alpha: 0.1 }],
    errors: [{ stage: 'visualization', message: 'out of memory' }],
  };
  const lines = formatResult(r).split('\n');
  const head = lines.find((l) => l.startsWith('order'))!;
  assert.deepEqual(head.split(/\s{2,}/).slice(-4), ['ρ_rel', 'α_effective', 'α_overfit', 'subst. test acc']);
  const row = (order: number) =>
    lines
      .find((l) => l.trim().startsWith(`${order} `))!
      .trim()
      .split(/\s+/)
      .slice(-4);
  assert.deepEqual(row(0), ['-', '0.190', '0.100', '0.500']);
  assert.deepEqual(row(2), ['0.610', '-', '-', '-']);
  assert.ok(lines.includes('FAILED stage visualization: out of memory'));
  assert.ok(lines.some((l) => l.startsWith('ρ_rel = Var[reliable part] / Var[component] (joint test)')));
  // A file from before reliability version 2 says its shares are not comparable.
  assert.ok(lines.some((l) => /earlier rule/.test(l)));
});

test('the CLI table shows ρ_rel on the test samples and the reliable share of both splits', () => {
  const r: ResultFile = {
    ...sample(),
    reliability: [
      { order: 0, reliableRho: 0.5, reliableVariance: 0.3, unreliableVariance: 0.3 },
      { order: 2, reliableRho: 0.5, reliableVariance: 0.1, unreliableVariance: 0.1 },
    ],
    reliabilityTest: [
      { order: 0, reliableRho: 0.4, reliableVariance: 0.2, unreliableVariance: 0.3 },
      { order: 2, reliableRho: 0.2, reliableVariance: 0.04, unreliableVariance: 0.16 },
    ],
    reliabilitySettings: { method: 'joint', networks: 3, exemplars: ['a', 'b'], rounds: 10, samples: 100, version: 2 },
  };
  const lines = formatResult(r).split('\n');
  const head = lines.find((l) => l.startsWith('order'))!;
  assert.deepEqual(head.split(/\s{2,}/).slice(-3), ['ρ_rel', 'ρ_rel test', 'subst. test acc']);
  const row = lines
    .find((l) => l.trim().startsWith('2 '))!
    .trim()
    .split(/\s+/)
    .slice(-3);
  assert.deepEqual(row, ['0.500', '0.200', '-']);
  // (0.3 + 0.1) / 0.8 and (0.2 + 0.04) / 0.7.
  assert.ok(lines.includes('reliable share Σ Var[reliable] / Σ Var[component]: train 0.500   test 0.343'), lines.join('\n'));
  assert.ok(!lines.some((l) => /earlier rule/.test(l)));
});
