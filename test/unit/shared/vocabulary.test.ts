import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { BUDGETS as BUDGET_SPECS } from '../../../src/analysis/pipeline/budget';
import { BACKEND_CHOICES, BUDGETS, DEFAULT_BUDGET, DEFAULT_ORDERS, RELIABILITY_METHODS } from '../../../src/shared/vocabulary';

const settings = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { enum?: string[]; default?: unknown }> } };
  }
).contributes.configuration.properties;

test("the settings VS Code shows offer exactly the engine's budgets, backends and reliability methods, with its defaults", () => {
  assert.deepEqual(settings['featureComplexity.budget'].enum, [...BUDGETS]);
  assert.equal(settings['featureComplexity.budget'].default, DEFAULT_BUDGET);
  assert.deepEqual(settings['featureComplexity.backend'].enum, [...BACKEND_CHOICES]);
  assert.deepEqual(settings['featureComplexity.reliabilityMethod'].enum, [...RELIABILITY_METHODS]);
  assert.deepEqual(settings['featureComplexity.orders'].default, [...DEFAULT_ORDERS]);
});

test('every budget name has its training numbers', () => {
  assert.deepEqual(Object.keys(BUDGET_SPECS).sort(), [...BUDGETS].sort());
  for (const b of BUDGETS) assert.equal(BUDGET_SPECS[b].name, b);
});
