/**
 * Zoos without a cluster (issue #16): what `zoo plan` finds and how it keys rows, `zoo run` here
 * (N at a time, a shard, a crash that loses only its row), `zoo status` from the files alone, and
 * the sbatch script `zoo submit --slurm --dry-run` writes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arrayRange } from '../../../src/analysis/zoo/slurm';
import { findCheckpoints, planZoo, readManifest, writeRecord } from '../../../src/analysis/zoo/manifest';
import { parseShard } from '../../../src/analysis/zoo/runner';
import { zooStatus } from '../../../src/analysis/zoo/status';
import type { ZooStatus } from '../../../src/shared/files/zoo';

const ROOT = resolve(__dirname, '../../..');
const MAIN = join(ROOT, 'src/analysis/main.ts');
const F = join(ROOT, 'test/fixtures/formats');
const DATA = join(F, 'data.npz');
const FAST = ['--orders', '0,2', '--budget', 'quick', '--width', '4'];

let work = '';
/** The CLI from source (tsx resolves from the repository, so it runs there) on the zoos of `work`. */
const fc = (args: string[], env = process.env) =>
  spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args, ...(args[0] === 'zoo' ? ['--workspace', work] : [])], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    env,
  });

before(() => {
  work = mkdtempSync(join(tmpdir(), 'fc-zoo-'));
  const ck = join(work, 'ck');
  mkdirSync(join(ck, 'sub', 'tfjs'), { recursive: true });
  mkdirSync(join(ck, 'node_modules'));
  copyFileSync(join(F, 'cnn.onnx'), join(ck, 'a.onnx'));
  copyFileSync(join(F, 'keras_cnn.h5'), join(ck, 'sub', 'b.h5'));
  for (const f of ['model.json', 'group1-shard1of1.bin']) copyFileSync(join(F, 'graph', f), join(ck, 'sub', 'tfjs', f));
  copyFileSync(join(F, 'cnn.onnx'), join(ck, 'node_modules', 'skipped.onnx'));
  writeFileSync(join(ck, 'notes.txt'), 'not a checkpoint');
});

after(() => rmSync(work, { recursive: true, force: true }));

test('plan: a folder, a glob or a list file; keys follow the bytes and the settings; a re-plan keeps rows and adds new ones', () => {
  const ck = join(work, 'ck');
  const found = findCheckpoints('ck', work);
  assert.deepEqual(
    found.map((p) => p.slice(ck.length + 1)),
    ['a.onnx', 'sub/b.h5', 'sub/tfjs/model.json'],
  );
  assert.deepEqual(findCheckpoints('ck/**/*.h5', work), [join(ck, 'sub', 'b.h5')]);
  writeFileSync(join(work, 'list.txt'), '# two of them\nck/a.onnx\n\nck/sub/b.h5  # keras\n');
  assert.deepEqual(findCheckpoints('list.txt', work), [join(ck, 'a.onnx'), join(ck, 'sub', 'b.h5')]);
  writeFileSync(join(work, 'bad.txt'), 'ck/missing.onnx\n');
  assert.throws(() => findCheckpoints('bad.txt', work), /lists .*missing\.onnx, which does not exist/);
  assert.throws(() => findCheckpoints('nothing/*.onnx', work), /no checkpoints found/);

  const a = planZoo({ source: 'list.txt', name: 'keys', data: DATA, args: FAST, workspace: work, cwd: work });
  const b = planZoo({ source: 'list.txt', name: 'keys2', data: DATA, args: [...FAST, '--seed', '1'], workspace: work, cwd: work });
  assert.equal(a.manifest.rows.length, 2);
  assert.notEqual(a.manifest.rows[0].key, b.manifest.rows[0].key, 'other settings, other key');
  assert.throws(
    () => planZoo({ source: 'list.txt', name: 'keys', data: DATA, args: ['--orders', '0'], workspace: work, cwd: work }),
    /exists with other settings/,
  );
  const again = planZoo({ source: 'ck', name: 'keys', data: DATA, args: FAST, workspace: work, cwd: work });
  assert.equal(again.added, 1, 'the TF.js model is new');
  assert.deepEqual(
    again.manifest.rows.map((r) => r.key).slice(0, 2),
    a.manifest.rows.map((r) => r.key),
  );
  assert.throws(() => planZoo({ source: 'ck', name: 'x', data: DATA, args: ['--out', 'y.json'], workspace: work, cwd: work }), /--out is set by the zoo/);
  assert.throws(() => planZoo({ source: 'ck', name: '../up', data: DATA, args: [], workspace: work, cwd: work }), /zoo name/);
  assert.throws(() => parseShard('3/2'), /--shard must be i\/n/);
  assert.equal(arrayRange([0, 1, 2, 4, 6, 7]), '0-2,4,6-7');
});

test(
  'zoo run here: two at a time, a shard, a corrupt checkpoint failed with its one line, a dead run found out; status and predict read the zoo',
  { timeout: 300_000 },
  () => {
    const ck = join(work, 'ck');
    writeFileSync(join(ck, 'zz-corrupt.onnx'), readFileSync(join(F, 'cnn.onnx')).subarray(0, 2000));
    const plan = fc([
      'zoo',
      'plan',
      join(work, 'ck'),
      '--name',
      'here',
      '--data',
      DATA,
      ...FAST,
      '--exemplars',
      `${join(F, 'graph')},${join(F, 'keras_cnn.h5')}`,
    ]);
    assert.equal(plan.status, 0, plan.stderr);
    const dir = join(work, '.feature-complexity/zoos/here');
    assert.equal(readManifest(dir).rows.length, 4);
    assert.match(readManifest(dir).args.join(' '), new RegExp(`--exemplars ${join(F, 'graph')},`), 'exemplars made absolute');

    // Shard 2/2: rows 1 and 3 only.
    const shard = fc(['zoo', 'run', 'here', '--jobs', '2', '--shard', '2/2']);
    assert.equal(shard.status, 1, 'row 3 (the corrupt one) fails');
    let s = zooStatus(dir);
    assert.deepEqual(
      s.rows.map((r) => r.state),
      ['waiting', 'done', 'waiting', 'failed'],
    );
    assert.match(s.rows[3].error!, /zz-corrupt\.onnx: not a readable ONNX model/);
    assert.match(readFileSync(s.rows[1].out, 'utf8'), /ρ train/);

    // A run that died without a word: its record says running, its pid is gone.
    writeRecord(dir, 0, { state: 'running', pid: 2 ** 22 + 17, host: hostname(), started: new Date().toISOString() });
    s = zooStatus(dir);
    assert.equal(s.rows[0].state, 'failed');
    assert.match(s.rows[0].error!, /stopped without finishing/);

    const all = fc(['zoo', 'run', 'here', '--jobs', '2']);
    assert.equal(all.status, 1);
    s = JSON.parse(fc(['zoo', 'status', 'here', '--json']).stdout) as ZooStatus;
    assert.deepEqual(s.counts, { done: 3, running: 0, queued: 0, failed: 1, waiting: 0 });
    assert.match(fc(['zoo', 'list']).stdout, /here: 3 done · 1 failed \(of 4\)/);

    const predict = fc(['predict', dir, '--orders', '0', '--repeats', '10']);
    assert.equal(predict.status, 2, 'three models are too few for two features');
    assert.match(predict.stderr, /3 models are too few/);
    assert.match(fc(['predict', 'nozoo']).stderr, /no zoo 'nozoo'/);

    // The script a Slurm submission would run, without submitting it.
    const dry = fc(['zoo', 'submit', 'here', '--slurm', '--dry-run', '--partition', 'gpu', '--gres', 'gpu:1', '--max-running', '2', '--sbatch-arg=--mem=4G']);
    assert.equal(dry.status, 0, dry.stderr);
    const script = readFileSync(join(dir, 'slurm-1.sbatch'), 'utf8');
    assert.match(
      script,
      /#SBATCH --array=3%2\n#SBATCH --output=.*logs\/%a\.out\n#SBATCH --error=.*logs\/%a\.err\n#SBATCH --partition=gpu\n#SBATCH --gres=gpu:1\n#SBATCH --mem=4G/,
    );
    assert.equal(readManifest(dir).submissions.length, 0, 'a dry run submits nothing');
    const noSbatch = fc(['zoo', 'submit', 'here', '--slurm'], { ...process.env, PATH: '/nonexistent' });
    assert.equal(noSbatch.status, 2);
    assert.match(noSbatch.stderr, /sbatch is not on PATH: submit from a Slurm login node/);
    assert.ok(!existsSync(join(dir, 'local-run.json')), 'the local run left no pool file');
  },
);
