/**
 * Running hand-written WGSL on tfjs-backend-webgpu's device, inside its command stream.
 *
 * tfjs's own program interface (runWebGPUProgram) writes one output per dispatch and binds its
 * inputs read-only; a fused update that writes several tensors (a variable and both Adam moments)
 * needs several outputs. `dispatch` records a compute dispatch with our own pipeline into the
 * backend's current compute pass, the way the backend records its programs: same encoder, same
 * ordering, same batched submit (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE), the tensors marked as used by
 * the queued commands so that disposing them waits for the submit, and outputs from the backend's
 * buffer pool.
 *
 * The backend's fields used here (device, queue, commandEncoder, …) are public members of
 * WebGPUBackend in 4.22 but not part of a documented API; `internals` checks they exist.
 */
import * as tf from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;

/* Minimal structural types of the WebGPU objects used (the project does not load @webgpu/types). */
export interface GpuBuffer {
  size: number;
}
interface GpuPipeline {
  getBindGroupLayout(i: number): unknown;
}
interface GpuPass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GpuDevice {
  createShaderModule(d: { code: string; label?: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): GpuPipeline;
  createBindGroup(d: { layout: unknown; entries: Array<{ binding: number; resource: unknown }> }): unknown;
  limits: { maxComputeWorkgroupsPerDimension: number; maxStorageBuffersPerShaderStage: number };
}

export interface Uniform {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

/** The members of tfjs-backend-webgpu's WebGPUBackend this file relies on. */
export interface WebgpuBackendInternals {
  device: GpuDevice;
  queue: { submit(buffers: unknown[]): void };
  commandEncoder: { beginComputePass(d: object): GpuPass } | null;
  computePassEncoder: GpuPass | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers?: unknown[] | null;
  tensorMap: { get(dataId: object): { resource: unknown; refCount: number } };
  makeTensorInfo(shape: number[], dtype: tf.DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorToBinding(t: TensorInfo): unknown;
  makeUniforms(u: Uniform[]): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  disposeData(dataId: object): boolean;
}

/** The active backend as WebGPUBackend internals; throws if it is not tfjs-backend-webgpu 4.x. */
export function internals(backend: unknown): WebgpuBackendInternals {
  const b = backend as Partial<WebgpuBackendInternals>;
  for (const k of [
    'device',
    'queue',
    'tensorMap',
    'makeTensorInfo',
    'uploadToGPU',
    'tensorToBinding',
    'makeUniforms',
    'ensureCommandEncoderReady',
    'endComputePassEncoder',
    'submitQueue',
  ] as const) {
    if (b[k] === undefined) throw new Error(`tfjs-backend-webgpu has no '${k}': this version is not supported by the project's WebGPU kernels`);
  }
  return b as WebgpuBackendInternals;
}

const pipelines = new WeakMap<GpuDevice, Map<string, GpuPipeline>>();

/** Compiles `code` once per device (entry point `main`, bind group 0, layout from the shader). */
export function pipeline(device: GpuDevice, key: string, code: () => string): GpuPipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  let p = cache.get(key);
  if (!p) {
    const module = device.createShaderModule({ code: code(), label: key });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    cache.set(key, p);
  }
  return p;
}

/**
 * Workgroup counts for `groups` workgroups along one logical axis, split over x and y when
 * they exceed the per-dimension limit. The shader recovers the index as
 * `wg.x + wg.y * num_workgroups.x`.
 */
export function workgroups1d(device: GpuDevice, groups: number): [number, number] {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(groups, 1), 1];
  const x = Math.ceil(Math.sqrt(groups));
  return [x, Math.ceil(groups / x)];
}

/**
 * Records one dispatch of `pipe` with bindings [...outputs, ...inputs, uniforms] (that order,
 * from binding 0). Outputs must have been created by `b.makeTensorInfo`; all tensors are put on
 * the GPU first.
 */
export function dispatch(
  b: WebgpuBackendInternals,
  pipe: GpuPipeline,
  outputs: TensorInfo[],
  inputs: TensorInfo[],
  uniforms: Uniform[],
  groups: [number, number, number?],
): void {
  for (const t of [...outputs, ...inputs]) b.uploadToGPU(t.dataId);
  const resources = [...outputs.map((t) => b.tensorToBinding(t)), ...inputs.map((t) => b.tensorToBinding(t))];
  if (uniforms.length > 0) resources.push(b.makeUniforms(uniforms));
  for (const t of [...outputs, ...inputs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: resources.map((resource, binding) => ({ binding, resource })) });
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  b.computePassEncoder.setPipeline(pipe);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(groups[0], groups[1], groups[2] ?? 1);
  b.dispatchCountInPass++;
  if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
}

/** Counts of the GPU work recorded since `reset`: compute dispatches and queue submits. */
export interface GpuWorkCount {
  dispatches: number;
  submits: number;
}

const counter: GpuWorkCount & { installed: boolean } = { dispatches: 0, submits: 0, installed: false };

/**
 * Counts every compute dispatch and queue submit on the WebGPU backend from now on (tfjs's
 * programs and ours alike), by wrapping the compute pass encoder's `dispatchWorkgroups` and the
 * queue's `submit`. Returns a reader that also resets the counts.
 */
export function countGpuWork(backend: unknown): () => GpuWorkCount {
  const b = internals(backend);
  if (!counter.installed) {
    const g = globalThis as unknown as { GPUComputePassEncoder?: { prototype: GpuPass } };
    const proto = g.GPUComputePassEncoder?.prototype;
    if (!proto) throw new Error('GPUComputePassEncoder is not defined: is the WebGPU backend set up?');
    const dispatchWorkgroups = proto.dispatchWorkgroups;
    proto.dispatchWorkgroups = function (this: GpuPass, x: number, y?: number, z?: number) {
      counter.dispatches++;
      return dispatchWorkgroups.call(this, x, y, z);
    };
    const queue = b.queue;
    const submit = queue.submit.bind(queue);
    queue.submit = (buffers: unknown[]) => {
      counter.submits++;
      submit(buffers);
    };
    counter.installed = true;
  }
  return () => {
    const out = { dispatches: counter.dispatches, submits: counter.submits };
    counter.dispatches = 0;
    counter.submits = 0;
    return out;
  };
}
