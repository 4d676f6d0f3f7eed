/**
 * Picks and initialises the TensorFlow.js backend the engine computes on.
 * auto = tensorflow (tfjs-node-gpu, then tfjs-node) → webgpu (when an adapter exists) → wasm.
 * Missing or slow kernels of a backend are registered in `kernels/`, once, from here.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice, BackendName, BackendStatus } from './protocol';

/** Where the wasm binaries are: beside the bundle in dist/, or in node_modules when run from source. */
function wasmDir(): string {
  if (existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) return __dirname + '/';
  // Run from source (tests, tsx): src/analysis → the package in node_modules.
  return join(__dirname, '../../node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/';
}

let wasmPathsSet = false;
function prepareWasm(): void {
  if (wasmPathsSet) return;
  setWasmPaths(wasmDir());
  wasmPathsSet = true;
}

/** Loads tfjs-node-gpu or tfjs-node if the user has one installed; they register 'tensorflow'. */
function loadTensorflow(): string {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
      return pkg;
    } catch (e) {
      errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  throw new Error(errors.join('; '));
}

let webgpuRegistered = false;
/** Sets navigator.gpu from the `webgpu` package (Dawn) and registers tfjs-backend-webgpu. */
async function loadWebgpu(): Promise<string> {
  if (!webgpuRegistered) {
    if (process.platform === 'linux' && !hasVulkanLoader()) throw new Error('no Vulkan loader (libvulkan.so.1), so no WebGPU adapter');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dawn = require('webgpu') as { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
    const g = globalThis as unknown as Record<string, unknown>;
    Object.assign(g, dawn.globals);
    const gpu = dawn.create([]) as { requestAdapter: () => Promise<unknown> };
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter on this machine');
    if (g.navigator === undefined) g.navigator = { gpu };
    else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is imported.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-webgpu');
    webgpuRegistered = true;
  }
  return 'webgpu (Dawn) + @tensorflow/tfjs-backend-webgpu';
}

/** Dawn on Linux needs the Vulkan loader; without it, it only prints a native warning. */
function hasVulkanLoader(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib/x86_64-linux-gnu'];
  return dirs.some((d) => d && existsSync(join(d, 'libvulkan.so.1')));
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

async function tryBackend(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'webgpu':
      return loadWebgpu();
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      (await import('./kernels/wasm-conv.js')).registerWasmConvKernels();
      prepareWasm();
      return '@tensorflow/tfjs-backend-wasm (SIMD)';
    case 'cpu':
      // Naming the package's version keeps the bundler from dropping its registration as unused.
      return `@tensorflow/tfjs-backend-cpu ${version_cpu} (pure JS)`;
  }
}

const AUTO_ORDER: BackendName[] = ['tensorflow', 'webgpu', 'wasm'];

/** Probes every backend without switching the active one for good. */
export async function probeBackends(): Promise<BackendStatus[]> {
  const out: BackendStatus[] = [];
  for (const name of [...AUTO_ORDER, 'cpu'] as BackendName[]) {
    try {
      const detail = await tryBackend(name);
      const ok = await tf.setBackend(name);
      out.push({ name, available: ok, detail: ok ? detail : `${detail}: failed to initialise` });
    } catch (e) {
      out.push({ name, available: false, detail: firstLine(e) });
    }
  }
  return out;
}

/** Makes `choice` the active backend and returns the one in use. Throws with a clear reason. */
export async function useBackend(choice: BackendChoice): Promise<BackendName> {
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  const reasons: string[] = [];
  for (const name of candidates) {
    try {
      await tryBackend(name);
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      reasons.push(`${name}: failed to initialise`);
    } catch (e) {
      reasons.push(`${name}: ${firstLine(e)}`);
    }
  }
  throw new Error(`no usable backend (${reasons.join('; ')})`);
}

export { tf };
