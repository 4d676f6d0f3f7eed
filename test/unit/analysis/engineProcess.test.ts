/**
 * The engine as the extension host sees it: a forked child answering typed requests over IPC.
 * Runs the engine from source through tsx, so no build is needed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { RequestType0 } from 'vscode-jsonrpc';
import { capabilitiesRequest, logNotification, shutdownRequest } from '../../../src/shared/engineProtocol';

let child: ChildProcess;
let connection: MessageConnection;
const logs: string[] = [];

function startEngine(): { child: ChildProcess; connection: MessageConnection } {
  const c = fork(join(__dirname, '..', '../../src/analysis/main.ts'), ['--rpc'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const conn = createMessageConnection(new IPCMessageReader(c), new IPCMessageWriter(c));
  conn.onNotification(logNotification, (p) => logs.push(p.message));
  conn.listen();
  return { child: c, connection: conn };
}

before(() => {
  ({ child, connection } = startEngine());
});

after(() => {
  connection.dispose();
  if (child.exitCode === null) child.kill('SIGKILL');
});

test('capabilities names the engine version and finds the wasm backend', async () => {
  const caps = await connection.sendRequest(capabilitiesRequest);
  assert.match(caps.engineVersion, /^\d+\.\d+\.\d+/);
  const wasm = caps.backends.find((b) => b.name === 'wasm');
  assert.ok(wasm?.available, `wasm should load here: ${wasm?.detail}`);
  // Every backend is reported, loaded or not, with a reason.
  assert.deepEqual(caps.backends.map((b) => b.name).sort(), ['cpu', 'tensorflow', 'wasm', 'webgpu']);
  for (const b of caps.backends) assert.ok(b.detail.length > 0);
  assert.ok(['tensorflow', 'webgpu', 'wasm'].includes(caps.autoBackend));
});

test('an unknown request gets a jsonrpc error, and the engine stays up', async () => {
  await assert.rejects(connection.sendRequest(new RequestType0<void, void>('engine/noSuchThing')), /Unhandled method/);
  const caps = await connection.sendRequest(capabilitiesRequest);
  assert.ok(caps.backends.length > 0);
});

test('console output of the engine reaches the host as log notifications, not stdout', async () => {
  await connection.sendRequest(capabilitiesRequest);
  assert.ok(
    logs.some((l) => /ready/.test(l)),
    `logs: ${logs.join(' | ')}`,
  );
});

test('shutdown ends the process cleanly', async () => {
  const e = startEngine();
  const exited = once(e.child, 'exit');
  await e.connection.sendRequest(shutdownRequest);
  const [code] = await exited;
  assert.equal(code, 0);
  e.connection.dispose();
});
