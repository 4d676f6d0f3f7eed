/**
 * Known-answer cases for reliability (METHOD.md §3): K linear "networks" built from a shared
 * latent and private latents, with a trace ε of the target's private latent in each exemplar
 * (a cross-loading), so the true reliable share of the target's feature is known.
 */
import { Matrix } from 'ml-matrix';
import { tf } from '../../../src/analysis/tf/backend';
import { mulberry32 } from '../../../src/analysis/util/random';

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function randomMatrix(r: number, c: number, g: () => number): Matrix {
  return new Matrix(Array.from({ length: r }, () => Array.from({ length: c }, g)));
}

/** Latent rows [positions, d] → tensor [N, S, S, d]. */
export function toTensor(m: Matrix, N: number, S: number): tf.Tensor {
  return tf.tensor(m.to1DArray(), [N, S, S, m.columns]);
}

export interface KnownCase {
  /** The target's feature f_1, then the exemplars' f_2, f_3. */
  fks: tf.Tensor[];
  /** A shared disentangler output: the target's own feature ('target') or an invertible mix of every latent ('joint'). */
  h: tf.Tensor;
  /** The part of f_1 that comes from the shared latent. */
  shared: tf.Tensor;
  /** Var[shared] / Var[f_1]: the true reliable share. */
  truth: number;
}

export interface KnownCaseOptions {
  /** Positions = samples × 4 × 4. */
  positions: number;
  /** The trace of the target's private latent in each exemplar. */
  crossLoading: number;
  /** The networks (every loading). */
  seed: number;
  /** The samples (latents and noise); default `seed`. */
  sampleSeed?: number;
  /** What the shared disentangler outputs. */
  h: 'target' | 'joint';
}

/**
 * The target f_1 = s W_s + p W_p + 0.05 n (8 channels): s (3 dims) shared, p (3 dims) private.
 * Exemplar k (10 channels): f_k = s G_k + ε p H_k + q_k Q_k + 0.3 n_k, its own private latent
 * q_k and its own noise, as a trained network has. A trace ε well below the exemplar's own
 * noise does not make p shared: no network other than the target reproduces it.
 */
export function knownCase(o: KnownCaseOptions): KnownCase {
  // Loadings from `seed`, samples (latents and noise) from `sampleSeed`: two cases with the same
  // seed are the same networks on different samples.
  const w = gaussian(mulberry32(o.seed));
  const g = gaussian(mulberry32(1_000_003 * (o.sampleSeed ?? o.seed) + 17));
  const S = 4;
  const N = Math.max(1, Math.round(o.positions / (S * S)));
  const M = N * S * S;
  // The private part's weight varies with the seed, so the true share does too.
  const privateScale = 0.7 + 0.6 * mulberry32(o.seed + 1000)();
  const [ws, wp] = [randomMatrix(3, 8, w), randomMatrix(3, 8, w).mul(privateScale)];
  const loadings = [0, 1].map(() => ({ s: randomMatrix(3, 10, w), p: randomMatrix(3, 10, w).mul(o.crossLoading), q: randomMatrix(3, 10, w) }));
  const mix = randomMatrix(12, 12, w);
  const s = randomMatrix(M, 3, g);
  const p = randomMatrix(M, 3, g);
  const sharedPart = s.mmul(ws);
  const f1 = sharedPart
    .clone()
    .add(p.mmul(wp))
    .add(randomMatrix(M, 8, () => 0.05 * g()));
  const qs = loadings.map(() => randomMatrix(M, 3, g));
  const exemplars = loadings.map((l, k) =>
    s
      .mmul(l.s)
      .add(p.mmul(l.p))
      .add(qs[k].mmul(l.q))
      .add(randomMatrix(M, 10, () => 0.3 * g())),
  );
  let h = f1;
  if (o.h === 'joint') {
    const latents = new Matrix(M, 12);
    [s, p, ...qs].forEach((z, i) => latents.setSubMatrix(z, 0, 3 * i));
    h = latents.mmul(mix).add(randomMatrix(M, 12, () => 0.01 * g()));
  }
  const variance = (m: Matrix) => {
    const c = m.clone().subRowVector(m.mean('column'));
    return c.clone().mul(c).sum() / m.rows;
  };
  return {
    fks: [f1, ...exemplars].map((m) => toTensor(m, N, S)),
    h: toTensor(h, N, S),
    shared: toTensor(sharedPart, N, S),
    truth: variance(sharedPart) / variance(f1),
  };
}
