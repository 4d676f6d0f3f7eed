/**
 * Sum over every axis but the last on the webgpu backend: the bias gradients of a conv net
 * (dy of shape N×H×W×C summed to C).
 *
 * tfjs-backend-webgpu 4.22 reduces only over innermost axes, so it first transposes dy to
 * C×(N·H·W), a full copy of the activation gradient (64 MB for B128 32×32×128), then reduces.
 * Here the columns are summed in place: thread (s, c) adds rows s·chunk … (s+1)·chunk − 1 of
 * column c (consecutive threads read consecutive columns, so the loads coalesce), and a second
 * pass adds the chunks' partial sums. A short column (≤ 1 024 rows) takes one pass. Same dispatch
 * count as the stock path, without the transpose's traffic. Other sums go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispatch, internals, pipeline, workgroups1d } from './util';
import { SUM_SPLITS_SHADER } from './conv';

type TensorInfo = tf.TensorInfo;

const COLUMN_SUM_SHADER = `
struct Params { rows: i32, cols: i32, chunk: i32, chunks: i32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = i32((wg.x + wg.y * nwg.x) * 256u + li);
  if (i >= p.chunks * p.cols) { return; }
  let c = i % p.cols;
  let s = i / p.cols;
  let r0 = s * p.chunk;
  let r1 = min(r0 + p.chunk, p.rows);
  var acc = 0.0;
  for (var r = r0; r < r1; r = r + 1) {
    acc = acc + x[r * p.cols + c];
  }
  out[i] = acc;
}`;

/** Rows per chunk of the first pass (one pass when the column is short). */
export function planColumnSum(rows: number): { chunk: number; chunks: number } {
  if (rows <= 1024) return { chunk: Math.max(rows, 1), chunks: 1 };
  const chunk = Math.ceil(Math.sqrt(rows));
  return { chunk, chunks: Math.ceil(rows / chunk) };
}

let stockSum: tf.KernelFunc | undefined;

function sum(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: { axis: number | number[]; keepDims: boolean } }): TensorInfo {
  const { x } = args.inputs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(args.attrs.axis, x.shape);
  const allButLast = rank >= 2 && axes.length === rank - 1 && axes.every((a) => a < rank - 1) && new Set(axes).size === rank - 1;
  if (!allButLast || x.dtype !== 'float32') return stockSum!(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const b = internals(args.backend);
  const cols = x.shape[rank - 1];
  const rows = tf.util.sizeFromShape(x.shape) / Math.max(cols, 1);
  const outShape = args.attrs.keepDims ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols];
  const out = b.makeTensorInfo(outShape, 'float32');
  if (cols === 0) return out;
  const { chunk, chunks } = planColumnSum(rows);
  const colSum = pipeline(b.device, 'FeatureComplexityColumnSum', () => COLUMN_SUM_SHADER);
  const params = [rows, cols, chunk, chunks].map((v) => ({ type: 'int32' as const, data: [v] }));
  const [gx, gy] = workgroups1d(b.device, Math.ceil((chunks * cols) / 256));
  if (chunks === 1) {
    dispatch(b, colSum, [out], [x], params, [gx, gy]);
    return out;
  }
  const partial = b.makeTensorInfo([chunks, cols], 'float32');
  dispatch(b, colSum, [partial], [x], params, [gx, gy]);
  const total = pipeline(b.device, 'FeatureComplexitySumSplits', () => SUM_SPLITS_SHADER);
  const [hx, hy] = workgroups1d(b.device, Math.ceil(cols / 256));
  dispatch(
    b,
    total,
    [out],
    [partial],
    [
      { type: 'int32', data: [cols] },
      { type: 'int32', data: [chunks] },
    ],
    [hx, hy],
  );
  b.disposeData(partial.dataId);
  return out;
}

let registered = false;

/** Replaces the webgpu backend's Sum for sums over all axes but the last. Idempotent. */
export function registerWebgpuSumKernel(): void {
  if (registered) return;
  const stock = tf.getKernel('Sum', 'webgpu');
  if (!stock) throw new Error('tfjs-backend-webgpu has no Sum kernel to replace');
  stockSum = stock.kernelFunc;
  tf.unregisterKernel('Sum', 'webgpu');
  tf.registerKernel({ kernelName: 'Sum', backendName: 'webgpu', kernelFunc: sum as unknown as tf.KernelFunc });
  registered = true;
}
