/**
 * Zoos on a real Slurm cluster (issue #16): scripts/slurm-cluster.sh starts slurmctld, slurmd and
 * munge on this machine; the zoo is planned, submitted as an sbatch array, followed with
 * `zoo status`, resubmitted, and predicted on — all through the CLI a user on a login node has.
 * CI installs slurm-wlm and munge (.ci/run); elsewhere, without them, these tests are skipped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ZooStatus } from '../../../src/shared/files/zoo';

const ROOT = resolve(__dirname, '../../..');
const ENGINE = join(ROOT, 'dist/engine.js');
const F = join(ROOT, 'test/fixtures/formats');
const SCRIPT = join(ROOT, 'scripts/slurm-cluster.sh');
const hasSlurm = spawnSync('sh', ['-c', 'command -v sbatch && command -v slurmctld && command -v munged']).status === 0;
const skip = !hasSlurm && !process.env.CI ? 'slurm-wlm and munge are not installed (apt-get install slurm-wlm munge)' : false;

let work = '';
let clusterDir = '';
const env: NodeJS.ProcessEnv = { ...process.env };

function fc(args: string[], timeout = 120_000) {
  return spawnSync(process.execPath, [ENGINE, ...args], { cwd: work, env, encoding: 'utf8', timeout });
}

function status(name: string): ZooStatus {
  const r = fc(['zoo', 'status', name, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ZooStatus;
}

/** Polls `zoo status` until `done(status)` or the time is up. */
async function waitFor(name: string, done: (s: ZooStatus) => boolean, what: string, seconds = 180): Promise<ZooStatus> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const s = status(name);
    if (done(s)) return s;
    if (Date.now() > end) assert.fail(`zoo ${name}: ${what} did not happen in ${seconds} s; last status ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const settled = (s: ZooStatus) => s.counts.running === 0 && s.counts.queued === 0;

function submit(name: string, extra: string[] = []): { job: string; rows: number[] } {
  const r = fc(['zoo', 'submit', name, '--slurm', '--cpus-per-task', '1', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  const m = /submitted job (\d+): rows ([\d,]+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return { job: m[1], rows: m[2].split(',').map(Number) };
}

before(
  () => {
    if (skip) return;
    // The script's own folder: one cluster a machine (slurmctld and slurmd listen on fixed ports).
    clusterDir = join(tmpdir(), 'fc-slurm');
    const r = spawnSync('bash', [SCRIPT, 'start', clusterDir], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, `the local Slurm cluster did not start: ${r.stderr}`);
    const m = /SLURM_CONF=(\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    env.SLURM_CONF = m[1];
    work = mkdtempSync(join(tmpdir(), 'fc-zoo-slurm-'));
    mkdirSync(join(work, '.git'));
  },
  { timeout: 120_000 },
);

after(() => {
  if (skip) return;
  spawnSync('bash', [SCRIPT, 'stop', clusterDir], { encoding: 'utf8', timeout: 60_000 });
  rmSync(work, { recursive: true, force: true });
});

test(
  'a zoo of 4 checkpoints of two formats and a corrupt one, as a Slurm array: 4 results, the corrupt row failed with its reason, --retry-failed resubmits only it, predict runs on the zoo',
  { skip, timeout: 600_000 },
  async () => {
    const ck = join(work, 'checkpoints');
    mkdirSync(ck);
    copyFileSync(join(F, 'cnn.onnx'), join(ck, 'a.onnx'));
    copyFileSync(join(F, 'cnn_nhwc.onnx'), join(ck, 'b.onnx'));
    copyFileSync(join(F, 'keras_cnn.h5'), join(ck, 'c.h5'));
    copyFileSync(join(F, 'keras_cnn.keras'), join(ck, 'd.keras'));
    writeFileSync(join(ck, 'e-corrupt.onnx'), readFileSync(join(F, 'cnn.onnx')).subarray(0, 3000));
    const plan = fc([
      'zoo',
      'plan',
      'checkpoints',
      '--name',
      'mixed',
      '--data',
      join(F, 'data.npz'),
      '--orders',
      '0,2',
      '--budget',
      'quick',
      '--width',
      '4',
      '--exemplars',
      `${join(F, 'graph')},${join(F, 'keras_cnn.h5')}`,
    ]);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /5 checkpoints/);

    const first = submit('mixed');
    assert.deepEqual(first.rows, [0, 1, 2, 3, 4]);
    const script = readFileSync(join(work, '.feature-complexity/zoos/mixed/slurm-1.sbatch'), 'utf8');
    assert.match(script, /#SBATCH --array=0-4\n/);
    assert.match(script, /zoo run .* --row "\$SLURM_ARRAY_TASK_ID"/);
    const s = await waitFor('mixed', settled, 'the array finishing');
    assert.equal(s.counts.done, 4, JSON.stringify(s.rows, null, 1));
    assert.equal(s.counts.failed, 1);
    const bad = s.rows.find((r) => r.state === 'failed')!;
    assert.match(bad.checkpoint, /e-corrupt\.onnx$/);
    assert.match(bad.error!, /e-corrupt\.onnx: not a readable ONNX model/);
    assert.ok(!bad.error!.includes('\n'), 'one line');
    assert.equal(bad.job, `${first.job}_4`);
    // Each task wrote its output and errors to its row's logs.
    assert.match(readFileSync(s.rows[0].out, 'utf8'), /ρ train/);
    assert.match(readFileSync(bad.err, 'utf8'), /not a readable ONNX model/);
    const text = fc(['zoo', 'status', 'mixed']);
    assert.match(text.stdout, /4 done · 1 failed/);
    assert.match(text.stdout, /failed +.*e-corrupt\.onnx\n +.*not a readable ONNX model/);

    // Only the failed row goes again; the finished results stay as they were.
    const before = s.rows.filter((r) => r.result).map((r) => statSync(r.result!).mtimeMs);
    const retry = submit('mixed', ['--retry-failed']);
    assert.deepEqual(retry.rows, [4]);
    assert.match(readFileSync(join(work, '.feature-complexity/zoos/mixed/slurm-2.sbatch'), 'utf8'), /#SBATCH --array=4\n/);
    const again = await waitFor('mixed', (x) => settled(x) && x.rows[4].job === `${retry.job}_4`, 'the retried row finishing');
    assert.equal(again.rows[4].state, 'failed');
    assert.deepEqual(
      again.rows.filter((r) => r.result).map((r) => statSync(r.result!).mtimeMs),
      before,
    );
    assert.equal(fc(['zoo', 'submit', 'mixed', '--slurm']).status, 0, 'a plain submit takes the failed row too');
    await waitFor('mixed', settled, 'the third submission finishing');

    const predict = fc(['predict', 'mixed', '--orders', '0', '--repeats', '20']);
    assert.equal(predict.status, 0, predict.stderr);
    assert.match(predict.stdout, /Predicting test accuracy of 4 models/);
    assert.match(predict.stderr, /using the 4 finished rows of 5/);
  },
);

test('scancel on one running array task: the row is failed as cancelled, and a re-submit runs only that row', { skip, timeout: 600_000 }, async () => {
  const ck = join(work, 'slow');
  mkdirSync(ck);
  for (const n of ['a', 'b', 'c']) copyFileSync(join(F, 'cnn.onnx'), join(ck, `${n}.onnx`));
  const plan = fc(['zoo', 'plan', 'slow', '--name', 'slow', '--data', join(F, 'data.npz'), '--orders', '0,2,4,8', '--budget', 'standard', '--width', '16']);
  assert.equal(plan.status, 0, plan.stderr);
  const { job } = submit('slow');
  // Row 1's task, once its analysis runs: squeue says RUNNING a moment before the engine has
  // started and recorded itself, and a task cancelled in between never ran (a different message).
  const record = join(work, '.feature-complexity/zoos/slow/rows/1.json');
  const started = (s: ZooStatus) => {
    try {
      return s.rows[1].state === 'running' && JSON.parse(readFileSync(record, 'utf8')).state === 'running';
    } catch {
      return false;
    }
  };
  const running = await waitFor('slow', started, 'row 1 starting its analysis', 120);
  assert.equal(running.rows[1].job, `${job}_1`);
  const c = spawnSync('scancel', [`${job}_1`], { env, encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const s = await waitFor('slow', settled, 'the array finishing');
  assert.deepEqual(
    s.rows.map((r) => r.state),
    ['done', 'failed', 'done'],
  );
  assert.match(s.rows[1].error!, /cancelled|ended without finishing/);
  const doneAt = [0, 2].map((i) => statSync(s.rows[i].result!).mtimeMs);

  const again = submit('slow');
  assert.deepEqual(again.rows, [1]);
  const end = await waitFor('slow', settled, 'the re-submitted row finishing');
  assert.deepEqual(
    end.rows.map((r) => r.state),
    ['done', 'done', 'done'],
  );
  assert.deepEqual(
    [0, 2].map((i) => statSync(end.rows[i].result!).mtimeMs),
    doneAt,
  );
});
