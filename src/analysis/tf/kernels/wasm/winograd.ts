/**
 * Stride-1 3×3 'same' convolutions on the wasm backend by Winograd's minimal filtering F(2×2, 3×3):
 * each 2×2 block of outputs costs 16 multiplies per input channel instead of 36, so the forward
 * conv, its input gradient and its filter gradient each do 2.25× fewer multiplies than the direct
 * (XNNPACK) conv, which runs at the speed of XNNPACK's matrix product already.
 *
 *   forward:  y_t = Aᵀ [Σ_ci (G g Gᵀ) ⊙ (Bᵀ d_t B)] A for every tile t (2×2 outputs, 4×4 inputs):
 *             the 16 element-wise products summed over ci are 16 matrix products
 *             M_ab[t, co] = V_ab[t, ci] · U_ab[ci, co], between an input transform and an output
 *             transform; all three in WebAssembly SIMD (winograd-wat.ts) on the backend's own
 *             memory. The products run in gemm_nn: with Cin, Cout ≤ 128 XNNPACK's matrix product
 *             (its set-up per call, its small-k kernels) was 1.1–2.4× slower on them.
 *   input gradient: the forward conv of dy with the flipped, in/out-transposed filter.
 *   filter gradient: dU_ab = Σ_t V_ab[t, ci]ᵀ · (A dy_t Aᵀ)_ab[t, co], then dg = Gᵀ dU G. These 16
 *             products reduce over the tiles, so XNNPACK would pack a [tiles, Cout] operand on every
 *             call (~10 ns per float here, more than the product itself); gemm_tn (WebAssembly SIMD,
 *             4 × 8 register blocks) reads both operands in place instead.
 *
 * The batch is processed in chunks of images, so that the transformed tensors (4× the input and
 * output) stay small. Other convolutions (strided, other sizes, channels not a multiple of 4) keep
 * the direct kernels, and so do forward convs too narrow or small for the transforms to pay.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { WINOGRAD_WASM_BASE64 } from './winograd-wasm.generated';

type TensorInfo = tf.TensorInfo;

interface Transforms {
  in_tf(vp: number, x: number, nb: number, th: number, tw: number, c: number): void;
  out_tf(mp: number, y: number, nb: number, th: number, tw: number, c: number, bias: number): void;
  dy_tf(mp: number, dy: number, nb: number, th: number, tw: number, c: number): void;
  gemm_tn(a: number, b: number, c: number, t: number, m: number, n: number): void;
  gemm_nn(a: number, b: number, c: number, t: number, k: number, n: number): void;
  adam: WasmAdam;
}

/** adam(x, m, v, g, x1, m1, v1, n, β1, β2, 1 − β1, 1 − β2, ε, −lr, c1, c2) on byte offsets into the backend's memory (winograd-wat.ts). */
export type WasmAdam = (...args: number[]) => void;

const instances = new WeakMap<object, Transforms | null>();

/**
 * The transforms, instantiated once per backend on the backend's own memory; null where that
 * memory is not reachable or the module does not instantiate (a tfjs-backend-wasm build other than
 * the one this was written for), in which case every conv keeps the direct kernels.
 */
function instantiate(backend: BackendWasm): Transforms | null {
  const module = backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  const known = instances.get(module);
  if (known !== undefined) return known;
  let t: Transforms | null = null;
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (memory instanceof WebAssembly.Memory) {
    try {
      const bytes = Buffer.from(WINOGRAD_WASM_BASE64, 'base64');
      t = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as Transforms;
    } catch {
      t = null;
    }
  }
  instances.set(module, t);
  return t;
}

/** The module's Adam update on this backend's memory (kernels/adam.ts), or null where the module does not instantiate. */
export function wasmAdam(backend: BackendWasm): WasmAdam | null {
  return instantiate(backend)?.adam ?? null;
}

/** Whether the Winograd kernels can run on this backend (see instantiate). */
export function winogradReady(backend: BackendWasm): boolean {
  return instantiate(backend) !== null;
}

function transforms(backend: BackendWasm): Transforms {
  const t = instantiate(backend);
  if (!t) throw new Error('the Winograd convolution cannot run on this wasm backend (its memory is not reachable)');
  return t;
}

const heap = (backend: BackendWasm, t: TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
const address = (backend: BackendWasm, t: TensorInfo): number => heap(backend, t).byteOffset;
const free = (backend: BackendWasm, ...infos: TensorInfo[]): void => {
  for (const t of infos) backend.disposeData(t.dataId);
};

/**
 * Where the Winograd forward conv pays (measured here, B32, CPU ms of the stock XNNPACK conv /
 * Winograd): 32×32×128 352 / 161, 32×32×64 81 / 39, 16×16×64 21 / 10, 8×8×64 5.0 / 3.1,
 * 4×4×64 1.9 / 2.5, 28×28×32 16 / 7.7, 14×14×32 3.9 / 2.7, 7×7×32 1.0 / 1.6, 28×28×16 4.4 / 3.4,
 * 14×14×16 1.1 / 0.7, 7×7×16 0.3 / 0.6, 28×28×8 1.2–1.8 / 1.4–1.7. The transforms cost
 * ~ (Cin + Cout) per pixel and save ~ Cin·Cout, so narrow convs and small maps keep the direct
 * kernel: below this Cin·Cout, or below WINOGRAD_MIN_MAP (H·W).
 */
export const WINOGRAD_MIN_CHANNEL_PRODUCT = 16 * 16;
export const WINOGRAD_MIN_MAP = 64;
/**
 * With 4 input channels the products' inner dimension is too short to pay for the output
 * transform: 32×32, 4 → 64 forward 6.6 ms direct, 8.1 by Winograd; 8 → 64 12.4 / 7.1, 64 → 4
 * 10.5 / 8.8 (B32, CPU ms).
 */
export const WINOGRAD_MIN_IN_CHANNELS = 8;

/**
 * Whether a conv (as tfjs describes it) has the shape the Winograd kernels handle: 3×3, stride and
 * dilation 1, 'same', channels multiples of 4. The filter gradient takes it whenever it fits (it
 * beat the im2col form at every size measured, from 7×7×4 to 32×32×128); the forward conv and the
 * input gradient also need winogradPaysForward.
 */
export function winogradFits(c: tf.backend_util.Conv2DInfo): boolean {
  return (
    c.filterHeight === 3 &&
    c.filterWidth === 3 &&
    c.strideHeight === 1 &&
    c.strideWidth === 1 &&
    c.dilationHeight === 1 &&
    c.dilationWidth === 1 &&
    c.padInfo.top === 1 &&
    c.padInfo.left === 1 &&
    c.outHeight === c.inHeight &&
    c.outWidth === c.inWidth &&
    c.inChannels % 4 === 0 &&
    c.outChannels % 4 === 0
  );
}

/** Whether the forward conv (or a stride-1 input gradient, which is one) of this shape runs faster by Winograd. */
export function winogradPaysForward(c: tf.backend_util.Conv2DInfo): boolean {
  return (
    winogradFits(c) &&
    c.inChannels >= WINOGRAD_MIN_IN_CHANNELS &&
    c.inChannels * c.outChannels >= WINOGRAD_MIN_CHANNEL_PRODUCT &&
    c.inHeight * c.inWidth >= WINOGRAD_MIN_MAP
  );
}

const G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];

/**
 * U_ab[k, m] = (G g Gᵀ)_ab for the 3×3 filter w [3, 3, Cin, Cout]: (k, m) = (ci, co), or with
 * `flip` the filter of the input gradient, g'[i, j] = w[2 − i, 2 − j] and (k, m) = (co, ci).
 */
function filterTransform(w: Float32Array, cin: number, cout: number, flip: boolean): Float32Array {
  const n = cin * cout;
  const u = new Float32Array(16 * n);
  const g = new Float64Array(9);
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      const src = ci * cout + co;
      for (let t = 0; t < 9; t++) g[t] = w[(flip ? 8 - t : t) * n + src];
      const dst = flip ? co * cin + ci : src;
      for (let a = 0; a < 4; a++) {
        const [ga0, ga1, ga2] = G[a];
        const t0 = ga0 * g[0] + ga1 * g[3] + ga2 * g[6];
        const t1 = ga0 * g[1] + ga1 * g[4] + ga2 * g[7];
        const t2 = ga0 * g[2] + ga1 * g[5] + ga2 * g[8];
        for (let b = 0; b < 4; b++) u[(a * 4 + b) * n + dst] = t0 * G[b][0] + t1 * G[b][1] + t2 * G[b][2];
      }
    }
  }
  return u;
}

/** Floats of transformed data (16 tiles' worth per 2×2 block) a chunk of images may hold. */
let chunkFloats = 1 << 21;

/** Sets the chunk size (tests use it to cross chunk boundaries on small inputs); returns the previous one. */
export function setWinogradChunkFloats(floats: number): number {
  const previous = chunkFloats;
  chunkFloats = floats;
  return previous;
}

function imagesPerChunk(nb: number, th: number, tw: number, channels: number): number {
  return Math.max(1, Math.min(nb, Math.floor(chunkFloats / (16 * th * tw * channels))));
}

/** x_pad [n, 2th+2, 2tw+2, c] ← images [n0, n0+n) of x [nb, h, w, c], zero around (and past odd edges). */
function padImages(backend: BackendWasm, x: TensorInfo, n0: number, n: number, th: number, tw: number): TensorInfo {
  const [, h, w, c] = x.shape;
  const hp = 2 * th + 2;
  const wp = 2 * tw + 2;
  const xp = backend.makeOutput([n, hp, wp, c], 'float32');
  const dst = heap(backend, xp);
  const src = heap(backend, x);
  dst.fill(0);
  const row = w * c;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) dst.set(src.subarray(((n0 + i) * h + y) * row, ((n0 + i) * h + y + 1) * row), ((i * hp + y + 1) * wp + 1) * c);
  }
  return xp;
}

function pointerTable(backend: BackendWasm, tensors: TensorInfo[]): TensorInfo {
  const table = backend.makeOutput([tensors.length], 'int32');
  const view = backend.typedArrayFromHeap(table) as Int32Array;
  tensors.forEach((t, i) => (view[i] = address(backend, t)));
  return table;
}

/**
 * y = conv(x, filter) + bias for a stride-1 3×3 'same' conv whose filter is given transformed
 * (`u`: U_ab [16][Cin][Cout]). x [nb, h, w, Cin] → y [nb, h, w, Cout].
 */
function winogradForward(backend: BackendWasm, x: TensorInfo, u: Float32Array, cout: number, bias?: Float32Array): TensorInfo {
  const [nb, h, w, cin] = x.shape;
  const th = (h + 1) >> 1;
  const tw = (w + 1) >> 1;
  const even = h % 2 === 0 && w % 2 === 0;
  const wasm = transforms(backend);
  const out = backend.makeOutput([nb, h, w, cout], 'float32');
  const biasT = backend.makeOutput([cout], 'float32');
  heap(backend, biasT).fill(0);
  if (bias) heap(backend, biasT).set(bias);
  const us = Array.from({ length: 16 }, (_, ab) => {
    const t = backend.makeOutput([1, cin, cout], 'float32');
    heap(backend, t).set(u.subarray(ab * cin * cout, (ab + 1) * cin * cout));
    return t;
  });
  const per = imagesPerChunk(nb, th, tw, Math.max(cin, cout));
  for (let n0 = 0; n0 < nb; n0 += per) {
    const n = Math.min(per, nb - n0);
    const tiles = n * th * tw;
    // gemm_nn works on blocks of 4 rows: its operands get the tile count rounded up (rows never read).
    const rows = (tiles + 3) & ~3;
    const xp = padImages(backend, x, n0, n, th, tw);
    const vs = Array.from({ length: 16 }, () => backend.makeOutput([1, rows, cin], 'float32'));
    const vTable = pointerTable(backend, vs);
    wasm.in_tf(address(backend, vTable), address(backend, xp), n, th, tw, cin);
    free(backend, xp, vTable);
    const ms = vs.map((v, ab) => {
      const m = backend.makeOutput([1, rows, cout], 'float32');
      wasm.gemm_nn(address(backend, v), address(backend, us[ab]), address(backend, m), rows, cin, cout);
      free(backend, v);
      return m;
    });
    const yPad = even ? undefined : backend.makeOutput([n, 2 * th, 2 * tw, cout], 'float32');
    const mTable = pointerTable(backend, ms);
    const target = yPad ? address(backend, yPad) : address(backend, out) + n0 * h * w * cout * 4;
    wasm.out_tf(address(backend, mTable), target, n, th, tw, cout, address(backend, biasT));
    free(backend, mTable, ...ms);
    if (yPad) {
      const src = heap(backend, yPad);
      const dst = heap(backend, out);
      const row = w * cout;
      for (let i = 0; i < n; i++) {
        for (let y = 0; y < h; y++) dst.set(src.subarray((i * 2 * th + y) * 2 * tw * cout, (i * 2 * th + y) * 2 * tw * cout + row), ((n0 + i) * h + y) * row);
      }
      free(backend, yPad);
    }
  }
  free(backend, biasT, ...us);
  return out;
}

/** Forward conv (and the fused conv's bias) by Winograd; the caller has checked winogradFits. */
export function winogradConv2D(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, bias?: TensorInfo): TensorInfo {
  const [, , cin, cout] = filter.shape;
  const u = filterTransform(heap(backend, filter), cin, cout, false);
  return winogradForward(backend, x, u, cout, bias ? heap(backend, bias).slice() : undefined);
}

/** dx of a stride-1 3×3 'same' conv: the forward conv of dy with the flipped, transposed filter. */
export function winogradBackpropInput(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo): TensorInfo {
  const [, , cin, cout] = filter.shape;
  const u = filterTransform(heap(backend, filter), cin, cout, true);
  return winogradForward(backend, dy, u, cin);
}

/** dW [3, 3, Cin, Cout] of a stride-1 3×3 'same' conv of x [nb, h, w, Cin] with output gradient dy. */
export function winogradBackpropFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const [nb, h, w, cin] = x.shape;
  const cout = dy.shape[3];
  const th = (h + 1) >> 1;
  const tw = (w + 1) >> 1;
  const even = h % 2 === 0 && w % 2 === 0;
  const wasm = transforms(backend);
  const n2 = cin * cout;
  // dU_ab [Cin, Cout], accumulated over the chunks by gemm_tn.
  const du = backend.makeOutput([16, cin, cout], 'float32');
  heap(backend, du).fill(0);
  const per = imagesPerChunk(nb, th, tw, Math.max(cin, cout));
  for (let n0 = 0; n0 < nb; n0 += per) {
    const n = Math.min(per, nb - n0);
    const tiles = n * th * tw;
    const xp = padImages(backend, x, n0, n, th, tw);
    const vs = Array.from({ length: 16 }, () => backend.makeOutput([tiles, cin], 'float32'));
    const vTable = pointerTable(backend, vs);
    wasm.in_tf(address(backend, vTable), address(backend, xp), n, th, tw, cin);
    free(backend, xp, vTable);
    let dyPad: TensorInfo | undefined;
    if (!even) {
      dyPad = backend.makeOutput([n, 2 * th, 2 * tw, cout], 'float32');
      const dst = heap(backend, dyPad);
      const src = heap(backend, dy);
      dst.fill(0);
      const row = w * cout;
      for (let i = 0; i < n; i++) {
        for (let y = 0; y < h; y++) dst.set(src.subarray(((n0 + i) * h + y) * row, ((n0 + i) * h + y + 1) * row), (i * 2 * th + y) * 2 * tw * cout);
      }
    }
    const ds = Array.from({ length: 16 }, () => backend.makeOutput([tiles, cout], 'float32'));
    const dTable = pointerTable(backend, ds);
    const source = dyPad ? address(backend, dyPad) : address(backend, dy) + n0 * h * w * cout * 4;
    wasm.dy_tf(address(backend, dTable), source, n, th, tw, cout);
    free(backend, dTable);
    if (dyPad) free(backend, dyPad);
    const duAt = address(backend, du);
    for (let ab = 0; ab < 16; ab++) wasm.gemm_tn(address(backend, vs[ab]), address(backend, ds[ab]), duAt + ab * n2 * 4, tiles, cin, cout);
    free(backend, ...vs, ...ds);
  }
  // dg[i, j] = Σ_ab G[a, i] dU[a, b] G[b, j]
  const out = backend.makeOutput([3, 3, cin, cout], 'float32');
  const acc = heap(backend, du);
  const dw = heap(backend, out);
  for (let k = 0; k < n2; k++) {
    for (let i = 0; i < 3; i++) {
      const r0 = G[0][i] * acc[k] + G[1][i] * acc[4 * n2 + k] + G[2][i] * acc[8 * n2 + k] + G[3][i] * acc[12 * n2 + k];
      const r1 = G[0][i] * acc[n2 + k] + G[1][i] * acc[5 * n2 + k] + G[2][i] * acc[9 * n2 + k] + G[3][i] * acc[13 * n2 + k];
      const r2 = G[0][i] * acc[2 * n2 + k] + G[1][i] * acc[6 * n2 + k] + G[2][i] * acc[10 * n2 + k] + G[3][i] * acc[14 * n2 + k];
      const r3 = G[0][i] * acc[3 * n2 + k] + G[1][i] * acc[7 * n2 + k] + G[2][i] * acc[11 * n2 + k] + G[3][i] * acc[15 * n2 + k];
      for (let j = 0; j < 3; j++) dw[(i * 3 + j) * n2 + k] = r0 * G[0][j] + r1 * G[1][j] + r2 * G[2][j] + r3 * G[3][j];
    }
  }
  free(backend, du);
  return out;
}
