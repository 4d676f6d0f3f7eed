/**
 * The engine's command line for zoos (`dist/engine.js zoo plan|run|submit|cancel|list`, issue #16),
 * run as child processes of the extension host: the same Node as the engine's RPC process
 * (setting `featureComplexity.nodePath`, else the one VS Code runs on), in the workspace folder,
 * with `--workspace` naming it. Command lines and what they print on stderr go to the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';

export interface CliResult {
  /** The exit code; null when a signal ended it, -1 when it could not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

export interface CliOptions {
  /** Log the command at debug level and not its output (the view's periodic `zoo list`). */
  quiet?: boolean;
  /** Each line the command writes on stderr, as it comes. */
  onStderrLine?: (line: string) => void;
}

const quote = (a: string) => (/^[\w./:=,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export class ZooCli {
  constructor(
    private readonly enginePath: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly nodePath: () => string | undefined,
  ) {}

  /** Starts `engine.js zoo <sub> <args…> --workspace <workspace>` in the workspace folder. */
  start(sub: string, args: string[], workspace: string, opts: CliOptions = {}): CliRun {
    const execPath = this.nodePath() || process.execPath;
    const argv = [this.enginePath, 'zoo', sub, ...args, '--workspace', workspace];
    const line = `[host] zoo: ${[execPath, ...argv].map(quote).join(' ')} (in ${workspace})`;
    if (opts.quiet) this.log.debug(line);
    else this.log.info(line);
    const child = spawn(execPath, argv, {
      cwd: workspace,
      stdio: ['ignore', 'pipe', 'pipe'],
      // VS Code's own binary runs as Node with this; the engine's row processes inherit it.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) this.stderrLine(l, sub, opts);
    });
    const done = new Promise<CliResult>((resolve) => {
      child.once('error', (e) => {
        this.log.error(`[host] zoo ${sub}: could not start ${execPath}: ${e.message}`);
        resolve({ code: -1, signal: null, stdout, stderr: stderr + `\nfeature-complexity zoo: could not start ${execPath}: ${e.message}\n` });
      });
      child.once('close', (code, signal) => {
        if (partial) this.stderrLine(partial, sub, opts);
        partial = '';
        if (!opts.quiet) {
          for (const l of stdout.split('\n').filter((x) => x.trim())) this.log.info(`[zoo ${sub} stdout] ${l}`);
          this.log.info(`[host] zoo ${sub} ended (${signal ? `signal ${signal}` : `exit code ${code}`})`);
        } else if (code !== 0) {
          this.log.warn(`[host] zoo ${sub} ended (${signal ? `signal ${signal}` : `exit code ${code}`})`);
        }
        resolve({ code, signal, stdout, stderr });
      });
    });
    return { child, done };
  }

  /** Runs one command to its end. */
  run(sub: string, args: string[], workspace: string, opts: CliOptions = {}): Promise<CliResult> {
    return this.start(sub, args, workspace, opts).done;
  }

  private stderrLine(l: string, sub: string, opts: CliOptions): void {
    if (!l.trim()) return;
    // A run's stderr is its account ("row 2 done"); the periodic list prints there only when it fails.
    this.log[opts.quiet ? 'warn' : 'info'](`[zoo ${sub} stderr] ${l}`);
    opts.onStderrLine?.(l);
  }
}
