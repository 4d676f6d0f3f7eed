/**
 * Picks and initialises the TensorFlow.js backend the engine computes on.
 * auto = tensorflow (tfjs-node-gpu, then tfjs-node) → webgpu (when a hardware adapter exists) → wasm.
 * A software WebGPU adapter (SwiftShader, llvmpipe, …) is slower than wasm: only an explicit
 * `webgpu` choice uses it. On webgpu, read tensors with `await t.data()`: `dataSync()` needs an
 * OffscreenCanvas, which Node lacks.
 * Missing or slow kernels of a backend are registered in `kernels/`, once, from here.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice, BackendName, BackendStatus } from '../../shared/engineProtocol';
import { AUTO_BACKENDS, BACKENDS } from '../../shared/vocabulary';
import { registerWasmKernels } from './kernels/wasm/register';

/** Where the wasm binaries are: beside the bundle in dist/, or in node_modules when run from source. */
function wasmDir(): string {
  if (existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) return __dirname + '/';
  // Run from source (tests, tsx): src/analysis/tf → the package in node_modules.
  return join(__dirname, '../../../node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/';
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

/**
 * Environment variable naming a Vulkan ICD file for Dawn (e.g. Chromium's SwiftShader driver,
 * `/usr/lib/chromium/vk_swiftshader_icd.json`, or the NVIDIA ICD on a machine whose loader does
 * not find it). Read once, before the first WebGPU instance is created.
 */
export const WEBGPU_ICD_ENV = 'FEATURE_COMPLEXITY_VULKAN_ICD';

/** The adapter Dawn found. */
export interface WebgpuAdapter {
  vendor: string;
  architecture: string;
  description: string;
  /** Set for a CPU implementation of WebGPU (SwiftShader, llvmpipe/lavapipe, WARP, fallback adapters): names it. */
  software?: string;
}

const SOFTWARE_NAMES: Array<[RegExp, string]> = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/softpipe/i, 'softpipe'],
  [/microsoft basic render|\bwarp\b/i, 'WARP'],
];

/** Names the software implementation behind an adapter, or undefined for a hardware GPU. */
export function softwareAdapterName(info: {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  type?: string;
  isFallbackAdapter?: boolean;
}): string | undefined {
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  for (const [re, name] of SOFTWARE_NAMES) if (re.test(text)) return name;
  if (info.isFallbackAdapter) return 'fallback adapter';
  if (info.type === 'cpu') return 'CPU adapter';
  return undefined;
}

let webgpuInit: Promise<WebgpuAdapter> | undefined;

/**
 * Creates the WebGPU instance (Dawn), finds the adapter, sets navigator.gpu and registers
 * tfjs-backend-webgpu and the project's WebGPU kernels. Once per process; every WebGPU set-up
 * of the engine goes through here.
 */
export function initWebgpu(): Promise<WebgpuAdapter> {
  webgpuInit ??= (async () => {
    const icd = process.env[WEBGPU_ICD_ENV];
    if (icd) {
      if (!existsSync(icd)) throw new Error(`${WEBGPU_ICD_ENV}=${icd}: no such file`);
      // Older and newer Vulkan loaders read one or the other.
      process.env.VK_ICD_FILENAMES = icd;
      process.env.VK_DRIVER_FILES = icd;
    }
    if (process.platform === 'linux' && !hasVulkanLoader()) throw new Error('no Vulkan loader (libvulkan.so.1), so no WebGPU adapter');
    // Without a driver Dawn finds no adapter anyway, after printing native warnings to stderr.
    if (process.platform === 'linux' && !hasVulkanDriver()) throw new Error('no Vulkan driver (ICD) installed, so no WebGPU adapter');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dawn = require('webgpu') as { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
    const g = globalThis as unknown as Record<string, unknown>;
    Object.assign(g, dawn.globals);
    type Info = { vendor?: string; architecture?: string; device?: string; description?: string; type?: string; isFallbackAdapter?: boolean };
    const gpu = dawn.create([]) as { requestAdapter: (o?: object) => Promise<{ info?: Info; isFallbackAdapter?: boolean } | null> };
    // The same preference tfjs-backend-webgpu asks for, so both see the same adapter.
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter on this machine');
    const info: Info = adapter.info ?? {};
    const software = softwareAdapterName({ ...pick(info), isFallbackAdapter: adapter.isFallbackAdapter ?? info.isFallbackAdapter });
    if (g.navigator === undefined) g.navigator = { gpu };
    else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is imported.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-webgpu');
    // FEATURE_COMPLEXITY_WEBGPU_KERNELS=stock keeps tfjs's own conv kernels (for comparisons).
    (await import('./kernels/webgpu/register.js')).registerWebgpuKernels(process.env.FEATURE_COMPLEXITY_WEBGPU_KERNELS === 'stock');
    return { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description || info.device || '', software };
  })();
  // A failed set-up is final for this process (Dawn's instance cannot be re-created with other drivers).
  return webgpuInit;
}

/** GPUAdapterInfo's fields are getters on the native object: copy the ones we read. */
function pick(info: { vendor?: string; architecture?: string; device?: string; description?: string; type?: string }) {
  return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, type: info.type };
}

/** The message when `auto` skips a software adapter (shown by `capabilities`). */
function softwareNotForAuto(a: WebgpuAdapter): string {
  return `software adapter (${a.software}), not used by auto; --backend webgpu runs on it`;
}

async function loadWebgpu(auto: boolean): Promise<string> {
  const a = await initWebgpu();
  if (a.software && auto) throw new Error(softwareNotForAuto(a));
  const on = a.description || a.architecture || a.vendor;
  return `webgpu (Dawn${on ? `, ${on}` : ''}) + @tensorflow/tfjs-backend-webgpu${a.software ? ` [software adapter (${a.software})]` : ''}`;
}

/** Dawn on Linux needs the Vulkan loader; without it, it only prints a native warning. */
function hasVulkanLoader(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':'),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/lib/x86_64-linux-gnu',
  ];
  return dirs.some((d) => d && existsSync(join(d, 'libvulkan.so.1')));
}

/** Whether the Vulkan loader can find a driver: an ICD named in the environment or a manifest where it looks. */
function hasVulkanDriver(): boolean {
  for (const v of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'VK_ADD_DRIVER_FILES']) {
    if ((process.env[v] ?? '').split(':').some((f) => f && existsSync(f))) return true;
  }
  const home = process.env.HOME ?? '';
  const config = (process.env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const data = (process.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const dirs = [...config, '/etc', process.env.XDG_DATA_HOME || (home && join(home, '.local/share')), ...data]
    .filter(Boolean)
    .map((d) => join(d, 'vulkan', 'icd.d'));
  return dirs.some((d) => {
    try {
      return readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

async function tryBackend(name: BackendName, auto = false): Promise<string> {
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'webgpu':
      return loadWebgpu(auto);
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      const description = registerWasmKernels();
      prepareWasm();
      return `@tensorflow/tfjs-backend-wasm (SIMD, ${description})`;
    }
    case 'cpu':
      // Naming the package's version keeps the bundler from dropping its registration as unused.
      return `@tensorflow/tfjs-backend-cpu ${version_cpu} (pure JS)`;
  }
}

/** Probes every backend without switching the active one for good. */
export async function probeBackends(): Promise<BackendStatus[]> {
  const out: BackendStatus[] = [];
  for (const name of BACKENDS) {
    try {
      // Probed as `auto` would: a software WebGPU adapter is reported, not initialised.
      const detail = await tryBackend(name, true);
      const ok = await tf.setBackend(name);
      out.push({ name, available: ok, detail: ok ? detail : `${detail}: failed to initialise` });
    } catch (e) {
      out.push({ name, available: false, detail: firstLine(e) });
    }
  }
  return out;
}

let activeDetail: string | undefined;

/** What the backend in use is, in words: the package, and for webgpu the adapter (GPU) the numbers come from. */
export function backendDetail(): string | undefined {
  return activeDetail;
}

/** Makes `choice` the active backend and returns the one in use. Throws with a clear reason. */
export async function useBackend(choice: BackendChoice): Promise<BackendName> {
  const candidates = choice === 'auto' ? AUTO_BACKENDS : [choice];
  const reasons: string[] = [];
  for (const name of candidates) {
    try {
      const detail = await tryBackend(name, choice === 'auto');
      if (await tf.setBackend(name)) {
        await tf.ready();
        activeDetail = detail;
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
