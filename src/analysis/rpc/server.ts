/**
 * The engine as a child process: answers the host's requests over the IPC channel.
 * Nothing here knows about VS Code; the host is just the other end of a jsonrpc connection.
 */
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { logNotification, shutdownRequest } from '../../shared/engineProtocol';
import { registerHandlers } from './handlers';

export function serve(): void {
  const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  const log = (level: 'info' | 'warn' | 'error', message: string) => connection.sendNotification(logNotification, { level, message });
  // Everything the engine prints goes to the host's Output channel, never to a closed stdout.
  console.log = (...a: unknown[]) => log('info', a.map(String).join(' '));
  console.info = console.log;
  console.warn = (...a: unknown[]) => log('warn', a.map(String).join(' '));
  console.error = (...a: unknown[]) => log('error', a.map(String).join(' '));

  registerHandlers(connection);
  connection.onRequest(shutdownRequest, () => {
    setImmediate(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  connection.listen();
  log('info', `engine ${process.pid} ready (node ${process.version})`);
}
