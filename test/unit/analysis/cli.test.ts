/** The command-line tool as a user types it: exit codes, one-line errors, machine-readable output. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARALLEL_V8_FLAGS } from '../../../src/shared/engineFlags';
import { processAlive } from '../../../src/analysis/zoo/status';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const MAIN = join(__dirname, '..', '../../src/analysis/main.ts');
function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('an unknown command exits 2 with one line on stderr', () => {
  const r = cli('frobnicate');
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('an unknown flag exits 2 with one line naming it', () => {
  const r = cli('capabilities', '--bogus');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bogus/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('--help lists every command of the contract', () => {
  const r = cli('--help');
  assert.equal(r.status, 0);
  for (const c of ['analyze', 'task-complexity', 'predict', 'demo', 'capabilities']) assert.match(r.stdout, new RegExp(`feature-complexity ${c}`));
});

test("<command> --help prints that command's usage only, and runs nothing", () => {
  const r = cli('analyze', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /feature-complexity analyze <checkpoint> --data <dataset>/);
  assert.match(r.stdout, /--budget quick\|standard\|thorough\|reference/);
  assert.doesNotMatch(r.stdout, /feature-complexity predict/);
  assert.equal(r.stderr, '');
});

test('capabilities --json is valid JSON with the wasm backend available', () => {
  const r = cli('capabilities', '--json');
  assert.equal(r.status, 0, r.stderr);
  const caps = JSON.parse(r.stdout);
  assert.equal(caps.backends.find((b: { name: string }) => b.name === 'wasm').available, true);
});

const FORMATS = join(__dirname, '..', '../fixtures/formats');

test('layers lists an ONNX graph with its default target layer', () => {
  const r = cli('layers', join(FORMATS, 'cnn.onnx'), '--data', join(FORMATS, 'data.npz'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const { layers, defaultLayer } = JSON.parse(r.stdout) as { layers: { name: string }[]; defaultLayer: string };
  assert.ok(
    layers.some((l) => l.name === defaultLayer),
    `default ${defaultLayer} is one of the listed layers`,
  );
});

const torchAvailable = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { timeout: 60_000 }).status === 0;

test(
  'a PyTorch state dict without its model class asks for --model-class in one line',
  { skip: torchAvailable ? false : 'no Python with torch at /usr/bin/python3' },
  () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, 'layers', join(FORMATS, 'cnn_state.pth'), '--data', join(FORMATS, 'data.npz'), '--python', '/usr/bin/python3'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /--model-class module:Class/);
  },
);

/** The processes whose parent is `pid`, with their command lines (Linux /proc). */
function childrenOf(pid: number): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), argv: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // It ended while being read.
    }
  }
  return out;
}

test('a training command on several threads: its one-line error and exit status are those of one thread', () => {
  const [one, two] = ['1', '2'].map((threads) => cli('analyze', join(FORMATS, 'missing.onnx'), '--data', join(FORMATS, 'data.npz'), '--threads', threads));
  assert.equal(one.status, 2, one.stderr);
  assert.match(one.stderr.trim().split('\n').at(-1)!, /^feature-complexity analyze: checkpoint .*missing\.onnx does not exist$/);
  assert.equal(two.status, one.status);
  assert.equal(two.stderr, one.stderr);
  assert.equal(two.stdout, one.stdout);
});

test(
  'a training command on several threads runs in a process started with V8 helpers off the cores; SIGTERM stops it and leaves no process',
  { skip: process.platform !== 'linux' || availableParallelism() < 2, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-cli-flags-'));
    try {
      const args = [
        'analyze',
        join(FORMATS, 'cnn.onnx'),
        '--data',
        join(FORMATS, 'data.npz'),
        '--budget',
        'standard',
        '--threads',
        '2',
        '--out',
        join(dir, 'r.json'),
      ];
      const run = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        run.on('exit', (code, signal) => resolve({ code, signal })),
      );
      let engine: { pid: number; argv: string[] } | undefined;
      for (let i = 0; i < 200 && !engine; i++) {
        await new Promise((r) => setTimeout(r, 100));
        engine = childrenOf(run.pid!).find((c) => c.argv.includes(MAIN));
      }
      assert.ok(engine, 'the command started the engine again in a child process');
      for (const flag of PARALLEL_V8_FLAGS) assert.ok(engine.argv.includes(flag), `${flag} in ${engine.argv.join(' ')}`);
      assert.deepEqual(engine.argv.slice(engine.argv.indexOf(MAIN) + 1), args, 'the same command line');
      // Let it get to work, then stop it as a scheduler or `kill` would.
      await new Promise((r) => setTimeout(r, 3000));
      run.kill('SIGTERM');
      const end = await exited;
      assert.equal(end.signal, 'SIGTERM', `ended by the signal it was sent (${JSON.stringify(end)})`);
      for (let i = 0; i < 50 && processAlive(engine.pid); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(!processAlive(engine.pid), 'the training process is gone too');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
