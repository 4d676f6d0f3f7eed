/**
 * The fused Adam update (kernels/adam.ts's `FeatureComplexityAdamUpdate`) on the webgpu backend.
 *
 * tf.train.adam updates each variable with ~12 element-wise kernels (mul, add, square, div, sqrt,
 * …), each a dispatch with its own output buffer and uniform upload; here one WGSL dispatch reads
 * the variable, both moments and the gradient and writes the three new tensors. The op order is
 * the stock optimizer's, in float32; GPU division and square root are not correctly rounded
 * (WGSL allows 2.5 ULP), so the weights agree with tf.train.adam on the cpu backend to float
 * tolerance, not bit for bit.
 *
 * FusedAdam (kernels/adam.ts) drives it: it calls the kernel once per variable, and reads the
 * bias-correction accumulators with dataSync(), which works here because it only ever assigns
 * them CPU-side scalars (never uploaded to the GPU).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, type AdamUpdateAttrs } from '../adam';
import { dispatch, internals, pipeline, workgroups1d } from './util';

type TensorInfo = tf.TensorInfo;

const WORKGROUP = 256;

const SHADER = `
struct Params { b1: f32, b2: f32, ob1: f32, ob2: f32, eps: f32, negLr: f32, c1: f32, c2: f32, n: u32 };
@group(0) @binding(0) var<storage, read_write> xOut: array<f32>;
@group(0) @binding(1) var<storage, read_write> mOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> vOut: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> m: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read> g: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * ${WORKGROUP}u + li;
  if (i >= p.n) { return; }
  let gi = g[i];
  // add(mul(m, β1), mul(g, 1 − β1)); add(mul(v, β2), mul(square(g), 1 − β2))
  let mi = m[i] * p.b1 + gi * p.ob1;
  let vi = v[i] * p.b2 + (gi * gi) * p.ob2;
  mOut[i] = mi;
  vOut[i] = vi;
  // add(mul(div(m / c1, add(sqrt(v / c2), ε)), −lr), value)
  let den = sqrt(vi / p.c2) + p.eps;
  xOut[i] = ((mi / p.c1) / den) * p.negLr + x[i];
}`;

function adamUpdate(args: {
  inputs: { value: TensorInfo; m: TensorInfo; v: TensorInfo; grad: TensorInfo };
  backend: unknown;
  attrs: AdamUpdateAttrs;
}): TensorInfo[] {
  const { inputs, attrs } = args;
  const b = internals(args.backend);
  const { value, m, v, grad } = inputs;
  for (const t of [value, m, v, grad]) {
    if (t.dtype !== 'float32') throw new Error(`${ADAM_UPDATE} needs float32 tensors, got ${t.dtype}`);
  }
  const n = tf.util.sizeFromShape(value.shape);
  const outs = [0, 1, 2].map(() => b.makeTensorInfo(value.shape, 'float32'));
  if (n === 0) return outs;
  const f = Math.fround;
  const params = [attrs.beta1, attrs.beta2, 1 - attrs.beta1, 1 - attrs.beta2, attrs.epsilon, -attrs.learningRate, attrs.correction1, attrs.correction2].map(
    (x) => ({ type: 'float32' as const, data: [f(x)] }),
  );
  const pipe = pipeline(b.device, ADAM_UPDATE, () => SHADER);
  const [gx, gy] = workgroups1d(b.device, Math.ceil(n / WORKGROUP));
  dispatch(b, pipe, outs, [value, m, v, grad], [...params, { type: 'uint32', data: [n] }], [gx, gy]);
  return outs;
}

let registered = false;

/** Registers the fused update for 'webgpu'. Idempotent. */
export function registerWebgpuAdamKernel(): void {
  if (registered) return;
  if (!tf.getKernel(ADAM_UPDATE, 'webgpu'))
    tf.registerKernel({ kernelName: ADAM_UPDATE, backendName: 'webgpu', kernelFunc: adamUpdate as unknown as tf.KernelFunc });
  registered = true;
}
