import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { generateCases, runCampaign } from '../../../scripts/fuzz';

test(
  'fuzz subset: every 10th case of the campaign of record (seed 1) ends in a valid result or one readable line with exit code 2',
  { timeout: 600_000 },
  async () => {
    const cases = generateCases(320, 1).filter((c) => c.id % 10 === 0);
    const results = await runCampaign(cases, Math.min(2, availableParallelism()));
    const bad = results.filter((r) => r.outcome !== 'result' && r.outcome !== 'rejected');
    assert.deepEqual(
      bad.map((r) => `#${r.id} ${r.outcome}: ${r.what} → ${r.line}`),
      [],
    );
    // The subset reaches both ends: inputs that still work and inputs that are refused.
    assert.ok(results.some((r) => r.outcome === 'rejected'));
    for (const r of results.filter((x) => x.outcome === 'rejected')) assert.ok(!r.line.includes('\n') && r.line.length < 2000, r.line);
  },
);
