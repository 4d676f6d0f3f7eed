/**
 * The convolution filter gradient on the webgpu backend as a tiled implicit GEMM.
 *
 * tfjs-backend-webgpu 4.22 computes Conv2DBackpropFilter with one thread per filter element, each
 * summing batch × outHeight × outWidth products serially (for a 3×3 128→128 conv of a batch of
 * 128 at 32×32: 147 456 threads of 131 072 multiply-adds each, every operand read from global
 * memory). Its forward conv is a tiled matrix product (Conv2DMMProgram, or im2col + MatMul), and
 * so is its input gradient once WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE is off (Conv2DDerInputMMProgram;
 * `registerWebgpuConvKernels` turns it off).
 *
 *   dW[r, co] = Σ_m A[m, r] · dy[m, co],  r = (kh, kw, ci),  m = (n, oh, ow),
 *   A[m, r] = x[n, oh·sh − padTop + kh, ow·sw − padLeft + kw, ci] (0 outside the image),
 *
 * never materialising A: each workgroup of 16×16 threads computes a 64×64 tile of dW, stepping
 * over m in slabs of 16 rows that it gathers from x and dy into workgroup memory (consecutive
 * threads read consecutive channels, so the loads coalesce), each thread accumulating a 4×4 block
 * in registers. The reduction over m (N·OH·OW, e.g. 131 072) is long and dW small (1 152 × 128),
 * so the m range is split over up to `splits` workgroups per tile (split-K), each writing a
 * partial dW, and a second dispatch sums the partials. Float sums in another order than the cpu
 * backend's: equal to float tolerance.
 *
 * Only NHWC (the only layout tfjs allows here with dilation 1) is taken; anything else goes to the
 * stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispatch, internals, pipeline, workgroups1d, type Uniform } from './util';

type TensorInfo = tf.TensorInfo;

const TILE = 64;
const SLAB = 16;
/** Aim for about this many workgroups per filter gradient (enough to fill a large GPU). */
const TARGET_WORKGROUPS = 1024;
/** Each split covers at least this many m rows. */
const MIN_ROWS_PER_SPLIT = 256;
/** Cap on the partial sums' buffer (bytes). */
const MAX_PARTIAL_BYTES = 64 << 20;

const PARAMS = 'N: i32, H: i32, W: i32, Ci: i32, OH: i32, OW: i32, Co: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, M: i32, R: i32, chunk: i32';

const FILTER_GRAD_SHADER = `
struct Params { ${PARAMS} };
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TILE = ${TILE};
const SLAB = ${SLAB};
var<workgroup> As: array<f32, ${SLAB * TILE}>;
var<workgroup> Bs: array<f32, ${SLAB * TILE}>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r0 = i32(wg.y) * TILE;
  let c0 = i32(wg.x) * TILE;
  let split = i32(wg.z);
  let mStart = split * p.chunk;
  let mEnd = min(mStart + p.chunk, p.M);
  let tr = i32(lid.y) * 4;
  let tc = i32(lid.x) * 4;
  var acc: array<vec4<f32>, 4>;
  for (var m0 = mStart; m0 < mEnd; m0 = m0 + SLAB) {
    for (var j = 0; j < ${(SLAB * TILE) / 256}; j = j + 1) {
      let idx = i32(li) + j * 256;
      let k = idx / TILE;
      let col = idx % TILE;
      let m = m0 + k;
      var a = 0.0;
      var b = 0.0;
      if (m < mEnd) {
        let r = r0 + col;
        if (r < p.R) {
          let ow = m % p.OW;
          let t = m / p.OW;
          let oh = t % p.OH;
          let n = t / p.OH;
          let ci = r % p.Ci;
          let t2 = r / p.Ci;
          let kw = t2 % p.KW;
          let kh = t2 / p.KW;
          let ih = oh * p.sh - p.pt + kh;
          let iw = ow * p.sw - p.pl + kw;
          if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
            a = x[((n * p.H + ih) * p.W + iw) * p.Ci + ci];
          }
        }
        let c = c0 + col;
        if (c < p.Co) {
          b = dy[m * p.Co + c];
        }
      }
      As[idx] = a;
      Bs[idx] = b;
    }
    workgroupBarrier();
    for (var k = 0; k < SLAB; k = k + 1) {
      let bv = vec4<f32>(Bs[k * TILE + tc], Bs[k * TILE + tc + 1], Bs[k * TILE + tc + 2], Bs[k * TILE + tc + 3]);
      acc[0] = acc[0] + As[k * TILE + tr] * bv;
      acc[1] = acc[1] + As[k * TILE + tr + 1] * bv;
      acc[2] = acc[2] + As[k * TILE + tr + 2] * bv;
      acc[3] = acc[3] + As[k * TILE + tr + 3] * bv;
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i = i + 1) {
    let r = r0 + tr + i;
    if (r < p.R) {
      let base = (split * p.R + r) * p.Co;
      for (var jj = 0; jj < 4; jj = jj + 1) {
        let c = c0 + tc + jj;
        if (c < p.Co) {
          partial[base + c] = acc[i][jj];
        }
      }
    }
  }
}`;

/** out[i] = Σ_k partial[k·size + i]: the second pass of a split reduction. */
export const SUM_SPLITS_SHADER = `
struct Params { size: i32, splits: i32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = i32((wg.x + wg.y * nwg.x) * 256u + li);
  if (i >= p.size) { return; }
  var s = 0.0;
  for (var k = 0; k < p.splits; k = k + 1) {
    s = s + partial[k * p.size + i];
  }
  out[i] = s;
}`;

/** How the m range is split: number of splits and rows per split (a multiple of SLAB). */
export function planSplits(m: number, r: number, co: number): { splits: number; chunk: number } {
  const tiles = Math.ceil(r / TILE) * Math.ceil(co / TILE);
  let splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(m / MIN_ROWS_PER_SPLIT), Math.floor(MAX_PARTIAL_BYTES / (4 * r * co))));
  const chunk = Math.ceil(Math.ceil(m / splits) / SLAB) * SLAB;
  splits = Math.ceil(m / chunk);
  return { splits, chunk };
}

interface FilterGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

let stockFilterGrad: tf.KernelFunc | undefined;

function conv2dBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: unknown; attrs: FilterGradAttrs }): TensorInfo {
  const { inputs, attrs } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32')
    return stockFilterGrad!(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const b = internals(args.backend);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [kh, kw, ci, co] = attrs.filterShape;
  const m = info.batchSize * info.outHeight * info.outWidth;
  const r = kh * kw * ci;
  const out = b.makeTensorInfo(attrs.filterShape, 'float32');
  if (r * co === 0) return out;
  const { splits, chunk } = m === 0 ? { splits: 1, chunk: SLAB } : planSplits(m, r, co);
  const params: Uniform[] = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    ci,
    info.outHeight,
    info.outWidth,
    co,
    kw,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    m,
    r,
    chunk,
  ].map((v) => ({ type: 'int32', data: [v] }));
  const gemm = pipeline(b.device, 'FeatureComplexityConv2DFilterGradGemm', () => FILTER_GRAD_SHADER);
  const grid: [number, number, number] = [Math.ceil(co / TILE), Math.ceil(r / TILE), splits];
  if (splits === 1) {
    dispatch(b, gemm, [out], [x, dy], params, grid);
    return out;
  }
  const partial = b.makeTensorInfo([splits, r, co], 'float32');
  dispatch(b, gemm, [partial], [x, dy], params, grid);
  const sum = pipeline(b.device, 'FeatureComplexitySumSplits', () => SUM_SPLITS_SHADER);
  const [gx, gy] = workgroups1d(b.device, Math.ceil((r * co) / 256));
  dispatch(
    b,
    sum,
    [out],
    [partial],
    [
      { type: 'int32', data: [r * co] },
      { type: 'int32', data: [splits] },
    ],
    [gx, gy],
  );
  // Freed once the queued commands that use it are submitted (the backend defers it).
  b.disposeData(partial.dataId);
  return out;
}

let registered = false;

/**
 * Replaces the webgpu backend's Conv2DBackpropFilter with the tiled one, and makes its
 * Conv2DBackpropInput take tfjs's own tiled matrix-product program (Conv2DDerInputMMProgram)
 * instead of the one-thread-per-element loop that the flag WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE
 * selects by default in 4.22. Idempotent.
 */
export function registerWebgpuConvKernels(): void {
  if (registered) return;
  tf.env().set('WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE', false);
  const stock = tf.getKernel('Conv2DBackpropFilter', 'webgpu');
  if (!stock) throw new Error('tfjs-backend-webgpu has no Conv2DBackpropFilter kernel to replace');
  stockFilterGrad = stock.kernelFunc;
  tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc });
  registered = true;
}
