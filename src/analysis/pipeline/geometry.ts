/**
 * The sampling grid of a teacher's trunk (input → target layer), measured from the trunk itself so
 * that it works for every format the engine loads (TF.js layers and graph models, Keras, ONNX,
 * PyTorch exports) and every padding convention (TF `same`, which pads (0, 1) with stride 2 on an
 * even map; PyTorch `padding=1`, which pads (1, 1); explicit `ZeroPadding2D` / ONNX `pads`; pools).
 *
 * Per axis, output position i of the target feature reads the input window
 *   [stride·i − offset, stride·i − offset + field − 1]
 * clipped to the image (zero padding outside). The probe perturbs one input row (column) at a time
 * on random images and records which output rows (columns) move; the interior windows give the
 * stride, the offset and the field, and every window, clipped ones included, must agree with them.
 * A trunk whose windows do not follow one grid (resizing, dilation patterns, global pooling to 1×1)
 * has no geometry: the disentangler then keeps its default design and the result says so.
 *
 * Why it matters (PLATFORM.md, "Geometry"): an order-0 disentangler whose grid is shifted against
 * the teacher's cannot represent the teacher's linear part; the rest is counted as higher orders.
 */
import { tf } from '../tf/backend';
import { Rng } from '../util/random';
import type { AxisGeometry, Geometry } from '../../shared/files/analysis';

export type { AxisGeometry, Geometry };

/** What the probe found: the grid, or why there is none. */
export type GeometryProbe = { geometry: Geometry } | { geometry?: undefined; reason: string };

/** Windows [first, last] of each output position (−1, −1 when nothing moved it). */
export type Windows = [number, number][];

/**
 * The grid of one axis from the windows of its output positions over an input of `size`, or why
 * they follow no grid.
 */
export function axisFromWindows(windows: Windows, size: number): AxisGeometry | string {
  const n = windows.length;
  if (windows.some(([a]) => a < 0)) return 'some output positions do not depend on the input';
  const interior = windows.map(([a, b], i) => ({ i, a, b })).filter(({ a, b }) => a > 0 && b < size - 1);
  if (interior.length === 0) return n === 1 ? 'the target feature has a single position on this axis' : 'every output window touches the border';
  const field = interior[0].b - interior[0].a + 1;
  const check = (stride: number): string | undefined => {
    const offset = stride * interior[0].i - interior[0].a;
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, stride * i - offset);
      const b = Math.min(size - 1, stride * i - offset + field - 1);
      if (windows[i][0] !== a || windows[i][1] !== b) {
        return `output ${i} reads input ${windows[i][0]}–${windows[i][1]}, the grid (stride ${stride}, offset ${offset}, field ${field}) says ${a}–${b}`;
      }
    }
    return undefined;
  };
  let stride: number;
  if (interior.length >= 2) {
    const [p, q] = [interior[0], interior[interior.length - 1]];
    stride = (q.a - p.a) / (q.i - p.i);
    if (!Number.isInteger(stride) || stride < 1) return `the windows do not advance by a whole number of pixels (${stride})`;
    const bad = check(stride);
    if (bad) return bad;
  } else {
    // One interior window (a small map): the stride is the one whose clipped windows match all the others.
    const found = Array.from({ length: size }, (_, k) => k + 1).find((st) => check(st) === undefined);
    if (found === undefined) return `no stride makes the clipped windows of the ${n} outputs agree with the interior one (${interior[0].a}–${interior[0].b})`;
    stride = found;
  }
  const offset = stride * interior[0].i - interior[0].a;
  return { stride, offset, field };
}

/**
 * Measures the windows of one axis: for each input line, a batch of random images with that line
 * perturbed, against the same images unperturbed. Two random bases, so that a ReLU dead on one
 * input does not hide a dependence.
 */
async function probeAxis(runTrunk: (x: tf.Tensor4D) => Promise<tf.Tensor4D>, inputShape: number[], axis: 1 | 2, seed: number): Promise<Windows> {
  const [h, w, c] = inputShape;
  const lines = axis === 1 ? h : w;
  const rng = new Rng(seed);
  let windows: Windows | undefined;
  for (let base = 0; base < 2; base++) {
    const x0 = Float32Array.from({ length: h * w * c }, () => rng.next());
    const batch = new Float32Array((lines + 1) * h * w * c);
    for (let k = 0; k <= lines; k++) batch.set(x0, k * h * w * c);
    for (let k = 0; k < lines; k++) {
      const img = (k + 1) * h * w * c;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if ((axis === 1 ? y : x) !== k) continue;
          for (let ch = 0; ch < c; ch++) batch[img + (y * w + x) * c + ch] += 0.5 + rng.next();
        }
      }
    }
    const input = tf.tensor4d(batch, [lines + 1, h, w, c]);
    let out: tf.Tensor4D | undefined;
    let moved: Float32Array;
    let outShape: number[];
    try {
      out = await runTrunk(input);
      outShape = out.shape;
      // |f(x + δ) − f(x)| summed over everything but the probed axis: [lines, outLines].
      const d = tf.tidy(() => {
        const ref = tf.slice(out!, [0, 0, 0, 0], [1, -1, -1, -1]);
        const diff = tf.abs(tf.sub(tf.slice(out!, [1, 0, 0, 0], [lines, -1, -1, -1]), ref));
        const scale = tf.add(tf.mean(tf.abs(ref)), 1e-12);
        return tf.div(tf.sum(diff, axis === 1 ? [2, 3] : [1, 3]), scale);
      });
      moved = (await d.data()) as Float32Array;
      d.dispose();
    } finally {
      input.dispose();
      out?.dispose();
    }
    const outLines = outShape[axis];
    // A float32 trunk moves by rounding alone far below this (relative to the mean activation).
    const tol = 1e-4;
    const found: Windows = Array.from({ length: outLines }, () => [-1, -1] as [number, number]);
    for (let k = 0; k < lines; k++) {
      for (let i = 0; i < outLines; i++) {
        if (moved[k * outLines + i] > tol) {
          if (found[i][0] < 0) found[i] = [k, k];
          else found[i] = [Math.min(found[i][0], k), Math.max(found[i][1], k)];
        }
      }
    }
    windows = windows
      ? windows.map(([a, b], i) => {
          const [a2, b2] = found[i];
          if (a < 0) return [a2, b2];
          if (a2 < 0) return [a, b];
          return [Math.min(a, a2), Math.max(b, b2)];
        })
      : found;
  }
  return windows!;
}

/** The trunk's grid on both axes, or why it has none. */
export async function probeGeometry(runTrunk: (x: tf.Tensor4D) => Promise<tf.Tensor4D>, inputShape: number[], seed = 1): Promise<GeometryProbe> {
  const out: Partial<Geometry> = {};
  for (const [axis, name] of [
    [1, 'height'],
    [2, 'width'],
  ] as const) {
    const windows = await probeAxis(runTrunk, inputShape, axis, seed + axis);
    const g = axisFromWindows(windows, inputShape[axis - 1]);
    if (typeof g === 'string') return { reason: `${name}: ${g}` };
    out[name] = g;
  }
  return { geometry: out as Geometry };
}

/** One line for the CLI and the Settings tab. */
export function describeGeometry(g: Geometry): string {
  const axis = (a: AxisGeometry) => `stride ${a.stride}, field ${a.field}, offset ${a.offset}`;
  return g.height.stride === g.width.stride && g.height.field === g.width.field && g.height.offset === g.width.offset
    ? `output i reads input [${g.height.stride}·i − ${g.height.offset}, +${g.height.field}) on both axes (${axis(g.height)})`
    : `height: ${axis(g.height)}; width: ${axis(g.width)}`;
}

/**
 * How the disentangler follows one axis of the grid: an input conv (stride 1) and three stages
 * whose strided convs (the linear projections, and the first block of a stage) take these
 * kernels and explicit pads. Pads are (before, after); a negative pad crops.
 */
export interface AxisPlan {
  /** Stage strides, product = the grid's stride, downsampling as late as possible. */
  strides: number[];
  /** Kernel of the input conv (3, or 4 when the grid's centre falls between two pixels). */
  inputKernel: number;
  inputPad: [number, number];
  /** Kernel and pads of each stage's strided convs (unused for a stride-1 stage). */
  kernels: number[];
  pads: [number, number][];
  /** Output size of the input conv, then of each stage; the last is the target's. */
  sizes: number[];
}

const PLAN_STAGES = 3;

/** The strides a, b, c with a·b·c = stride, smallest largest factor first, then as late as possible. */
export function factorStride(stride: number): number[] {
  let best: number[] | undefined;
  for (let a = 1; a <= stride; a++) {
    if (stride % a) continue;
    for (let b = 1; b <= stride / a; b++) {
      if ((stride / a) % b) continue;
      const c = stride / a / b;
      const cand = [a, b, c];
      const key = (x: number[]) => [Math.max(...x), x[0], x[1]];
      if (!best || lexLess(key(cand), key(best))) best = cand;
    }
  }
  return best!;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/**
 * Plans one axis so that the order-0 disentangler's window for output i has the grid's centre
 * and at least its field: it can then represent any linear map the teacher's trunk can. With the
 * usual conventions the plan is the teacher's own: TF `same` 3-conv trunks get pads (1, 0, 0) in
 * front, PyTorch `padding=1` ones (1, 1, 1), `valid` ones (0, 0, 0), and the same intermediate sizes.
 *
 * Centre offset of a window: δ = (field − 1)/2 − offset. A conv of kernel k and pad p in front
 * moves it by (k − 1)/2 − p in its input's pixels, which are P pixels of the image (P = product of
 * the earlier strides). The stages' shares are chosen from the last (coarsest) stage down, each
 * within its kernel; the input conv takes the rest, and an even kernel when δ is a half-integer.
 */
export function planAxis(g: AxisGeometry, inSize: number, outSize: number): AxisPlan {
  const strides = factorStride(g.stride);
  const delta = (g.field - 1) / 2 - g.offset;
  const half = !Number.isInteger(delta);
  const inputKernel = half ? 4 : 3;
  const kernels = strides.map((s) => (s > 1 ? Math.max(3, s % 2 ? s : s + 1) : 1));
  const P = strides.map((_, j) => strides.slice(0, j).reduce((a, b) => a * b, 1));
  // The field grows fastest on the coarsest strided stage; without one, on the input conv.
  let k0 = inputKernel;
  const field = () => k0 + kernels.reduce((acc, k, j) => acc + (strides[j] > 1 ? (k - 1) * P[j] : 0), 0);
  const last = strides.map((s) => s > 1).lastIndexOf(true);
  while (field() < g.field) {
    if (last >= 0) kernels[last] += 2;
    else k0 += 2;
  }
  // Shares of δ, coarsest stage first.
  let rest = delta;
  const d = strides.map(() => 0);
  for (let j = PLAN_STAGES - 1; j >= 0; j--) {
    if (strides[j] === 1) continue;
    const cap = (kernels[j] - 1) / 2;
    d[j] = Math.max(-cap, Math.min(cap, Math.trunc(rest / P[j])));
    rest -= d[j] * P[j];
  }
  const p0 = (k0 - 1) / 2 - rest;
  // Sizes: the input conv keeps the input's, each stage divides (rounding up), the last is the target's.
  // With no strided stage the input conv itself gives the target's size.
  const sizes = [last >= 0 ? inSize : outSize];
  strides.forEach((s, j) => sizes.push(j === PLAN_STAGES - 1 ? outSize : Math.ceil(sizes[j] / s)));
  const after = (n: number, s: number, k: number, before: number, inN: number) => (n - 1) * s + k - inN - before;
  const pads = strides.map((s, j): [number, number] => {
    if (s === 1) return [0, 0];
    const before = (kernels[j] - 1) / 2 - d[j];
    return [before, after(sizes[j + 1], s, kernels[j], before, sizes[j])];
  });
  // A stride-1 stage keeps its size, except a last one, which the plan does not allow to differ.
  strides.forEach((s, j) => {
    if (s === 1 && sizes[j + 1] !== sizes[j]) throw new Error(`stage ${j + 1} has stride 1 but maps ${sizes[j]} to ${sizes[j + 1]}`);
  });
  return { strides, inputKernel: k0, inputPad: [p0, after(sizes[0], 1, k0, p0, inSize)], kernels, pads, sizes };
}

/** The window [first, last] (image pixels) that output i of a plan's linear path reads. */
export function planWindow(plan: AxisPlan, i: number): [number, number] {
  // Walk back from the last stage: a window [a, b] of a stage's output reads [a·s − p, b·s − p + k − 1] of its input.
  let [a, b] = [i, i];
  for (let j = plan.strides.length - 1; j >= 0; j--) {
    if (plan.strides[j] === 1) continue;
    const [p] = plan.pads[j];
    [a, b] = [a * plan.strides[j] - p, b * plan.strides[j] - p + plan.kernels[j] - 1];
  }
  const [p0] = plan.inputPad;
  return [a - p0, b - p0 + plan.inputKernel - 1];
}
