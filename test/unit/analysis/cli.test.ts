/** The command-line tool as a user types it: exit codes, one-line errors, machine-readable output. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
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
