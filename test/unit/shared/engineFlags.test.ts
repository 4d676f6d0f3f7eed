/** Which command lines the command-line tool starts again with the V8 flags for training on several threads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainsOnThreads } from '../../../src/shared/engineFlags';

test('training commands on several threads and zoo runs of several rows get the flags; one thread, a GPU backend, other commands and one core do not', () => {
  const yes: string[][] = [
    ['analyze', 'm.onnx', '--data', 'd'],
    ['analyze', 'm.onnx', '--data', 'd', '--threads', '4'],
    ['analyze', 'm.onnx', '--threads=2', '--backend', 'wasm'],
    ['analyze', 'm.onnx', '--backend=auto'],
    ['demo'],
    ['task-complexity', '--threads', '2'],
    ['compress', 'm.json', '--data', 'd'],
    ['distill', 'm.json', '--data', 'd'],
    ['variants', 'm.json', '--data', 'd'],
    ['zoo', 'run', 'z', '--jobs', '2'],
    ['zoo', 'run', 'z', '--jobs', '2', '--threads', '1'],
    ['zoo', 'run', 'z', '--threads=1'],
    ['zoo', 'run', 'z', '--jobs', '1'],
    ['zoo', 'run', 'z', '--row', '3', '--threads', '2'],
  ];
  const no: string[][] = [
    ['analyze', 'm.onnx', '--threads', '1'],
    ['analyze', 'm.onnx', '--threads=1'],
    ['analyze', 'm.onnx', '--backend', 'webgpu'],
    ['analyze', 'm.onnx', '--backend=tensorflow'],
    ['demo', '--threads', '1'],
    ['layers', 'm.onnx'],
    ['predict', 'a.json', 'b.json'],
    ['capabilities'],
    ['zoo', 'run', 'z', '--jobs', '1', '--threads', '1'],
    ['zoo', 'run', 'z', '--row', '3', '--threads', '1'],
    ['zoo', 'status', 'z'],
    ['zoo', 'submit', 'z', '--slurm'],
    [],
  ];
  for (const argv of yes) assert.equal(trainsOnThreads(argv, 8), true, argv.join(' '));
  for (const argv of no) assert.equal(trainsOnThreads(argv, 8), false, argv.join(' '));
  assert.equal(trainsOnThreads(['analyze', 'm.onnx'], 1), false, 'one core');
});
