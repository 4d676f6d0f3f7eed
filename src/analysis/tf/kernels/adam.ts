/**
 * Adam with one kernel per variable on the wasm backend.
 *
 * tfjs's AdamOptimizer updates each variable with ~12 element-wise ops (mul, add, square, div,
 * sqrt, …), each a separate kernel call with its own output buffer and engine bookkeeping; for a
 * deep narrow net (72 variables, most of them small) that is ~900 kernel calls per step. Here one
 * loop on the wasm heap computes the new value and both moments of a variable: the engine's wasm
 * module's `adam` (wasm/winograd-wat.ts), 4 floats at a time, or, where that module does not
 * instantiate, the same loop in JS.
 *
 * Both reproduce the stock op sequence in float32, rounding after every operation as each
 * separate kernel does (wasm's f32 operations are IEEE single precision; in JS Math.fround, as a
 * float64 result of +, −, ×, ÷ or √ of float32 operands rounds to the correctly rounded float32
 * result), so the weights are bit-identical to tf.train.adam's. On other backends the stock
 * update runs unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmAdam } from './wasm/winograd';

type TensorInfo = tf.TensorInfo;

export const ADAM_UPDATE = 'FeatureComplexityAdamUpdate';

/** Attributes of the Adam update kernel, the same on every backend that registers it. */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** 1 − β1ᵗ and 1 − β2ᵗ, as the stock optimizer computes them (float32). */
  correction1: number;
  correction2: number;
}

const f = Math.fround;

/** Outputs [value, m, v] after one Adam update of `value` with gradient `grad`. */
function adamUpdate(args: {
  inputs: { value: TensorInfo; m: TensorInfo; v: TensorInfo; grad: TensorInfo };
  backend: BackendWasm;
  attrs: AdamUpdateAttrs;
}): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { value, m, v, grad } = inputs;
  for (const t of [value, m, v, grad]) {
    if (t.dtype !== 'float32') throw new Error(`${ADAM_UPDATE} needs float32 tensors, got ${t.dtype}`);
  }
  const outValue = backend.makeOutput(value.shape, 'float32');
  const outM = backend.makeOutput(value.shape, 'float32');
  const outV = backend.makeOutput(value.shape, 'float32');
  // Views are taken after the allocations: growing the wasm memory detaches older views.
  const x = backend.typedArrayFromHeap(value) as Float32Array;
  const m0 = backend.typedArrayFromHeap(m) as Float32Array;
  const v0 = backend.typedArrayFromHeap(v) as Float32Array;
  const g = backend.typedArrayFromHeap(grad) as Float32Array;
  const x1 = backend.typedArrayFromHeap(outValue) as Float32Array;
  const m1 = backend.typedArrayFromHeap(outM) as Float32Array;
  const v1 = backend.typedArrayFromHeap(outV) as Float32Array;
  const b1 = f(attrs.beta1);
  const b2 = f(attrs.beta2);
  const ob1 = f(1 - attrs.beta1);
  const ob2 = f(1 - attrs.beta2);
  const eps = f(attrs.epsilon);
  const negLr = f(-attrs.learningRate);
  const c1 = f(attrs.correction1);
  const c2 = f(attrs.correction2);
  const simd = wasmAdam(backend);
  if (simd) {
    // The same operations, 4 floats at a time, on the backend's memory.
    simd(x.byteOffset, m0.byteOffset, v0.byteOffset, g.byteOffset, x1.byteOffset, m1.byteOffset, v1.byteOffset, x.length, b1, b2, ob1, ob2, eps, negLr, c1, c2);
    return [outValue, outM, outV];
  }
  for (let i = 0; i < x.length; i++) {
    const gi = g[i];
    // add(mul(m, β1), mul(g, 1 − β1)); add(mul(v, β2), mul(square(g), 1 − β2))
    const mi = f(f(m0[i] * b1) + f(gi * ob1));
    const vi = f(f(v0[i] * b2) + f(f(gi * gi) * ob2));
    m1[i] = mi;
    v1[i] = vi;
    // add(mul(div(m / c1, add(sqrt(v / c2), ε)), −lr), value)
    const den = f(f(Math.sqrt(f(vi / c2))) + eps);
    x1[i] = f(f(f(f(mi / c1) / den) * negLr) + x[i]);
  }
  return [outValue, outM, outV];
}

let registered = false;

/** Registers the fused update for 'wasm'. Idempotent. */
export function registerWasmAdamKernel(): void {
  if (registered) return;
  if (!tf.getKernel(ADAM_UPDATE, 'wasm'))
    tf.registerKernel({ kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc: adamUpdate as unknown as tf.KernelFunc });
  registered = true;
}

/** The stock optimizer's private state this class shares (so dispose, getWeights, setWeights keep working). */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

/** tf.train.adam with the fused update where the backend has it; same state, same numbers. */
export class FusedAdam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1: number, beta2: number, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
    // Registering for 'wasm' needs no wasm backend yet; the update runs only when it is active.
    registerWasmAdamKernel();
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!tf.getKernel(ADAM_UPDATE, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    // Two scalars read from memory the wasm backend owns: no device round trip.
    const acc1 = state.accBeta1.dataSync()[0];
    const acc2 = state.accBeta2.dataSync()[0];
    const attrs: AdamUpdateAttrs = {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      learningRate: this.learningRate,
      correction1: f(1 - acc1),
      correction2: f(1 - acc2),
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (state.accumulatedFirstMoment[i] == null) {
          state.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (state.accumulatedSecondMoment[i] == null) {
          state.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const grad = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (grad == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        const [newValue, newM, newV] = tf.engine().runKernel(ADAM_UPDATE, { value, m, v, grad }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      state.accBeta1.assign(tf.scalar(f(acc1 * f(this.beta1))));
      state.accBeta2.assign(tf.scalar(f(acc2 * f(this.beta2))));
    });
    this.incrementIterations();
  }
}

/** Drop-in for tf.train.adam (same defaults: β1 0.9, β2 0.999, ε from the backend). */
export function adam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new FusedAdam(learningRate, beta1, beta2, epsilon);
}
