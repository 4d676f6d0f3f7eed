import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centreOfMass, parseTasks, runTaskComplexity } from '../../src/analysis/taskComplexity';
import { BadInputError } from '../../src/analysis/errors';

test('centre of mass of ρ over order positions, residue last', () => {
  assert.equal(centreOfMass([1, 0, 0], 0), 0);
  assert.equal(centreOfMass([0, 0, 0], 1), 3);
  assert.equal(centreOfMass([0.5, 0.5], 0), 0.5);
  assert.equal(centreOfMass([0, 0], 0), 0);
  assert.deepEqual(parseTasks(undefined), [0, 2, 8, 26, 80]);
  assert.throws(() => parseTasks('1,-2'), BadInputError);
});

test('task complexity: a linear task (k = 0) sits at order 0; a deep task moves mass up', async () => {
  const r = await runTaskComplexity({ tasks: [0, 12], orders: [0, 4], budget: 'quick', backend: 'wasm', seed: 3, width: 8, checkWidth: 0, samples: { train: 400, test: 200 }, targetOrder: 4 });
  assert.equal(r.tasks.length, 2);
  const [linear, deep] = r.tasks;
  assert.ok(linear.components[0].rho > 0.9, `k=0: ρ⁽⁰⁾ = ${linear.components[0].rho}`);
  assert.ok(deep.centreOfMass > linear.centreOfMass, `centre k=12 ${deep.centreOfMass} vs k=0 ${linear.centreOfMass}`);
  assert.ok(linear.targetFit > 0.9, `target DNN fit ${linear.targetFit}`);
  assert.equal(r.widthCheck, undefined);
});
