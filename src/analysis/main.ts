/**
 * Entry of dist/engine.js: the extension host forks it with `--rpc` (child process over IPC);
 * anything else is the command-line tool.
 */
import { runCli } from './cli/cli';

// A dependency's deprecation notice (e.g. a protobuf reader's `Buffer()` on a damaged ONNX file) is
// not the user's business: the CLI's stderr carries progress and one error line.
process.noDeprecation = true;
import { serve } from './rpc/server';
import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { PARALLEL_V8_FLAGS, RESTARTED_ENV, trainsOnThreads } from '../shared/engineFlags';

/** A command that trains on several threads, in a process started without the flags for it (engineFlags.ts). */
function needsRestart(argv: string[]): boolean {
  if (process.env[RESTARTED_ENV] || PARALLEL_V8_FLAGS.every((f) => process.execArgv.includes(f))) return false;
  return trainsOnThreads(argv, availableParallelism());
}

/**
 * Runs the command in a child process of the same node with PARALLEL_V8_FLAGS, passing on its
 * standard streams, the signals that stop it (once: a scheduler that signals the whole process
 * group reaches the child itself too) and its exit status.
 */
function restartWithFlags(argv: string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, ...PARALLEL_V8_FLAGS, process.argv[1], ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [RESTARTED_ENV]: '1' },
  });
  const forwarded = new Set<NodeJS.Signals>();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    if (forwarded.has(signal)) return;
    forwarded.add(signal);
    child.kill(signal);
  };
  for (const s of signals) process.on(s, onSignal);
  child.on('error', (e) => {
    process.stderr.write(`feature-complexity: could not start ${process.execPath}: ${e.message}\n`);
    process.exitCode = 1;
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.removeListener(s, onSignal);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}

if (process.argv.includes('--rpc') && typeof process.send === 'function') {
  serve();
} else if (needsRestart(process.argv.slice(2))) {
  restartWithFlags(process.argv.slice(2));
} else {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`feature-complexity: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
