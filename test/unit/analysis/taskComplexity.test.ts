import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  centreOfMass,
  formatTaskComplexity,
  isPoorFit,
  parseTasks,
  POOR_TARGET_FIT,
  runTaskComplexity,
  TARGET_DNN_ORDER,
  type TaskComplexityResult,
} from '../../../src/analysis/experiments/taskComplexity';
import { BadInputError } from '../../../src/analysis/util/errors';
import { commandUsage } from '../../../src/analysis/cli/cli';
import { calibrationSettings, centreTable, poorFitWarning } from '../../../src/webview/calibration/render';
import { calibrationSeries, POOR_FIT } from '../../../src/shared/files/calibration';

test('centre of mass of ρ over order positions, residue last', () => {
  assert.equal(centreOfMass([1, 0, 0], 0), 0);
  assert.equal(centreOfMass([0, 0, 0], 1), 3);
  assert.equal(centreOfMass([0.5, 0.5], 0), 0.5);
  assert.equal(centreOfMass([0, 0], 0), 0);
  assert.deepEqual(parseTasks(undefined), [0, 2, 8, 26, 80]);
  assert.throws(() => parseTasks('1,-2'), BadInputError);
});

test('task complexity: a linear task (k = 0) sits at order 0; a deep task moves mass up', async () => {
  const r = await runTaskComplexity({
    tasks: [0, 12],
    orders: [0, 4],
    budget: 'quick',
    backend: 'wasm',
    seed: 3,
    width: 8,
    checkWidth: 0,
    samples: { train: 400, test: 200 },
    targetOrder: 4,
  });
  assert.equal(r.tasks.length, 2);
  const [linear, deep] = r.tasks;
  assert.ok(linear.components[0].rho > 0.9, `k=0: ρ⁽⁰⁾ = ${linear.components[0].rho}`);
  assert.ok(deep.centreOfMass > linear.centreOfMass, `centre k=12 ${deep.centreOfMass} vs k=0 ${linear.centreOfMass}`);
  assert.ok(linear.targetFit > 0.9, `target DNN fit ${linear.targetFit}`);
  assert.equal(r.widthCheck, undefined);
  assert.equal(r.poorFitThreshold, POOR_TARGET_FIT);
  assert.equal(linear.poorFit, false);
  for (const t of r.tasks) assert.equal(t.poorFit, t.targetFit < POOR_TARGET_FIT, `k=${t.k}: fit ${t.targetFit}, poorFit ${t.poorFit}`);
});

/** A result as the engine writes it, with the fits given. */
function resultWithFits(fits: number[]): TaskComplexityResult {
  return {
    schemaVersion: 1,
    kind: 'task-complexity',
    engineVersion: 'test',
    backend: 'wasm',
    seed: 0,
    budget: 'quick',
    width: 16,
    targetOrder: TARGET_DNN_ORDER,
    poorFitThreshold: POOR_TARGET_FIT,
    orders: [0, 2],
    tasks: fits.map((targetFit, i) => ({
      k: [0, 8, 80][i],
      components: [
        { order: 0, rho: 0.5 },
        { order: 2, rho: 0.3 },
      ],
      residue: { rho: 0.2 },
      centreOfMass: 0.7,
      targetFit,
      poorFit: isPoorFit(targetFit),
    })),
    seconds: 1,
  };
}

test('task complexity: a target DNN that fits its task net poorly is flagged in the result, the CLI table and the calibration view', () => {
  assert.equal(isPoorFit(0.105), true);
  assert.equal(isPoorFit(POOR_TARGET_FIT), false);
  assert.equal(isPoorFit(0.93), false);
  assert.equal(isPoorFit(Number.NaN), true, 'a fit that could not be measured is not a good one');
  assert.equal(POOR_FIT, POOR_TARGET_FIT, 'the view falls back to the engine’s threshold for older files');

  const r = resultWithFits([0.97, 0.62, 0.105]);
  const table = formatTaskComplexity(r).split('\n');
  const row = (k: number) => table.find((l) => l.trimStart().startsWith(`${k} `)) ?? '';
  assert.match(row(80), /0\.105\s+POOR FIT$/);
  assert.doesNotMatch(row(0), /POOR/);
  assert.doesNotMatch(row(8), /POOR/);
  assert.match(formatTaskComplexity(r), /warning: .*fit < 0\.5\) for k = 80 \(0\.105\)/);
  assert.match(formatTaskComplexity(r), new RegExp(`target DNN ${TARGET_DNN_ORDER} ReLU blocks`));
  assert.doesNotMatch(formatTaskComplexity(resultWithFits([0.97, 0.62])), /warning|POOR/);

  // The view reads the engine's flag (it is what the JSON says, whatever the threshold in the view).
  const flagged = resultWithFits([0.97, 0.62, 0.105]);
  flagged.tasks[1].poorFit = true;
  const s = calibrationSeries(flagged);
  assert.deepEqual(
    s.map((x) => x.poorFit),
    [false, true, true],
  );
  const warning = poorFitWarning(s);
  assert.match(warning, /k = 8 \(fit 0\.620\), k = 80 \(fit 0\.105\)/);
  assert.doesNotMatch(warning, /k = 0/);
  assert.deepEqual(
    centreTable(s).map((x) => x.fit),
    ['0.970', '0.620 (poor)', '0.105 (poor)'],
  );
  assert.deepEqual(
    calibrationSettings(flagged).find(([k]) => k === 'Target DNN'),
    ['Target DNN', `${TARGET_DNN_ORDER} ReLU blocks, width 16`],
  );
  // A file from before the flag: the view applies the threshold itself.
  const old = resultWithFits([0.97, 0.105]) as unknown as { tasks: { poorFit?: boolean }[]; poorFitThreshold?: number };
  for (const t of old.tasks) delete t.poorFit;
  delete old.poorFitThreshold;
  assert.deepEqual(
    calibrationSeries(old as unknown as TaskComplexityResult).map((x) => x.poorFit),
    [false, true],
  );
  assert.equal(poorFitWarning(calibrationSeries(resultWithFits([0.97, 0.62]))), '');
});

test('task complexity: the CLI help says the target DNN the code builds', () => {
  const usage = commandUsage('task-complexity');
  assert.match(usage, new RegExp(`target DNN has ${TARGET_DNN_ORDER} ReLU blocks`));
  assert.match(usage, new RegExp(`below ${POOR_TARGET_FIT}`));
  assert.doesNotMatch(usage, /32 (ReLU )?blocks/);
});
