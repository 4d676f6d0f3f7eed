import { availableParallelism } from 'node:os';
import { probeBackends } from './backend';
import type { Capabilities } from '../../shared/engineProtocol';
import { ENGINE_VERSION } from '../util/version';
import { AUTO_BACKENDS } from '../../shared/vocabulary';

export async function capabilities(): Promise<Capabilities> {
  const backends = await probeBackends();
  const autoBackend = AUTO_BACKENDS.find((n) => backends.some((b) => b.name === n && b.available)) ?? 'cpu';
  return {
    engineVersion: ENGINE_VERSION,
    nodeVersion: process.version,
    platform: `${process.platform}-${process.arch}`,
    backends,
    autoBackend,
    threads: availableParallelism(),
  };
}
