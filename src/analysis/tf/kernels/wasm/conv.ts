/**
 * Convolution gradients (and two small helpers) for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (so a conv net cannot train on it) and its
 * Conv2DBackpropInput is a naive loop ~10× slower than the forward conv. Both are rebuilt here
 * from what the backend does fast: its XNNPACK matrix product (BatchMatMul) and forward conv
 * (Conv2D). The data movement around them (im2col, phase interleave, filter flips) is done in JS
 * directly on the wasm heap: the backend's own Transpose runs at ~10 ns per element, several
 * times slower than a JS loop or a native copyWithin on a Float32Array view of the heap.
 *
 *   filter gradient: dW[(i,j,ci), co] = Σ_m patchesᵀ[(i,j,ci), m] · dy[m, co], m = (n, oh, ow).
 *     x is copied once to channels-first, so that patchesᵀ is built from contiguous runs; it is
 *     built and multiplied in chunks of output rows (~2 MB), so the chunk stays in cache, and the
 *     product is a plain A·B with the small dy slice as XNNPACK's packed right operand.
 *   input gradient, stride 1: a forward conv of dy with the spatially flipped, in/out-transposed
 *     filter and the complementary padding.
 *   input gradient, stride s > 1: s² stride-1 convs of dy, one per phase of dx, with the sub-filters
 *     of the taps that reach that phase, interleaved into dx; unlike a conv over a zero-dilated dy
 *     (or the stock kernel) this does exactly the direct multiply count, all inside XNNPACK.
 *   Sum over all axes but the last (bias gradients) without the stock kernel's transpose, and an
 *   Identity (and Cast to the same dtype) without a copy (the engine clones every tensor it saves
 *   for backprop).
 *
 * Stride-1 3×3 'same' convs (most of a disentangler) go to winograd.ts instead: the filter
 * gradient always, the forward conv (and so the stride-1 input gradient, which is one) where wide
 * enough. Only NHWC and dilation 1 (all tfjs allows for these two gradients) are handled.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { winogradBackpropFilter, winogradConv2D, winogradFits, winogradPaysForward, winogradReady } from './winograd';

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

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dataFormat: 'NHWC' | 'NCHW',
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.backend_util.Conv2DInfo {
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

/** out[ci·pixels + p] = x[p·cin + ci], in blocks of pixels so that each block of x stays in L1. */
function toChannelsFirst(x: Float32Array, out: Float32Array, pixels: number, cin: number): void {
  const block = 64;
  for (let p0 = 0; p0 < pixels; p0 += block) {
    const pn = Math.min(block, pixels - p0);
    for (let ci = 0; ci < cin; ci++) {
      const o = ci * pixels + p0;
      let src = p0 * cin + ci;
      for (let t = 0; t < pn; t++, src += cin) out[o + t] = x[src];
    }
  }
}

/**
 * Output rows [q0, q0 + nq) (a row = one (n, oh)) of the im2col matrix, written transposed:
 * out[(i·kw + j)·Cin + ci, (q − q0)·Wo + ow] = x[n, oh·sh + i − pt, ow·sw + j − pl, ci], zero in
 * the padding. Read from x in channels-first layout, every piece is a run along ow, so both the
 * reads and the writes are sequential; with stride 1 a run is one native copyWithin. `mem` is the
 * whole wasm heap and `xcf`, `out` are float offsets into it.
 */
function im2colTransposedRows(mem: Float32Array, xcf: number, out: number, c: tf.backend_util.Conv2DInfo, q0: number, nq: number): void {
  const {
    batchSize: nb,
    inHeight: h,
    inWidth: w,
    inChannels: cin,
    outHeight: ho,
    outWidth: wo,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const pixels = nb * h * w;
  const mc = nq * wo;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // Columns whose tap (i, j) lands inside the image: [owLo, owHi).
      const owLo = Math.min(wo, Math.max(0, Math.ceil((pl - j) / sw)));
      const owHi = Math.max(owLo, Math.min(wo, Math.floor((w - 1 + pl - j) / sw) + 1));
      const r0 = (i * kw + j) * cin;
      if (sw === 1 && wo === w && owHi > owLo) {
        im2colSameWidthTap(mem, xcf, out, c, q0, nq, i, j, r0, owLo, owHi);
        continue;
      }
      for (let ci = 0; ci < cin; ci++) {
        const src = ci * pixels;
        let d = (r0 + ci) * mc;
        for (let q = q0; q < q0 + nq; q++, d += wo) {
          const oh = q % ho;
          const n = (q - oh) / ho;
          const ih = oh * sh + i - pt;
          const o = out + d;
          if (ih < 0 || ih >= h) {
            mem.fill(0, o, o + wo);
            continue;
          }
          for (let ow = 0; ow < owLo; ow++) mem[o + ow] = 0;
          let s = xcf + src + (n * h + ih) * w + owLo * sw + j - pl;
          if (sw === 1 && owHi - owLo >= COPY_WITHIN_MIN) {
            mem.copyWithin(o + owLo, s, s + owHi - owLo);
          } else {
            for (let ow = owLo; ow < owHi; ow++, s += sw) mem[o + ow] = mem[s];
          }
          for (let ow = owHi; ow < wo; ow++) mem[o + ow] = 0;
        }
      }
    }
  }
}

/**
 * One tap (i, j) of im2colTransposedRows when the stride along x is 1 and the output is as wide as
 * the input ('same'): then consecutive output rows read consecutive input rows (even across
 * images, when Ho = H), so a whole block of rows is one native copy, after which the columns the
 * tap puts outside the image ([0, owLo) and [owHi, Wo), read from the neighbouring row) are
 * zeroed. One copy per block instead of one per row: the per-call cost of copyWithin on the wasm
 * heap dominated the rows' short runs.
 */
function im2colSameWidthTap(
  mem: Float32Array,
  xcf: number,
  out: number,
  c: tf.backend_util.Conv2DInfo,
  q0: number,
  nq: number,
  i: number,
  j: number,
  r0: number,
  owLo: number,
  owHi: number,
): void {
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: cin, outHeight: ho, strideHeight: sh } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const wo = w;
  const pixels = nb * h * w;
  const mc = nq * wo;
  for (let ci = 0; ci < cin; ci++) {
    const src = xcf + ci * pixels + j - pl;
    const d0 = out + (r0 + ci) * mc;
    let q = q0;
    while (q < q0 + nq) {
      const oh = q % ho;
      const ih = oh * sh + i - pt;
      const o = d0 + (q - q0) * wo;
      if (ih < 0 || ih >= h) {
        mem.fill(0, o, o + wo);
        q++;
        continue;
      }
      // Extend the block while the next row's input row follows this one's in memory.
      const first = (((q - oh) / ho) * h + ih) * w;
      let last = q;
      let at = first;
      while (last + 1 < q0 + nq) {
        const oh1 = (last + 1) % ho;
        const ih1 = oh1 * sh + i - pt;
        const at1 = (((last + 1 - oh1) / ho) * h + ih1) * w;
        if (ih1 < 0 || ih1 >= h || at1 !== at + w) break;
        last++;
        at = at1;
      }
      const rows = last - q + 1;
      mem.copyWithin(o + owLo, src + first + owLo, src + first + (rows - 1) * w + owHi);
      if (owLo > 0 || owHi < wo) {
        for (let r = 0; r < rows; r++) {
          const row = o + r * wo;
          for (let ow = 0; ow < owLo; ow++) mem[row + ow] = 0;
          for (let ow = owHi; ow < wo; ow++) mem[row + ow] = 0;
        }
      }
      q = last + 1;
    }
  }
}

/** Shorter runs are copied by a JS loop: copyWithin's fixed cost per call outweighs its speed. */
const COPY_WITHIN_MIN = 24;

const CHUNK_FLOATS = 1 << 19;

/**
 * Rows per chunk: the [k, rows] im2col block (~2 MB) keeps its scattered writes in cache, and the
 * [rows, cout] slice of dy, which XNNPACK packs as its right operand, stays ~0.5 MB.
 */
function chunkRows(k: number, cout: number, m: number): number {
  return Math.max(64, Math.min(m, Math.floor(CHUNK_FLOATS / k), Math.floor(CHUNK_FLOATS / 4 / cout)));
}

/** The convolution attributes both gradient kernels receive from tfjs. */
interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface BackpropFilterAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: BackendWasm; attrs: BackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const c = convInfo(x.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dataFormat, attrs.dimRoundingMode);
  if (WINOGRAD_ON && winogradFits(c) && winogradReady(backend)) return winogradBackpropFilter(backend, x, dy);
  const im2colFast = c.strideWidth === 1 && c.outWidth === c.inWidth && c.outHeight * c.outWidth >= BY_CONV_MAX_MAP;
  const convFits = !im2colFast && c.inChannels >= BY_CONV_MIN_IN_CHANNELS && c.batchSize * c.outHeight * c.outWidth * c.outChannels <= BY_CONV_MAX_FLOATS;
  const byConv = convFits ? filterGradByConv(x, dy, c, backend) : undefined;
  return byConv ?? filterGradByIm2col(x, dy, c, backend);
}

/**
 * When the filter gradient runs as one XNNPACK conv (filterGradByConv) rather than as im2col
 * products. The conv streams its packed dy once per few rows of dW, so dy must stay in the
 * last-level cache, and with few input channels dW has too few rows to pay for packing all of dy;
 * the im2col form is fast where its rows are whole input rows (stride 1 along x, 'same' width).
 * Measured here (B32, 3×3, CPU ms conv / im2col): stride 1: 7×7×16 0.55 / 0.92, 7×7×32 1.7 / 2.0,
 * 8×8×64 8.3 / 8.0, 14×14×16 2.4 / 2.4, 28×28×16 9.4 / 7.9, 28×28×32 29 / 25, 16×16×64 33 / 29;
 * stride 2 (from): 14×14×16 0.70 / 1.20, 28×28×16 3.5 / 4.5, 32×32×64 39 / 41; input convs
 * 28×28, 1 → 16: 3.6 / 2.2 and 32×32, 3 → 64: 28 / 14.
 */
const BY_CONV_MAX_FLOATS = 1 << 20;
const BY_CONV_MIN_IN_CHANNELS = 16;
/** Output maps (Ho·Wo) from this size take the im2col form when it copies whole rows. */
const BY_CONV_MAX_MAP = 64;

/**
 * Filter gradient as one forward conv (XNNPACK's indirect GEMM, no im2col written):
 * dW[i, j, ci, co] = Σ_{n, oh, ow} x[n, oh·sh + i − pt, ow·sw + j − pl, ci] · dy[n, oh, ow, co]
 * is a conv whose batch is ci, whose channels are the samples n, whose input is xᵀ [ci, H, W, n]
 * and whose filter is dy as [Ho, Wo, n, co] dilated by the stride; its output [ci, kh, kw, co] is
 * dW with the first axes swapped. Returns undefined when the padding it needs would be negative
 * (a 'valid' conv that leaves the last rows of x unused), which the im2col path handles.
 */
function filterGradByConv(x: TensorInfo, dy: TensorInfo, c: tf.backend_util.Conv2DInfo, backend: BackendWasm): TensorInfo | undefined {
  const {
    batchSize: nb,
    inHeight: h,
    inWidth: w,
    inChannels: cin,
    outHeight: ho,
    outWidth: wo,
    outChannels: cout,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const pb = kh + (ho - 1) * sh - h - pt;
  const pr = kw + (wo - 1) * sw - w - pl;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return undefined;
  const xT = backend.makeOutput([cin, h, w, nb], 'float32');
  const dyT = backend.makeOutput([ho, wo, nb, cout], 'float32');
  {
    // xT[(ci·HW + p)·n + b] = x[(b·HW + p)·Cin + ci]
    const xv = heap(backend, x);
    const tv = heap(backend, xT);
    const hw = h * w;
    // Per pixel, blocks of 16 samples: each write is one cache line of xT, the 16 strided rows of x
    // it reads from are reused for every ci.
    const rowStride = hw * cin;
    for (let p = 0; p < hw; p++) {
      for (let b0 = 0; b0 < nb; b0 += 16) {
        const bn = Math.min(16, nb - b0);
        for (let ci = 0; ci < cin; ci++) {
          const d = (ci * hw + p) * nb + b0;
          let s = (b0 * hw + p) * cin + ci;
          for (let b = 0; b < bn; b++, s += rowStride) tv[d + b] = xv[s];
        }
      }
    }
    // dyT[(p·n + b)·Co + co] = dy[(b·HoWo + p)·Co + co]: runs of Co floats.
    const dv = heap(backend, dy);
    const ov = heap(backend, dyT);
    const q = ho * wo;
    for (let p = 0; p < q; p++) {
      for (let b = 0; b < nb; b++) {
        const s = (b * q + p) * cout;
        const d = (p * nb + b) * cout;
        for (let k = 0; k < cout; k++) ov[d + k] = dv[s + k];
      }
    }
  }
  const prod = runKernel(
    'Conv2D',
    backend,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  );
  free(backend, xT, dyT);
  const out = backend.makeOutput([kh, kw, cin, cout], 'float32');
  const pv = heap(backend, prod);
  const dw = heap(backend, out);
  // dW[(i·kw + j)·Cin + ci] ← prod[(ci·kh + i)·kw + j], rows of Co.
  for (let ci = 0; ci < cin; ci++) {
    for (let t = 0; t < kh * kw; t++) dw.set(pv.subarray((ci * kh * kw + t) * cout, (ci * kh * kw + t + 1) * cout), (t * cin + ci) * cout);
  }
  free(backend, prod);
  return out;
}

function filterGradByIm2col(x: TensorInfo, dy: TensorInfo, c: tf.backend_util.Conv2DInfo, backend: BackendWasm): TensorInfo {
  const k = c.filterHeight * c.filterWidth * c.inChannels;
  const cout = c.outChannels;
  const wo = c.outWidth;
  const rowsTotal = c.batchSize * c.outHeight;
  const rowsPerChunk = Math.max(1, Math.floor(chunkRows(k, cout, rowsTotal * wo) / wo));
  const pixels = c.batchSize * c.inHeight * c.inWidth;
  const xcf = backend.makeOutput([c.inChannels, pixels], 'float32');
  toChannelsFirst(heap(backend, x), heap(backend, xcf), pixels, c.inChannels);
  const acc = new Float32Array(k * cout);
  for (let q0 = 0; q0 < rowsTotal; q0 += rowsPerChunk) {
    const nq = Math.min(rowsPerChunk, rowsTotal - q0);
    const rows = nq * wo;
    const m0 = q0 * wo;
    const patchesT = backend.makeOutput([1, k, rows], 'float32');
    // A fresh tensor per chunk: the matmul caches XNNPACK's packed right operand by tensor id.
    const dyChunk = backend.makeOutput([1, rows, cout], 'float32');
    // Views are taken after the allocations: growing the wasm memory detaches older views.
    heap(backend, dyChunk).set(heap(backend, dy).subarray(m0 * cout, (m0 + rows) * cout));
    const pv = heap(backend, patchesT);
    im2colTransposedRows(new Float32Array(pv.buffer), heap(backend, xcf).byteOffset >> 2, pv.byteOffset >> 2, c, q0, nq);
    const prod = runKernel('BatchMatMul', backend, { a: patchesT, b: dyChunk }, { transposeA: false, transposeB: false });
    const p = heap(backend, prod);
    for (let i = 0; i < acc.length; i++) acc[i] += p[i];
    free(backend, patchesT, dyChunk, prod);
  }
  free(backend, xcf);
  const out = backend.makeOutput([c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], 'float32');
  heap(backend, out).set(acc);
  return out;
}

interface BackpropInputAttrs extends ConvGradAttrs {
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
    const out = runKernel(
      'Conv2D',
      backend,
      { x: dy, filter: wT },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    free(backend, wT);
    return out;
  }
  return backpropInputByPhases(dy, filter, c, backend);
}

/**
 * Input gradient of a strided conv as sh·sw stride-1 convs of dy, one per output phase
 * (rh, rw) = ((y + padTop) mod sh, (x + padLeft) mod sw), each with the sub-filter of the taps
 * that reach that phase. Per dimension: dx[q·s + r − p] = Σ_t dy[q − t] · w[r + s·t], which is a
 * correlation of dy with the flipped sub-filter and padding (taps − 1). The phases are then
 * interleaved into dx. Together they do exactly the direct multiply count, all in XNNPACK convs.
 */
function backpropInputByPhases(dy: TensorInfo, filter: TensorInfo, c: tf.backend_util.Conv2DInfo, backend: BackendWasm): TensorInfo {
  const {
    batchSize: nb,
    inHeight: h,
    inWidth: w,
    inChannels: cin,
    outHeight: ho,
    outWidth: wo,
    outChannels: cout,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = c;
  const ph = c.padInfo.top;
  const pw = c.padInfo.left;
  const dx = backend.makeOutput([nb, h, w, cin], 'float32');
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const th = Math.max(0, Math.ceil((kh - rh) / sh));
      const tw = Math.max(0, Math.ceil((kw - rw) / sw));
      // Phase rows q = 0 .. qh−1 map to y = q·sh + rh − ph (those with y < 0 are skipped).
      const qh = Math.floor((h - 1 + ph - rh) / sh) + 1;
      const qw = Math.floor((w - 1 + pw - rw) / sw) + 1;
      if (qh <= 0 || qw <= 0) continue;
      let out: TensorInfo | undefined;
      let oh = 0;
      let owidth = 0;
      if (th > 0 && tw > 0) {
        const f = backend.makeOutput([th, tw, cout, cin], 'float32');
        {
          const wv = heap(backend, filter);
          const fv = heap(backend, f);
          for (let uh = 0; uh < th; uh++) {
            for (let uw = 0; uw < tw; uw++) {
              const src = ((rh + sh * (th - 1 - uh)) * kw + (rw + sw * (tw - 1 - uw))) * cin * cout;
              const dst = (uh * tw + uw) * cout * cin;
              for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) fv[dst + co * cin + ci] = wv[src + ci * cout + co];
            }
          }
        }
        const padB = Math.max(0, qh - ho);
        const padR = Math.max(0, qw - wo);
        out = runKernel(
          'Conv2D',
          backend,
          { x: dy, filter: f },
          {
            strides: [1, 1],
            pad: [
              [0, 0],
              [th - 1, padB],
              [tw - 1, padR],
              [0, 0],
            ],
            dataFormat: 'NHWC',
            dilations: [1, 1],
          },
        );
        free(backend, f);
        oh = out.shape[1];
        owidth = out.shape[2];
      }
      const dxv = heap(backend, dx);
      const all = new Float32Array(dxv.buffer);
      const dxBase = dxv.byteOffset >> 2;
      const outBase = out ? heap(backend, out).byteOffset >> 2 : 0;
      for (let n = 0; n < nb; n++) {
        for (let q = 0; q < qh; q++) {
          const y = q * sh + rh - ph;
          if (y < 0) continue;
          for (let qx = 0; qx < qw; qx++) {
            const x = qx * sw + rw - pw;
            if (x < 0) continue;
            const d = dxBase + ((n * h + y) * w + x) * cin;
            if (!out) {
              all.fill(0, d, d + cin);
            } else {
              const s = outBase + ((n * oh + q) * owidth + qx) * cin;
              all.copyWithin(d, s, s + cin);
            }
          }
        }
      }
      if (out) free(backend, out);
    }
  }
  return dx;
}

/**
 * Sum over all axes but the last (bias gradients: dy summed over batch and pixels). The stock wasm
 * Sum first transposes the reduced axes innermost (~10 ns per element); a JS pass over the
 * rows is several times faster. Other reductions go to the stock kernel.
 */
function makeSum(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { axis: number | number[]; keepDims: boolean } }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((p, q) => p - q);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((ax, i) => ax === i);
    if (x.dtype !== 'float32' || !leading) return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
    const cols = x.shape[rank - 1];
    const rows = tf.util.sizeFromShape(x.shape) / cols;
    const out = backend.makeOutput(attrs.keepDims ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols], 'float32');
    const xv = heap(backend, x);
    const acc = heap(backend, out);
    acc.fill(0);
    // Four rows per pass: a quarter of the loads and stores of the accumulator.
    let r = 0;
    for (let o = 0; r + 4 <= rows; r += 4, o += 4 * cols) {
      for (let ch = 0; ch < cols; ch++) acc[ch] += xv[o + ch] + xv[o + cols + ch] + xv[o + 2 * cols + ch] + xv[o + 3 * cols + ch];
    }
    for (let o = r * cols; r < rows; r++, o += cols) for (let ch = 0; ch < cols; ch++) acc[ch] += xv[o + ch];
    return out;
  };
  return { kernelName: tf.Sum, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/**
 * Identity without the copy. The engine clones every tensor it saves for backprop through this
 * kernel (three or more per conv and per Adam update); tensors are immutable, so sharing the
 * buffer under a reference count, as the stock Reshape does, is enough.
 */
function identity(args: { inputs: { x: TensorInfo }; backend: BackendWasm }): TensorInfo {
  const { x } = args.inputs;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** Cast to the dtype a tensor already has (ReLU's gradient does it on every step) shares the buffer too. */
function makeCast(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { dtype: tf.DataType } }): TensorInfo => {
    if (args.inputs.x.dtype === args.attrs.dtype) return identity(args);
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  };
  return { kernelName: tf.Cast, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/**
 * `FEATURE_COMPLEXITY_WASM_WINOGRAD=off` keeps every conv on the direct kernels (A/B benchmarks,
 * bench/convs.ts, or to rule the Winograd kernels out when chasing a numerical difference).
 */
const WINOGRAD_ON = process.env.FEATURE_COMPLEXITY_WASM_WINOGRAD !== 'off';

/** How the wasm backend runs its 3×3 convs, for `capabilities`. */
export function wasmConvDescription(): string {
  return WINOGRAD_ON ? 'Winograd 3×3 convolutions' : 'direct convolutions (FEATURE_COMPLEXITY_WASM_WINOGRAD=off)';
}

interface ForwardConvAttrs extends ConvGradAttrs {
  dilations: number | [number, number];
  activation?: string;
}

/** Whether a forward conv with these inputs and attributes runs by Winograd (winograd.ts). */
function forwardByWinograd(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, attrs: ForwardConvAttrs): boolean {
  if (!WINOGRAD_ON || !winogradReady(backend) || attrs.dataFormat !== 'NHWC' || x.dtype !== 'float32') return false;
  const c = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad as 'same',
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return winogradPaysForward(c);
}

/** Conv2D: stride-1 3×3 'same' convs wide enough by Winograd, the rest by the stock (XNNPACK) kernel. */
function makeConv2D(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: { x: TensorInfo; filter: TensorInfo }; backend: BackendWasm; attrs: ForwardConvAttrs }): TensorInfo => {
    const { x, filter } = args.inputs;
    if (forwardByWinograd(args.backend, x, filter, args.attrs)) return winogradConv2D(args.backend, x, filter);
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  };
  return { kernelName: tf.Conv2D, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/** FusedConv2D (conv + bias, no activation) the same way; activations and PReLU go to the stock kernel. */
function makeFusedConv2D(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: {
    inputs: { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    backend: BackendWasm;
    attrs: ForwardConvAttrs;
  }): TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const linear = (args.attrs.activation ?? 'linear') === 'linear' && !preluActivationWeights;
    const biasFits = !bias || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3] && bias.dtype === 'float32');
    if (linear && biasFits && forwardByWinograd(args.backend, x, filter, args.attrs)) return winogradConv2D(args.backend, x, filter, bias);
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  };
  return { kernelName: tf.FusedConv2D, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

let registered = false;

/**
 * Registers the conv gradient kernels, the Winograd forward convs (winograd.ts), the
 * bias-gradient Sum and a copy-free Identity for 'wasm'. Idempotent.
 */
export function registerWasmConvKernels(): void {
  if (registered) return;
  for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput]) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc });
  const stockIdentity = tf.getKernel(tf.Identity, 'wasm');
  if (stockIdentity) tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({ kernelName: tf.Identity, backendName: 'wasm', kernelFunc: identity as unknown as tf.KernelFunc });
  const stockCast = tf.getKernel(tf.Cast, 'wasm');
  if (stockCast) {
    tf.unregisterKernel(tf.Cast, 'wasm');
    tf.registerKernel(makeCast(stockCast));
  }
  for (const [name, make] of [
    [tf.Conv2D, makeConv2D],
    [tf.FusedConv2D, makeFusedConv2D],
  ] as const) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(make(stock));
  }
  const stockSum = tf.getKernel(tf.Sum, 'wasm');
  if (stockSum) {
    tf.unregisterKernel(tf.Sum, 'wasm');
    tf.registerKernel(makeSum(stockSum));
  }
  registered = true;
}
