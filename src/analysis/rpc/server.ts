/**
 * The engine as a child process: answers the host's requests over the IPC channel.
 * Nothing here knows about VS Code; the host is just the other end of a jsonrpc connection.
 */
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import { capabilities } from '../tf/capabilities';
import { BadInputError, CancelledError } from '../util/errors';
import { capabilitiesRequest, EngineErrorCode, logNotification, shutdownRequest } from '../../shared/engineProtocol';
import type { MessageConnection } from 'vscode-jsonrpc';

/** Handlers that other engine modules add (analysis, layers, ...), each wired in one place. */
export type Registrar = (connection: MessageConnection) => void;
const registrars: Registrar[] = [];
export function registerHandlers(r: Registrar): void {
  registrars.push(r);
}

/** Maps engine errors to jsonrpc errors the host can word for the user. */
export function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof CancelledError) return new ResponseError(EngineErrorCode.Cancelled, e.message);
  if (e instanceof BadInputError) return new ResponseError(EngineErrorCode.BadInput, e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new ResponseError(EngineErrorCode.Internal, msg);
}

export function serve(): void {
  const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  const log = (level: 'info' | 'warn' | 'error', message: string) => connection.sendNotification(logNotification, { level, message });
  // Everything the engine prints goes to the host's Output channel, never to a closed stdout.
  console.log = (...a: unknown[]) => log('info', a.map(String).join(' '));
  console.info = console.log;
  console.warn = (...a: unknown[]) => log('warn', a.map(String).join(' '));
  console.error = (...a: unknown[]) => log('error', a.map(String).join(' '));

  connection.onRequest(capabilitiesRequest, async () => {
    try {
      return await capabilities();
    } catch (e) {
      throw toResponseError(e);
    }
  });
  connection.onRequest(shutdownRequest, () => {
    setImmediate(() => process.exit(0));
  });
  for (const r of registrars) r(connection);
  process.on('disconnect', () => process.exit(0));
  connection.listen();
  log('info', `engine ${process.pid} ready (node ${process.version})`);
}
