/**
 * The engine child process seen from the extension host: fork, typed requests, progress,
 * cancellation, and a restart when it dies. The host does no maths; it only asks.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import * as vscode from 'vscode';
import { createMessageConnection, ErrorCodes, IPCMessageReader, IPCMessageWriter, ResponseError, type MessageConnection } from 'vscode-jsonrpc/node';
import type { RequestType, RequestType0 } from 'vscode-jsonrpc';
import { EngineErrorCode, logNotification, progressType, shutdownRequest, type ProgressParams } from '../../shared/engineProtocol';
import { PARALLEL_V8_FLAGS } from '../../shared/engineFlags';

export class EngineStoppedError extends Error {}

type ProgressListener = (p: ProgressParams) => void;

export class EngineClient implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private readonly crashes: number[] = [];
  private disposed = false;
  private readonly onDidCrashEmitter = new vscode.EventEmitter<string>();
  /** Fires with the reason when the engine dies without being asked to. */
  readonly onDidCrash = this.onDidCrashEmitter.event;

  constructor(
    private readonly enginePath: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly nodePath: () => string | undefined,
    /** The `featureComplexity.threads` setting (0: every core). */
    private readonly threads: () => number = () => 0,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Forks the engine if it is not running; fork is synchronous, so no start-up promise to keep. */
  private start(): MessageConnection {
    if (this.connection) return this.connection;
    const execPath = this.nodePath() || undefined;
    const child = fork(this.enginePath, ['--rpc'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execPath,
      // The extension host's own flags (inspector, ELECTRON_RUN_AS_NODE quirks) must not leak in;
      // training on several threads wants V8's helpers off the cores (shared/engineFlags.ts).
      execArgv: this.threads() !== 1 && availableParallelism() > 1 ? [...PARALLEL_V8_FLAGS] : [],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    // What the engine prints outside the protocol (a library's warning, a crash's stack), a log line per line.
    const lines = (level: 'info' | 'warn') => (d: Buffer) =>
      d
        .toString()
        .split('\n')
        .filter((l) => l.trim())
        .forEach((l) => this.log[level](`[engine ${level === 'info' ? 'stdout' : 'stderr'}] ${l}`));
    child.stdout?.on('data', lines('info'));
    child.stderr?.on('data', lines('warn'));
    child.on('error', (e) => {
      this.log.error(`[host] engine process error: ${e.message}`);
      // It never started (no node at that path, say): end the connection, which fails what was sent.
      if (child.pid === undefined) this.ended(child, `could not start: ${e.message}`);
    });
    child.once('exit', (code, signal) => this.handleExit(child, code, signal));
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(logNotification, (p) => this.log[p.level](`[engine] ${p.message}`));
    connection.listen();
    this.child = child;
    this.connection = connection;
    this.log.info(`[host] engine started (pid ${child.pid})`);
    return connection;
  }

  /**
   * Why each engine process ended, for the requests it leaves unanswered: disposing the connection
   * makes vscode-jsonrpc reject them (PendingResponseRejected), and `request` words that for the user.
   */
  private readonly endings = new WeakMap<ChildProcess, string>();

  private ended(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    this.endings.set(child, why);
    this.connection?.dispose();
    this.connection = undefined;
    this.child = undefined;
  }

  private handleExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const expected = this.disposed || (child as { fcExpectedExit?: boolean }).fcExpectedExit === true;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    this.ended(child, `stopped unexpectedly (${how})`);
    this.log.info(`[host] engine ${child.pid} ended (${how})`);
    if (expected) return;
    this.onDidCrashEmitter.fire(how);
    // Restart at once so the next command finds it ready, unless it keeps dying.
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length && now - this.crashes[0] > 60_000) this.crashes.shift();
    if (this.crashes.length <= 3) {
      try {
        this.start();
      } catch (e) {
        this.log.error(`[host] restart failed: ${String(e)}`);
      }
    } else {
      this.log.warn('[host] the engine died more than 3 times in a minute; it will start again on the next command');
    }
  }

  async request<R>(type: RequestType0<R, void>, token?: vscode.CancellationToken): Promise<R>;
  async request<P, R>(type: RequestType<P, R, void>, params: P, token?: vscode.CancellationToken): Promise<R>;
  async request(type: RequestType0<unknown, void> | RequestType<unknown, unknown, void>, a?: unknown, b?: vscode.CancellationToken): Promise<unknown> {
    const connection = this.start();
    const child = this.child;
    try {
      return await (type.numberOfParams === 0
        ? connection.sendRequest(type as RequestType0<unknown, void>, a as vscode.CancellationToken | undefined)
        : connection.sendRequest(type as RequestType<unknown, unknown, void>, a, b));
    } catch (e) {
      // A request in flight when the engine dies (or never starts) fails: vscode-jsonrpc rejects it when the connection is disposed.
      const why = child && this.endings.get(child);
      if (why !== undefined && e instanceof ResponseError && e.code === ErrorCodes.PendingResponseRejected) throw new EngineStoppedError(`the engine ${why}`);
      throw e;
    }
  }

  /** The engine's progress for `token` (jsonrpc's $/progress), until disposed; starts the engine if needed. */
  onProgress(token: string, listener: ProgressListener): vscode.Disposable {
    const sub = this.start().onProgress(progressType, token, listener);
    return new vscode.Disposable(() => sub.dispose());
  }

  /** Stops the engine on purpose (restart command, deactivate). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    (child as { fcExpectedExit?: boolean }).fcExpectedExit = true;
    try {
      await Promise.race([this.connection?.sendRequest(shutdownRequest), new Promise((r) => setTimeout(r, 1000))]);
    } catch {
      // It may already be gone.
    }
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }

  dispose(): void {
    this.disposed = true;
    void this.stop();
    this.onDidCrashEmitter.dispose();
  }
}

/** One sentence for the user from whatever a request threw. */
export function describeEngineError(e: unknown): string {
  if (e instanceof ResponseError) {
    if (e.code === EngineErrorCode.Cancelled) return 'cancelled';
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export function isCancellation(e: unknown): boolean {
  return e instanceof ResponseError && e.code === EngineErrorCode.Cancelled;
}
