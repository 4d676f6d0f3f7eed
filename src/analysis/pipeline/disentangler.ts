/**
 * The disentangler net Φ⁽ˡ⁾ of METHOD.md §1: it maps the input image x to a tensor shaped like
 * the target feature f(x), with exactly `order` = l nonlinear (ReLU) layers.
 *
 * Architecture (choice, METHOD.md §1):
 *   input conv 3×3 (input channels → C)
 *   three stages; a stage with stride s > 1 starts with a linear projection P (k×k, stride s,
 *   k = max(3, s)); its first block (if any) runs its conv with stride s and adds it to P(h).
 *   Every block is h ← h + conv3×3(ReLU(h)) (C → C); up to l = 8 the blocks are spread over the
 *   stages as evenly as possible, the remainder going to the later (smaller, cheaper) stages; the
 *   blocks of deeper orders go to the two later stages (blocksPerStage).
 *   final conv 1×1 (C → target channels).
 * Strides are chosen per spatial dimension so that the output size equals the target's, putting
 * the downsampling late like the authors' release (strides 1, 2, 2 for a factor of 4).
 * With l = 0 the net is affine (convs with bias, no ReLU), so it captures the linear component;
 * the bias lets it fit the feature's mean, which carries no variance and so no significance.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf/backend';
import { planAxis, type Geometry } from './geometry';
import { mulberry32 } from '../util/random';

export interface DisentanglerSpec {
  /** l = number of nonlinear (ReLU) blocks; 0 = purely linear net. */
  order: number;
  /** C channels (DEFAULT_WIDTH). */
  width: number;
  /** H, W, C of the input image (NHWC, no batch). */
  inputShape: [number, number, number];
  /** H, W, C of the target feature f(x). */
  targetShape: [number, number, number];
  /**
   * The teacher trunk's grid (geometry.ts). With it, the input conv and the strided convs take
   * the kernels and explicit pads of planAxis, so the order-0 net's window for each output has
   * the teacher's centre and covers its field; without it, every conv pads 'same' (the design
   * before the geometry was read, kept for teachers whose grid could not be measured).
   */
  geometry?: Geometry;
}

/**
 * The default C. METHOD.md's choice was 64; 32 is the default since the convergence suite
 * (bench/suite): the independent reference gave the same ρ at widths 32 and 64, a width-32
 * analysis costs about a quarter of the block convolutions, and the default analysis has to fit
 * in minutes on a laptop's CPU.
 */
export const DEFAULT_WIDTH = 32;
const STAGES = 3;
const MAX_STRIDE = 8;

/**
 * Up to this order the blocks are spread evenly over the stages; the blocks a deeper order adds go
 * to the later, smaller stages (see blocksPerStage).
 */
const EVEN_SPREAD_ORDERS = 8;

/**
 * Blocks per stage for `order` blocks; monotone in `order`, which warm start relies on.
 *
 * Up to EVEN_SPREAD_ORDERS the blocks are spread evenly, the remainder going to the later stages.
 * Each block beyond that goes to the last stage, except every fourth, which goes to the middle
 * one; the first (full-resolution) stage keeps what order EVEN_SPREAD_ORDERS gave it. Stages run
 * from the largest map to the smallest, and a block on a 28×28 map costs 16 times one on 7×7:
 * spread evenly, a third of order 32's blocks ran at full resolution and orders 20–32 took most of
 * a default analysis for about 0.001 of ρ each (bench/README.md, "Convergence suite").
 */
export function blocksPerStage(order: number): number[] {
  const even = (l: number) => {
    const base = Math.floor(l / STAGES);
    const rest = l - base * STAGES;
    return Array.from({ length: STAGES }, (_, i) => base + (i >= STAGES - rest ? 1 : 0));
  };
  if (order <= EVEN_SPREAD_ORDERS) return even(order);
  const counts = even(EVEN_SPREAD_ORDERS);
  const extra = order - EVEN_SPREAD_ORDERS;
  const middle = Math.floor(extra / 4);
  counts[STAGES - 2] += middle;
  counts[STAGES - 1] += extra - middle;
  return counts;
}

function sameOut(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** Stage strides for one spatial dimension: the smallest largest stride, downsampling as late as possible. */
export function stageStrides(inSize: number, outSize: number): number[] {
  let best: number[] | undefined;
  let bestKey: number[] | undefined;
  for (let a = 1; a <= MAX_STRIDE; a++) {
    for (let b = 1; b <= MAX_STRIDE; b++) {
      for (let c = 1; c <= MAX_STRIDE; c++) {
        if (sameOut(sameOut(sameOut(inSize, a), b), c) !== outSize) continue;
        const key = [Math.max(a, b, c), a * b * c, a, b];
        if (!bestKey || lexLess(key, bestKey)) {
          best = [a, b, c];
          bestKey = key;
        }
      }
    }
  }
  if (!best) {
    throw new Error(`no stride schedule maps input size ${inSize} to target size ${outSize} in ${STAGES} stages (strides ≤ ${MAX_STRIDE})`);
  }
  return best;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

function normal(n: number, std: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Explicit pads [[top, bottom], [left, right]]; a negative pad crops. */
export type Pads = [[number, number], [number, number]];

interface Conv {
  kernel: tf.Variable<tf.Rank.R4>;
  bias: tf.Variable<tf.Rank.R1>;
  strides: [number, number];
  /** Explicit pads before a 'valid' conv; absent = 'same'. */
  pads?: Pads;
}

interface Stage {
  strides: [number, number];
  /** Linear skip projection of a strided stage. */
  projection?: Conv;
  blocks: Conv[];
}

/** One conv of an order-0 net's linear chain, as closedForm.ts sets it (Disentangler.linearChain). */
export interface LinearSolvePoint {
  kernel: [number, number];
  inChannels: number;
  /** The conv's output channels (the net's width). */
  width: number;
  strides: [number, number];
  /** Explicit pads before the conv ('same' when absent). */
  pads?: Pads;
  /** The target's channels (what the output conv after the last point gives). */
  outChannels: number;
  /** True for the conv before the output conv. */
  last: boolean;
  /** The tensor this conv reads, for standardised images x. */
  input(x: tf.Tensor4D): tf.Tensor4D;
  /** Sets this conv (kh × kw × inChannels × width, flat) and, for the last, the output conv (width × outChannels). */
  assign(w: { kernel: Float32Array; bias: Float32Array; outKernel?: Float32Array; outBias?: Float32Array }): void;
}

let netCounter = 0;

export class Disentangler {
  readonly spec: DisentanglerSpec;
  readonly variables: tf.Variable[];
  private readonly inputConv: Conv;
  private readonly stages: Stage[];
  private readonly outputConv: Conv;

  private constructor(spec: DisentanglerSpec, seed: number) {
    this.spec = spec;
    const [h, w, cin] = spec.inputShape;
    const [th, tw, tc] = spec.targetShape;
    const c = spec.width;
    const plan = spec.geometry ? [planAxis(spec.geometry.height, h, th), planAxis(spec.geometry.width, w, tw)] : undefined;
    const sh = plan ? plan[0].strides : stageStrides(h, th);
    const sw = plan ? plan[1].strides : stageStrides(w, tw);
    const counts = blocksPerStage(spec.order);
    const id = netCounter++;
    let seedIndex = 0;
    const variables: tf.Variable[] = [];
    const makeConv = (name: string, k: [number, number], cIn: number, cOut: number, strides: [number, number], std: number, pads?: Pads): Conv => {
      const n = k[0] * k[1] * cIn * cOut;
      const s = (Math.imul(seed >>> 0, 0x9e3779b1) + 0x85ebca6b * ++seedIndex) >>> 0;
      // A variable shares its initial tensor's data; dropping that tensor leaves the variable the only owner.
      const owned = <T extends tf.Tensor>(init: T, varName: string) => {
        const v = tf.variable(init, true, varName);
        init.dispose();
        return v;
      };
      const kernel = owned(tf.tensor4d(normal(n, std, s), [k[0], k[1], cIn, cOut]), `dis${id}_${name}_w`) as tf.Variable<tf.Rank.R4>;
      const bias = owned(tf.zeros([cOut]), `dis${id}_${name}_b`) as tf.Variable<tf.Rank.R1>;
      variables.push(kernel, bias);
      return pads ? { kernel, bias, strides, pads } : { kernel, bias, strides };
    };
    // LeCun-normal for the linear convs keeps the scale of x; block convs get He-normal shrunk by
    // 1/sqrt(l) so that a fresh deep residual stack does not blow up its output variance.
    const ik: [number, number] = plan ? [plan[0].inputKernel, plan[1].inputKernel] : [3, 3];
    this.inputConv = makeConv('in', ik, cin, c, [1, 1], Math.sqrt(1 / (ik[0] * ik[1] * cin)), plan ? [plan[0].inputPad, plan[1].inputPad] : undefined);
    const blockStd = (k: [number, number]) => Math.sqrt(2 / (k[0] * k[1] * c)) / Math.sqrt(Math.max(1, spec.order));
    this.stages = counts.map((count, i) => {
      const strides: [number, number] = [sh[i], sw[i]];
      const strided = strides[0] > 1 || strides[1] > 1;
      // With a geometry the strided convs (projection and first block) share the plan's kernel and pads, so both land on the teacher's grid.
      const pk: [number, number] = plan ? [plan[0].kernels[i], plan[1].kernels[i]] : [Math.max(3, strides[0]), Math.max(3, strides[1])];
      const pads: Pads | undefined = plan && strided ? [plan[0].pads[i], plan[1].pads[i]] : undefined;
      const projection = strided ? makeConv(`s${i}_proj`, pk, c, c, strides, Math.sqrt(1 / (pk[0] * pk[1] * c)), pads) : undefined;
      const blocks: Conv[] = [];
      for (let b = 0; b < count; b++) {
        const first = b === 0 && strided;
        const bk: [number, number] = first && plan ? pk : [3, 3];
        blocks.push(makeConv(`s${i}_b${b}`, bk, c, c, first ? strides : [1, 1], blockStd(bk), first ? pads : undefined));
      }
      return { strides, projection, blocks };
    });
    this.outputConv = makeConv('out', [1, 1], c, tc, [1, 1], Math.sqrt(1 / c));
    this.variables = variables;
  }

  /** Seeded, deterministic initialisation (independent of the backend's random generator). */
  static create(spec: DisentanglerSpec, seed: number): Disentangler {
    if (!Number.isInteger(spec.order) || spec.order < 0) throw new Error(`order must be a non-negative integer, got ${spec.order}`);
    if (!Number.isInteger(spec.width) || spec.width < 1) throw new Error(`width must be a positive integer, got ${spec.width}`);
    return new Disentangler(
      { ...spec, inputShape: [...spec.inputShape], targetShape: [...spec.targetShape], ...(spec.geometry ? { geometry: structuredClone(spec.geometry) } : {}) },
      seed,
    );
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = inputConv(x, this.inputConv);
      for (const stage of this.stages) {
        let start = 0;
        if (stage.projection) {
          const skip = conv(h, stage.projection);
          if (stage.blocks.length > 0) {
            h = tf.add(skip, conv(tf.relu(h), stage.blocks[0]));
            start = 1;
          } else {
            h = skip;
          }
        }
        for (let b = start; b < stage.blocks.length; b++) h = tf.add(h, conv(tf.relu(h), stage.blocks[b]));
      }
      return conv(h, this.outputConv);
    });
  }

  /**
   * The linear chain of an order-0 net, for its closed form (closedForm.ts): the input conv, then
   * each stage's projection, in order. Each point reads what the earlier convs compute with their
   * current weights, so setting them one after the other builds the net layer by layer; the last
   * point's setter also sets the output conv. Undefined for a net with blocks (not linear).
   */
  linearChain(): LinearSolvePoint[] | undefined {
    if (this.spec.order !== 0) return undefined;
    const convs = [this.inputConv, ...this.stages.filter((st) => st.projection).map((st) => st.projection!)];
    return convs.map((target, idx) => {
      const input = (x: tf.Tensor4D): tf.Tensor4D =>
        tf.tidy(() => {
          if (idx === 0) return tf.clone(x);
          let h = inputConv(x, this.inputConv);
          for (const c of convs.slice(1, idx)) h = conv(h, c);
          return h;
        });
      const [kh, kw, cIn, cOut] = target.kernel.shape;
      const last = idx === convs.length - 1;
      return {
        kernel: [kh, kw] as [number, number],
        inChannels: cIn,
        width: cOut,
        strides: target.strides,
        pads: target.pads,
        outChannels: this.spec.targetShape[2],
        last,
        input,
        assign: (w: { kernel: Float32Array; bias: Float32Array; outKernel?: Float32Array; outBias?: Float32Array }) => {
          tf.tidy(() => {
            target.kernel.assign(tf.tensor4d(w.kernel, [kh, kw, cIn, cOut]));
            target.bias.assign(tf.tensor1d(w.bias));
            if (w.outKernel && w.outBias) {
              this.outputConv.kernel.assign(tf.tensor4d(w.outKernel, [1, 1, cOut, this.spec.targetShape[2]]));
              this.outputConv.bias.assign(tf.tensor1d(w.outBias));
            }
          });
        },
      };
    });
  }

  /** A copy of every weight, to go back to with `restore`. */
  snapshot(): tf.Tensor[] {
    return this.variables.map((v) => tf.clone(v));
  }

  /** Puts back the weights of a snapshot (and keeps the snapshot's tensors alive for the caller to dispose). */
  restore(snap: tf.Tensor[]): void {
    this.variables.forEach((v, i) => v.assign(snap[i]));
  }

  /**
   * Starts from the previous (lower) order's weights. Shared convs are copied and the blocks this
   * order adds get zero weights and bias, so each new block is the identity and the net starts as
   * exactly the previous order's function: training then only has to learn what the extra
   * nonlinear layers add, and the component c⁽ˡ⁾ = Φ⁽ˡ⁾ − Φ⁽ˡ'⁾ starts at zero instead of at the
   * difference of two unrelated random fits. The zero conv still gets a gradient (ReLU(h) ≠ 0),
   * so the new blocks do train.
   */
  warmStartFrom(prev: Disentangler): void {
    const a = prev.spec;
    const b = this.spec;
    if (
      a.width !== b.width ||
      a.inputShape.join() !== b.inputShape.join() ||
      a.targetShape.join() !== b.targetShape.join() ||
      JSON.stringify(a.geometry) !== JSON.stringify(b.geometry)
    ) {
      throw new Error('warm start needs the same width, input shape, target shape and geometry');
    }
    if (a.order > b.order) throw new Error(`cannot warm-start order ${b.order} from the higher order ${a.order}`);
    tf.tidy(() => {
      copyConv(this.inputConv, prev.inputConv);
      copyConv(this.outputConv, prev.outputConv);
      this.stages.forEach((stage, i) => {
        const old = prev.stages[i];
        if (stage.projection && old.projection) copyConv(stage.projection, old.projection);
        stage.blocks.forEach((block, j) => {
          if (j < old.blocks.length) {
            copyConv(block, old.blocks[j]);
          } else {
            block.kernel.assign(tf.zerosLike(block.kernel));
            block.bias.assign(tf.zerosLike(block.bias));
          }
        });
      });
    });
  }

  /**
   * This net as tfjs-layers layers applied to `input`, with its current weights copied: the same
   * convs, strides, 'same' padding, ReLUs and residual sums, so the result computes `apply`'s
   * function and can be saved and loaded as an ordinary TF.js layers model (the distilled student
   * of distill.ts is one). Layer names start with `prefix`; the output conv is `outputName`.
   * Each ReLU is its own layer (`…_relu`), so a model built from it has exactly `order` of them.
   */
  toLayers(input: tfl.SymbolicTensor, prefix: string, outputName = `${prefix}out`): tfl.SymbolicTensor {
    type T = tfl.SymbolicTensor;
    const layer = (c: Conv, name: string, h: T): T => {
      const [kh, kw, , filters] = c.kernel.shape;
      const l = tfl.layers.conv2d({
        filters,
        kernelSize: [kh, kw],
        strides: c.strides,
        padding: c.pads ? 'valid' : 'same',
        useBias: true,
        activation: 'linear',
        name,
      });
      let x = h;
      if (c.pads) {
        // Explicit pads as layers: zeros where positive, a crop where negative.
        const [[t, b], [lf, r]] = c.pads;
        const pos = (v: number) => Math.max(0, v);
        if (t > 0 || b > 0 || lf > 0 || r > 0)
          x = tfl.layers
            .zeroPadding2d({
              padding: [
                [pos(t), pos(b)],
                [pos(lf), pos(r)],
              ],
              name: `${name}_pad`,
            })
            .apply(x) as T;
        if (t < 0 || b < 0 || lf < 0 || r < 0)
          x = tfl.layers
            .cropping2D({
              cropping: [
                [pos(-t), pos(-b)],
                [pos(-lf), pos(-r)],
              ],
              name: `${name}_crop`,
            })
            .apply(x) as T;
      }
      const out = l.apply(x) as T;
      l.setWeights([c.kernel, c.bias]);
      return out;
    };
    const relu = (h: T, name: string): T => tfl.layers.reLU({ name }).apply(h) as T;
    const add = (a: T, b: T, name: string): T => tfl.layers.add({ name }).apply([a, b]) as T;
    let h = layer(this.inputConv, `${prefix}in`, input);
    this.stages.forEach((stage, i) => {
      let start = 0;
      if (stage.projection) {
        const skip = layer(stage.projection, `${prefix}s${i}_proj`, h);
        if (stage.blocks.length > 0) {
          h = add(skip, layer(stage.blocks[0], `${prefix}s${i}_b0`, relu(h, `${prefix}s${i}_b0_relu`)), `${prefix}s${i}_b0_add`);
          start = 1;
        } else {
          h = skip;
        }
      }
      for (let b = start; b < stage.blocks.length; b++)
        h = add(h, layer(stage.blocks[b], `${prefix}s${i}_b${b}`, relu(h, `${prefix}s${i}_b${b}_relu`)), `${prefix}s${i}_b${b}_add`);
    });
    return layer(this.outputConv, outputName, h);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** Pads (zeros) or crops (negative pads) the spatial axes of a NHWC tensor. */
export function padOrCrop(h: tf.Tensor4D, pads: Pads): tf.Tensor4D {
  const [[t, b], [l, r]] = pads;
  let out = h;
  if (t > 0 || b > 0 || l > 0 || r > 0)
    out = tf.pad(out, [
      [0, 0],
      [Math.max(0, t), Math.max(0, b)],
      [Math.max(0, l), Math.max(0, r)],
      [0, 0],
    ]);
  if (t < 0 || b < 0 || l < 0 || r < 0) {
    const [, hh, ww, cc] = out.shape;
    const top = Math.max(0, -t);
    const left = Math.max(0, -l);
    out = tf.slice(out, [0, top, left, 0], [-1, hh - top - Math.max(0, -b), ww - left - Math.max(0, -r), cc]);
  }
  return out;
}

function conv(h: tf.Tensor4D, c: Conv): tf.Tensor4D {
  if (c.pads) return tf.fused.conv2d({ x: padOrCrop(h, c.pads), filter: c.kernel, bias: c.bias, strides: c.strides, pad: 'valid' });
  return tf.fused.conv2d({ x: h, filter: c.kernel, bias: c.bias, strides: c.strides, pad: 'same' });
}

/**
 * The input conv stays unfused: the fused op's gradient also computes the gradient for its input,
 * which for the image is never needed (a full backprop-input conv per step for nothing).
 */
function inputConv(x: tf.Tensor4D, c: Conv): tf.Tensor4D {
  if (c.pads) return tf.add(tf.conv2d(padOrCrop(x, c.pads), c.kernel, c.strides, 'valid'), c.bias);
  return tf.add(tf.conv2d(x, c.kernel, c.strides, 'same'), c.bias);
}

function copyConv(dst: Conv, src: Conv): void {
  dst.kernel.assign(src.kernel);
  dst.bias.assign(src.bias);
}

/** The training loss: MSE(net(x) + offset, y), the mean over every element of the batch. */
export function squaredError(net: Disentangler, x: tf.Tensor4D, y: tf.Tensor4D, offset?: tf.Variable): tf.Scalar {
  const p = offset ? tf.add(net.apply(x), offset) : net.apply(x);
  return tf.mean(tf.squaredDifference(p, y)) as tf.Scalar;
}

/**
 * One Adam step of MSE(net(x) + offset, y); returns the loss (read asynchronously). `offset`: a
 * per-position output offset [1, h, w, c] trained with the net (train.ts), so that the mean at
 * each position costs the shift-invariant net nothing.
 */
export async function trainStep(net: Disentangler, optimizer: tf.Optimizer, x: tf.Tensor4D, y: tf.Tensor4D, offset?: tf.Variable): Promise<number> {
  const vars = offset ? [...net.variables, offset] : net.variables;
  const loss = optimizer.minimize(() => squaredError(net, x, y, offset), true, vars);
  if (!loss) throw new Error('optimizer returned no loss');
  try {
    return (await loss.data())[0];
  } finally {
    loss.dispose();
  }
}
