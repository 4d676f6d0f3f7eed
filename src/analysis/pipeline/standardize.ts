/**
 * What the disentanglers are trained on: standardised images and features (the affine maps of
 * `Standardizer`), and the net's prediction on raw images through them. A module of its own
 * because the training threads (trainWorker.ts) predict with it too.
 */
import { tf } from '../tf/backend';
import type { Disentangler } from './disentangler';

/**
 * The disentanglers see standardised data: x per input channel to zero mean and unit variance,
 * f shifted by its per-dimension mean and divided by one global scale. Both are affine, so they
 * change no ρ (variances of differences, ratios to Var[f]); they only make Adam's job well
 * conditioned (raw pixels in [0, 1] have a mean larger than their spread, which slows the linear
 * order l = 0 by orders of magnitude). Φ is reported in f's own units through `toFeature`.
 */
export interface Standardizer {
  inMean: Float32Array;
  inStd: Float32Array;
  outMean: Float32Array;
  outScale: number;
}

export function standardInput(x: tf.Tensor4D, s: Standardizer): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(s.inMean)), tf.tensor1d(s.inStd)));
}

export function standardTarget(y: tf.Tensor4D, s: Standardizer): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, c] = y.shape;
    return tf.div(tf.sub(y, tf.tensor4d(s.outMean, [1, h, w, c])), s.outScale);
  });
}

/** The net's standardised output in f's units. */
export function unscaleOutput(y: tf.Tensor4D, std: Standardizer): tf.Tensor4D {
  const [, h, w, c] = y.shape;
  return tf.tidy(() => tf.add(tf.mul(y, std.outScale), tf.tensor4d(std.outMean, [1, h, w, c])));
}

/**
 * net(standardised x) for raw images x given flat ([n, H, W, C] in `shape`), in batches of `batch`
 * on this thread, unscaled into f's units when `unscale`; a fresh flat array (transferable).
 */
export async function predictStandardised(
  net: Disentangler,
  x: Float32Array,
  shape: [number, number, number, number],
  std: Standardizer,
  unscale: boolean,
  batch: number,
): Promise<Float32Array> {
  const [n, h, w, c] = shape;
  const size = h * w * c;
  let out: Float32Array | undefined;
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const y = tf.tidy(() => {
      const p = net.apply(standardInput(tf.tensor4d(x.subarray(s * size, (s + m) * size), [m, h, w, c]), std));
      return unscale ? unscaleOutput(p, std) : p;
    });
    const data = (await y.data()) as Float32Array;
    y.dispose();
    out ??= new Float32Array((n * data.length) / m);
    out.set(data, (s * data.length) / m);
  }
  return out ?? new Float32Array(0);
}
