import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runKillTrials } from '../../../scripts/kill-trials';

test(
  'SIGKILL at random points of an analysis leaves the previous or a valid result file, never a torn one, and the next run works',
  { timeout: 600_000 },
  async () => {
    const report = await runKillTrials(4, 2);
    assert.equal(report.trials.length, 4);
    assert.deepEqual(
      report.trials.filter((t) => t.outcome === 'torn').map((t) => `after ${t.killAfterSeconds.toFixed(2)} s: ${t.detail}`),
      [],
    );
    assert.deepEqual(report.leftovers, [], 'no temporary file is left beside the result');
    assert.equal(report.nextRunWorks, true);
  },
);
