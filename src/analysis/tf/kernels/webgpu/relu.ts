/**
 * The ReLU gradient on the webgpu backend as one dispatch: dx = dy · [x > 0].
 *
 * tfjs's gradient of Relu is mul(dy, cast(step(x))): two dispatches and an intermediate tensor
 * of the activation's size, once per residual block. The gradient is registered globally in
 * tfjs; on every backend but webgpu (and for non-float32 tensors) it runs tfjs's own gradient
 * function unchanged. One difference on webgpu: where x is NaN tfjs gives NaN, this gives 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dispatch, internals, pipeline, workgroups1d } from './util';

type TensorInfo = tf.TensorInfo;

export const RELU_GRAD = 'FeatureComplexityReluGrad';

const SHADER = `
struct Params { n: i32 };
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = i32((wg.x + wg.y * nwg.x) * 256u + li);
  if (i >= p.n) { return; }
  dx[i] = dy[i] * select(0.0, 1.0, x[i] > 0.0);
}`;

function reluGrad(args: { inputs: { dy: TensorInfo; x: TensorInfo }; backend: unknown }): TensorInfo {
  const { dy, x } = args.inputs;
  const b = internals(args.backend);
  const out = b.makeTensorInfo(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n === 0) return out;
  const [gx, gy] = workgroups1d(b.device, Math.ceil(n / 256));
  dispatch(
    b,
    pipeline(b.device, RELU_GRAD, () => SHADER),
    [out],
    [dy, x],
    [{ type: 'int32', data: [n] }],
    [gx, gy],
  );
  return out;
}

let registered = false;

/** Registers the kernel for 'webgpu' and routes Relu's gradient to it there. Idempotent. */
export function registerWebgpuReluGrad(): void {
  if (registered) return;
  tf.registerKernel({ kernelName: RELU_GRAD, backendName: 'webgpu', kernelFunc: reluGrad as unknown as tf.KernelFunc });
  const stock = tf.getGradient('Relu');
  if (!stock) throw new Error('tfjs has no gradient for Relu (is register_all_gradients imported?)');
  tf.unregisterGradient('Relu');
  tf.registerGradient({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      if (tf.getBackend() !== 'webgpu' || d.dtype !== 'float32' || x.dtype !== 'float32' || d.shape.join() !== x.shape.join())
        return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: d, x }) as tf.Tensor };
    },
  });
  registered = true;
}
