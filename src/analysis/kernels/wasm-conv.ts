/**
 * Convolution gradients for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (so a conv net cannot train on it) and its
 * Conv2DBackpropInput is a naive loop ~10× slower than the forward conv. Both are rebuilt here
 * from what the backend does fast: its XNNPACK matrix product (BatchMatMul) and forward conv
 * (Conv2D). The data movement around them (im2col, col2im, small filter transposes) is done in JS
 * directly on the wasm heap: the backend's own Transpose runs at ~10 ns per element, slower than
 * a JS loop over a Float32Array view.
 *
 *   filter gradient: dW[(i,j,ci), co] = Σ_m patchesᵀ[(i,j,ci), m] · dy[m, co], with m = (n, oh, ow);
 *     patchesᵀ is written already transposed, so the product is a plain A·B with the small dy as
 *     XNNPACK's packed right operand.
 *   input gradient, stride 1: a forward conv of dy with the spatially flipped, in/out-transposed
 *     filter and the complementary padding.
 *   input gradient, stride > 1: cols = dy · Wᵀ (one matrix product), then col2im scatter-adds the
 *     columns into dx; unlike a conv over a zero-dilated dy this does no work on zeros.
 *
 * Only NHWC and dilation 1 (all tfjs allows for these two gradients) are handled.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

function runKernel(name: string, backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend }) as TensorInfo;
}

function free(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function heap(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function convInfo(xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, dataFormat: 'NHWC' | 'NCHW', dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.backend_util.Conv2DInfo {
  if (dataFormat !== 'NHWC') throw new Error(`wasm conv gradients support NHWC only, got ${dataFormat}`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as 'same',
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * Rows [m0, m0 + mc) of the im2col matrix, written transposed: out[(i·kw + j)·Cin + ci, m − m0] for
 * m = (n·Ho + oh)·Wo + ow, zero where the tap falls in the padding. Writing a cache-sized chunk at a
 * time keeps the scattered (stride mc) writes inside the cache; the whole matrix would not fit.
 */
function im2colTransposedChunk(x: Float32Array, out: Float32Array, c: tf.backend_util.Conv2DInfo, m0: number, mc: number): void {
  const { inHeight: h, inWidth: w, inChannels: cin, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  for (let mm = 0; mm < mc; mm++) {
    const m = m0 + mm;
    const ow = m % wo;
    const t = (m - ow) / wo;
    const oh = t % ho;
    const n = (t - oh) / ho;
    for (let i = 0; i < kh; i++) {
      const ih = oh * sh + i - pt;
      const rowInside = ih >= 0 && ih < h;
      for (let j = 0; j < kw; j++) {
        const iw = ow * sw + j - pl;
        let o = (i * kw + j) * cin * mc + mm;
        if (rowInside && iw >= 0 && iw < w) {
          const xi = ((n * h + ih) * w + iw) * cin;
          for (let ci = 0; ci < cin; ci++, o += mc) out[o] = x[xi + ci];
        } else {
          for (let ci = 0; ci < cin; ci++, o += mc) out[o] = 0;
        }
      }
    }
  }
}

/** dx[n, ih, iw, ci] += cols[m − m0, (i·kw + j)·Cin + ci] over the (m, i, j) of rows [m0, m0 + mc) that reach it. */
function col2imChunk(cols: Float32Array, dx: Float32Array, c: tf.backend_util.Conv2DInfo, m0: number, mc: number): void {
  const { inHeight: h, inWidth: w, inChannels: cin, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const k = kh * kw * cin;
  for (let mm = 0; mm < mc; mm++) {
    const m = m0 + mm;
    const ow = m % wo;
    const t = (m - ow) / wo;
    const oh = t % ho;
    const n = (t - oh) / ho;
    const colBase = mm * k;
    for (let i = 0; i < kh; i++) {
      const ih = oh * sh + i - pt;
      if (ih < 0 || ih >= h) continue;
      for (let j = 0; j < kw; j++) {
        const iw = ow * sw + j - pl;
        if (iw < 0 || iw >= w) continue;
        const d = ((n * h + ih) * w + iw) * cin;
        const s = colBase + (i * kw + j) * cin;
        for (let ci = 0; ci < cin; ci++) dx[d + ci] += cols[s + ci];
      }
    }
  }
}

const CHUNK_FLOATS = Number(process.env.FC_WASM_CHUNK_FLOATS ?? 1 << 19);

/** Rows per chunk: a [k, rows] float32 block of ~2 MB, so that the scattered writes stay in cache. */
function chunkRows(k: number, m: number): number {
  return Math.max(64, Math.min(m, Math.floor(CHUNK_FLOATS / k)));
}

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: BackendWasm; attrs: BackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const c = convInfo(x.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dataFormat, attrs.dimRoundingMode);
  const k = c.filterHeight * c.filterWidth * c.inChannels;
  const cout = c.outChannels;
  const m = c.batchSize * c.outHeight * c.outWidth;
  const mc = chunkRows(k, m);
  const acc = new Float32Array(k * cout);
  for (let m0 = 0; m0 < m; m0 += mc) {
    const rows = Math.min(mc, m - m0);
    const patchesT = backend.makeOutput([1, k, rows], 'float32');
    // A fresh tensor per chunk: the matmul caches XNNPACK's packed right operand by tensor id.
    const dyChunk = backend.makeOutput([1, rows, cout], 'float32');
    // Views are taken after the allocations: growing the wasm memory detaches older views.
    heap(backend, dyChunk).set(heap(backend, dy).subarray(m0 * cout, (m0 + rows) * cout));
    im2colTransposedChunk(heap(backend, x), heap(backend, patchesT), c, m0, rows);
    const prod = runKernel('BatchMatMul', backend, { a: patchesT, b: dyChunk }, { transposeA: false, transposeB: false });
    const p = heap(backend, prod);
    for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    free(backend, patchesT, dyChunk, prod);
  }
  const out = backend.makeOutput(attrs.filterShape, 'float32');
  heap(backend, out).set(acc);
  return out;
}

interface BackpropInputAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

function conv2DBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: BackendWasm; attrs: BackpropInputAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const c = convInfo(attrs.inputShape, filter.shape, attrs.strides, attrs.pad, attrs.dataFormat, attrs.dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, inChannels: cin, outChannels: cout } = c;
  if (c.strideHeight === 1 && c.strideWidth === 1) {
    // wT[i, j, co, ci] = w[kh-1-i, kw-1-j, ci, co]
    const wT = backend.makeOutput([kh, kw, cout, cin], 'float32');
    const w = heap(backend, filter);
    const t = heap(backend, wT);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const src = ((kh - 1 - i) * kw + (kw - 1 - j)) * cin * cout;
        const dst = (i * kw + j) * cout * cin;
        for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) t[dst + co * cin + ci] = w[src + ci * cout + co];
      }
    }
    const padTop = kh - 1 - c.padInfo.top;
    const padLeft = kw - 1 - c.padInfo.left;
    const padBottom = c.inHeight - c.outHeight + c.padInfo.top;
    const padRight = c.inWidth - c.outWidth + c.padInfo.left;
    const out = runKernel('Conv2D', backend, { x: dy, filter: wT }, {
      strides: [1, 1],
      pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [1, 1],
    });
    free(backend, wT);
    return out;
  }
  const k = kh * kw * cin;
  const m = c.batchSize * c.outHeight * c.outWidth;
  // wT[co, (i, j, ci)] = w[(i, j, ci), co]
  const wT = backend.makeOutput([1, cout, k], 'float32');
  {
    const w = heap(backend, filter);
    const t = heap(backend, wT);
    for (let r = 0; r < k; r++) for (let co = 0; co < cout; co++) t[co * k + r] = w[r * cout + co];
  }
  const dx = backend.makeOutput(attrs.inputShape, 'float32');
  heap(backend, dx).fill(0);
  const mc = chunkRows(k, m);
  for (let m0 = 0; m0 < m; m0 += mc) {
    const rows = Math.min(mc, m - m0);
    const dyChunk = backend.makeOutput([1, rows, cout], 'float32');
    heap(backend, dyChunk).set(heap(backend, dy).subarray(m0 * cout, (m0 + rows) * cout));
    const cols = runKernel('BatchMatMul', backend, { a: dyChunk, b: wT }, { transposeA: false, transposeB: false });
    col2imChunk(heap(backend, cols), heap(backend, dx), c, m0, rows);
    free(backend, dyChunk, cols);
  }
  free(backend, wT);
  return dx;
}

let registered = false;

/** Registers the two kernels for 'wasm', replacing the stock Conv2DBackpropInput. Idempotent. */
export function registerWasmConvKernels(): void {
  if (registered) return;
  for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput]) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc });
  registered = true;
}
