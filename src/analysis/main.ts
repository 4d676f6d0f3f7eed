/**
 * Entry of dist/engine.js: the extension host forks it with `--rpc` (child process over IPC);
 * anything else is the command-line tool.
 */
import { runCli } from './cli/cli';

// A dependency's deprecation notice (e.g. a protobuf reader's `Buffer()` on a damaged ONNX file) is
// not the user's business: the CLI's stderr carries progress and one error line.
process.noDeprecation = true;
import { serve } from './rpc/server';

if (process.argv.includes('--rpc') && typeof process.send === 'function') {
  serve();
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
