/**
 * Visualisation data (METHOD.md §4, paper Fig. 3): for the most activated channel of f, the maps
 * of f, of Φ⁽ˡ⁾ and of each component c⁽ˡ⁾ for a few samples, as small H×W arrays.
 */

/** Channel with the largest mean activation over the samples; `features` is n × (H·W·C), channels last. */
export function mostActivatedChannel(features: Float32Array, n: number, channels: number): number {
  if (n < 1 || channels < 1 || features.length % channels !== 0)
    throw new RangeError(`cannot take channels of ${features.length} values as ${channels} channels`);
  const sum = new Float64Array(channels);
  for (let i = 0; i < features.length; i++) sum[i % channels] += features[i];
  let best = 0;
  for (let c = 1; c < channels; c++) if (sum[c] > sum[best]) best = c;
  return best;
}

/** Rounds to `digits` decimals (the result file stays small; −0 becomes 0). */
export function round(x: number, digits = 4): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p + 0;
}

/** Channel `channel` of sample `i` of a flat n × (H·W·C) array, as H rows of W numbers. */
export function channelMap(data: Float32Array, i: number, shape: readonly [number, number, number], channel: number, digits = 4): number[][] {
  const [h, w, c] = shape;
  const base = i * h * w * c;
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => round(data[base + (y * w + x) * c + channel], digits)));
}

export interface VisualizationSample {
  index: number;
  label: number;
  f: number[][];
  phi: Record<string, number[][]>;
  components: Record<string, number[][]>;
}

export interface VisualizationInput {
  orders: readonly number[];
  /** f on the samples, flat n × (H·W·C). */
  features: Float32Array;
  /** Φ⁽ˡ⁾ per order on the same samples, flat. */
  phis: Float32Array[];
  featureShape: readonly [number, number, number];
  /** Dataset index and label of each row. */
  indices: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** Rows shown (default 4). */
  samples?: number;
}

/** The most activated channel (over all given rows) and its maps for the first `samples` rows. */
export function visualization(input: VisualizationInput): { channel: number; samples: VisualizationSample[] } {
  const { orders, features, phis, featureShape, indices, labels } = input;
  const n = indices.length;
  const channel = mostActivatedChannel(features, n, featureShape[2]);
  const shown = Math.min(n, input.samples ?? 4);
  const samples: VisualizationSample[] = [];
  for (let i = 0; i < shown; i++) {
    const phi: Record<string, number[][]> = {};
    const components: Record<string, number[][]> = {};
    orders.forEach((order, k) => {
      const cur = channelMap(phis[k], i, featureShape, channel, 12);
      const prev = k > 0 ? channelMap(phis[k - 1], i, featureShape, channel, 12) : undefined;
      phi[String(order)] = cur.map((row) => row.map((v) => round(v)));
      // c⁽ˡ⁾ from the unrounded maps, so that f = Σ c + Δf holds to the rounding of each number.
      components[String(order)] = cur.map((row, y) => row.map((v, x) => round(prev ? v - prev[y][x] : v)));
    });
    samples.push({ index: indices[i], label: labels[i], f: channelMap(features, i, featureShape, channel), phi, components });
  }
  return { channel, samples };
}
