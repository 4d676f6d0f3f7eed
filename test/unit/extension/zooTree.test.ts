/**
 * The zoos of the Feature Complexity view (issue #16): the tree's nodes and rows from the status
 * the engine prints (`zoo list --json`), and the CLI flags the host sends. The status here is the
 * engine's own (zooStatus on a planned zoo whose rows are in each of the five states), so the view
 * is tested against what the engine really answers.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  childNodes,
  rootNodes,
  ZOO_STATE_ICONS,
  zooContextValue,
  zooDoneResults,
  zooIsActive,
  zooProgressText,
  zooRowView,
  zooView,
  zooWorkspace,
} from '../../../src/extension/analyses/analysesModel';
import { analyzeFlags, cliErrorLine, defaultZooName, submitFlags, submittedJob, zooNameProblem } from '../../../src/extension/flows/zooArgs';
import { planZoo, readManifest, resultPathOf, writeManifest, writeRecord } from '../../../src/analysis/zoo/manifest';
import { zooStatus } from '../../../src/analysis/zoo/status';
import type { ZooStatus } from '../../../src/shared/files/zoo';

const tmp = mkdtempSync(join(tmpdir(), 'fc-zoo-tree-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A zoo of five checkpoints, row i in state: 0 done, 1 running (this process), 2 failed,
 * 3 queued in Slurm, 4 waiting; as `zoo status --json` reports it.
 */
function fiveStateZoo(workspace: string, name: string): ZooStatus {
  const folder = join(workspace, 'checkpoints');
  mkdirSync(folder, { recursive: true });
  for (const f of ['a.onnx', 'b.h5', 'c.keras', 'd.onnx', 'e.pt']) writeFileSync(join(folder, f), `bytes of ${f}`);
  const data = join(workspace, 'data.npz');
  writeFileSync(data, 'npz');
  const { dir, manifest } = planZoo({ source: folder, name, data, args: ['--orders', '0,2', '--budget', 'quick'], workspace });
  const started = new Date().toISOString();
  mkdirSync(join(dir, 'results'), { recursive: true });
  writeFileSync(resultPathOf(dir, manifest.rows[0]), JSON.stringify({ complete: true }));
  writeRecord(dir, 0, { state: 'done', pid: 1, host: hostname(), started, finished: started });
  writeRecord(dir, 1, { state: 'running', pid: process.pid, host: hostname(), started });
  writeRecord(dir, 2, { state: 'failed', pid: 1, host: hostname(), started, finished: started, error: 'b.h5: not an HDF5 file' });
  const m = readManifest(dir);
  m.submissions.push({ scheduler: 'slurm', jobId: '4242', rows: [3], submitted: started, script: 'slurm-1.sbatch' });
  writeManifest(dir, m);
  // Slurm's answer: task 3 is still pending.
  return zooStatus(dir, () => ({ tasks: new Map([['4242_3', 'PENDING']]), finished: new Map() }));
}

const workspace = join(tmp, 'ws');
const zoo = fiveStateZoo(workspace, 'cnns');
const finished: ZooStatus = { ...zoo, name: 'all-done', counts: { done: 2, running: 0, queued: 0, failed: 0, waiting: 0 }, total: 2, rows: [] };

test('the engine says each row’s state; the view shows it with its icon, and a click opens the result, the errors or the output', () => {
  assert.deepEqual(
    zoo.rows.map((r) => r.state),
    ['done', 'running', 'failed', 'queued', 'waiting'],
  );
  const views = zoo.rows.map(zooRowView);
  assert.deepEqual(
    views.map((v) => [v.label, v.description, v.icon]),
    [
      ['a.onnx', 'done', 'pass-filled'],
      ['b.h5', 'running', 'sync~spin'],
      ['c.keras', 'failed', 'error'],
      ['d.onnx', 'queued', 'clock'],
      ['e.pt', 'waiting', 'circle-outline'],
    ],
  );
  assert.deepEqual(
    views.map((v) => v.open),
    [
      { what: 'result', path: zoo.rows[0].result },
      { what: 'log', path: join(zoo.dir, 'logs', '1.out') },
      { what: 'log', path: join(zoo.dir, 'logs', '2.err') },
      undefined,
      undefined,
    ],
  );
  // The tooltip names the checkpoint's path and, for a failed row, its error; a queued row its Slurm task.
  assert.ok(views[2].tooltip.startsWith(join(workspace, 'checkpoints', 'c.keras') + '\n'), views[2].tooltip);
  assert.match(views[2].tooltip, /Error: b\.h5: not an HDF5 file/);
  assert.match(views[3].tooltip, /Row 3: queued \(Slurm task 4242_3\)/);
  assert.deepEqual(
    views.map((v) => v.contextValue),
    ['zooRow-done', 'zooRow-running', 'zooRow-failed', 'zooRow-queued', 'zooRow-waiting'],
  );
  assert.deepEqual(Object.keys(ZOO_STATE_ICONS).sort(), ['done', 'failed', 'queued', 'running', 'waiting']);
  // A model.json is named by its folder, as everywhere in the view.
  assert.equal(zooRowView({ ...zoo.rows[4], checkpoint: '/m/cnn-3/model.json' }).label, 'cnn-3');
});

test('a zoo node: its counts, what its menus offer, its done results and its workspace', () => {
  const v = zooView(zoo);
  assert.equal(v.label, 'cnns');
  assert.equal(v.description, '1 done · 1 running · 1 queued · 1 failed · 1 waiting');
  assert.equal(zooProgressText(zoo), '1 done · 1 running · 1 queued · 1 failed · 1 waiting of 5');
  assert.match(v.tooltip, /^Zoo cnns: 1 done .* of 5\n/);
  // Cancel (active), Compare and Predict (done), Run Again (unfinished), Resubmit Failed Rows (failed).
  assert.equal(v.contextValue, 'zoo active done unfinished failed');
  assert.equal(zooContextValue(finished), 'zoo done');
  assert.equal(zooContextValue({ total: 3, counts: { done: 0, running: 0, queued: 0, failed: 0, waiting: 3 } }), 'zoo unfinished');
  assert.equal(zooIsActive(zoo), true);
  assert.equal(zooIsActive(finished), false);
  assert.deepEqual(zooDoneResults(zoo), [zoo.rows[0].result]);
  assert.equal(zooWorkspace(zoo), workspace);
  // The menus' `when` clauses of package.json match these values as intended.
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { menus: { 'view/item/context': { command: string; when: string }[] } };
  };
  const matches = (when: string, contextValue: string): boolean => {
    const re = /viewItem =~ \/(.+?)\/(?: |$)/.exec(when)?.[1];
    if (re) return new RegExp(re).test(contextValue);
    return /viewItem == (\S+)/.exec(when)?.[1] === contextValue;
  };
  const offered = (contextValue: string) => manifest.contributes.menus['view/item/context'].filter((m) => matches(m.when, contextValue)).map((m) => m.command);
  assert.deepEqual([...new Set(offered(v.contextValue))].sort(), [
    'featureComplexity.cancelZoo',
    'featureComplexity.compare',
    'featureComplexity.predict',
    'featureComplexity.resubmitZoo',
    'featureComplexity.runZooAgain',
  ]);
  assert.deepEqual(offered(zooContextValue(finished)), ['featureComplexity.compare', 'featureComplexity.predict']);
  assert.deepEqual(offered('zooRow-done'), []);
});

test('the tree: a Zoos group after the checkpoints (zoos by name), a zoo’s children are its rows in order', () => {
  const roots = rootNodes([], [], [], [zoo, finished]);
  assert.deepEqual(
    roots.map((n) => n.kind),
    ['zoos'],
  );
  const zoos = childNodes(roots[0]);
  assert.deepEqual(
    zoos.map((n) => n.kind === 'zoo' && n.zoo.name),
    ['all-done', 'cnns'],
  );
  const rows = childNodes(zoos[1]);
  assert.deepEqual(
    rows.map((n) => n.kind === 'zooRow' && [n.zoo.name, n.row.index]),
    [0, 1, 2, 3, 4].map((i) => ['cnns', i]),
  );
  assert.deepEqual(childNodes(rows[0]), []);
  // No zoos: no group.
  assert.deepEqual(rootNodes([], [], [], []), []);
  assert.deepEqual(rootNodes([], [], []), []);
});

test('the CLI flags: the analysis settings as a single analysis sends them, the cluster settings for sbatch', () => {
  const cfg = {
    orders: [0, 2, 4],
    budget: 'quick' as const,
    width: 8,
    backend: 'auto' as const,
    seed: -1,
    exemplars: [] as string[],
    reliabilityMethod: 'joint' as const,
    shapley: false,
    substitution: true,
  };
  assert.deepEqual(analyzeFlags(cfg), ['--orders=0,2,4', '--budget=quick', '--width=8', '--backend=auto', '--seed=-1', '--substitution']);
  assert.deepEqual(
    analyzeFlags({ ...cfg, exemplars: ['/e/a.onnx', '/e/b.onnx'], shapley: true, reliabilityMethod: 'target-phi' }, '/usr/bin/python3').slice(5),
    ['--exemplars=/e/a.onnx,/e/b.onnx', '--reliability-method=target-phi', '--shapley', '--substitution', '--python=/usr/bin/python3'],
  );
  const cluster = { scheduler: 'slurm' as const, partition: '', gres: '', cpusPerTask: 0, time: '', maxRunning: 0, sbatchArgs: [] };
  assert.deepEqual(submitFlags(cluster), ['--slurm']);
  assert.deepEqual(
    submitFlags({ ...cluster, partition: 'gpu', gres: 'gpu:1', cpusPerTask: 4, time: '01:00:00', maxRunning: 8, sbatchArgs: ['--mem=8G', ' '] }, true),
    ['--slurm', '--partition=gpu', '--gres=gpu:1', '--cpus-per-task=4', '--time=01:00:00', '--max-running=8', '--sbatch-arg=--mem=8G', '--retry-failed'],
  );
});

test('zoo names, the CLI’s one-line error and the job it submitted', () => {
  assert.equal(defaultZooName('/w/my checkpoints (v2)'), 'my-checkpoints-v2-');
  assert.equal(defaultZooName('/w/.hidden_zoo'), 'hidden_zoo');
  assert.equal(defaultZooName('/w/Ünïcode'), 'Unicode');
  assert.equal(defaultZooName('/w/模型'), 'zoo');
  assert.equal(defaultZooName('/w/---'), 'zoo');
  assert.equal(defaultZooName(`/w/${'x'.repeat(80)}`).length, 64);
  assert.equal(zooNameProblem('cnn-zoo_1.2'), undefined);
  assert.ok(zooNameProblem('-zoo'));
  assert.ok(zooNameProblem('a b'));
  assert.ok(zooNameProblem(''));
  assert.equal(
    cliErrorLine('row 0 failed\nfeature-complexity zoo: sbatch is not on PATH: submit from a Slurm login node\n'),
    'sbatch is not on PATH: submit from a Slurm login node',
  );
  assert.equal(cliErrorLine('something else\n\n'), 'something else');
  assert.equal(cliErrorLine(''), '');
  assert.deepEqual(submittedJob('submitted job 1234: rows 0,1,2 (/z/slurm-1.sbatch); follow it with: …\n'), { job: '1234', rows: 3 });
  assert.equal(submittedJob('wrote /z/slurm-1.sbatch for rows 0 (not submitted)'), undefined);
});
