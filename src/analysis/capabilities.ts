import { probeBackends } from './backend';
import type { BackendName, Capabilities } from '../shared/engineProtocol';
import { ENGINE_VERSION } from './version';

export async function capabilities(): Promise<Capabilities> {
  const backends = await probeBackends();
  const order: BackendName[] = ['tensorflow', 'webgpu', 'wasm'];
  const autoBackend = order.find((n) => backends.some((b) => b.name === n && b.available)) ?? 'cpu';
  return { engineVersion: ENGINE_VERSION, nodeVersion: process.version, platform: `${process.platform}-${process.arch}`, backends, autoBackend };
}
