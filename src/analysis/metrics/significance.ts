/**
 * Significance of the components (METHOD.md §1): c⁽ˡ⁾ = Φ⁽ˡ⁾ − Φ⁽ˡ'⁾ (the first order's component
 * is Φ⁽ˡ⁰⁾ itself), residue Δf = f − Φ⁽ᴸ⁾, Var[z] = E‖z − E z‖² summed over the feature's
 * dimensions, ρ = Var[c] / Var[f]. Accumulated in float64 over batches so that any number of
 * samples can be streamed through.
 */

export interface ComponentSignificance {
  order: number;
  variance: number;
  rho: number;
}

export interface Significance {
  samples: number;
  featureVariance: number;
  components: ComponentSignificance[];
  residue: { variance: number; rho: number };
}

/** Running per-dimension sums of z and z² for Var[z] = Σ_d (E z_d² − (E z_d)²). */
class MomentSum {
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  constructor(dim: number) {
    this.sum = new Float64Array(dim);
    this.sumSq = new Float64Array(dim);
  }
  add(z: ArrayLike<number>, offset: number): void {
    const s = this.sum;
    const q = this.sumSq;
    for (let d = 0; d < s.length; d++) {
      const v = z[offset + d];
      s[d] += v;
      q[d] += v * v;
    }
  }
  variance(n: number): number {
    let total = 0;
    for (let d = 0; d < this.sum.length; d++) {
      const m = this.sum[d] / n;
      total += Math.max(0, this.sumSq[d] / n - m * m);
    }
    return total;
  }
}

/** Var[z] of `n` samples of `dim` numbers each, row-major. */
export function variance(z: ArrayLike<number>, n: number, dim: number): number {
  // Two passes: exact enough for tests that compare against closed forms.
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += z[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const e = z[i * dim + d] - mean[d];
      total += e * e;
    }
  }
  return total / n;
}

/**
 * The components and the residue of one batch: `phis[k]` is Φ at `orders[k]` (n × dim each,
 * orders ascending). Returns c for each order and Δf; they sum to f exactly (up to rounding).
 */
export function components(f: Float32Array, phis: Float32Array[]): { components: Float32Array[]; residue: Float32Array } {
  const comps = phis.map((phi, k) => {
    if (phi.length !== f.length) throw new Error(`Φ of order index ${k} has ${phi.length} numbers, f has ${f.length}`);
    if (k === 0) return Float32Array.from(phi);
    const prev = phis[k - 1];
    const c = new Float32Array(phi.length);
    for (let i = 0; i < c.length; i++) c[i] = phi[i] - prev[i];
    return c;
  });
  const last = phis[phis.length - 1];
  const residue = new Float32Array(f.length);
  for (let i = 0; i < f.length; i++) residue[i] = f[i] - (last ? last[i] : 0);
  return { components: comps, residue };
}

/** Streams batches of (f, Φ⁽ˡ⁾ for every order) into the variances of f, each c⁽ˡ⁾ and Δf. */
export class SignificanceAccumulator {
  private readonly f: MomentSum;
  private readonly comps: MomentSum[];
  private readonly res: MomentSum;
  private n = 0;

  constructor(
    readonly orders: number[],
    readonly dim: number,
  ) {
    this.f = new MomentSum(dim);
    this.comps = orders.map(() => new MomentSum(dim));
    this.res = new MomentSum(dim);
  }

  /** One batch: `f` and each `phis[k]` hold `n × dim` numbers, row-major. */
  add(f: Float32Array, phis: Float32Array[]): void {
    if (phis.length !== this.orders.length) throw new Error(`expected Φ for ${this.orders.length} orders, got ${phis.length}`);
    const n = f.length / this.dim;
    const { components: c, residue } = components(f, phis);
    for (let i = 0; i < n; i++) {
      const o = i * this.dim;
      this.f.add(f, o);
      c.forEach((ck, k) => this.comps[k].add(ck, o));
      this.res.add(residue, o);
    }
    this.n += n;
  }

  result(): Significance {
    const n = this.n;
    if (n < 2) throw new Error('significance needs at least two samples');
    const featureVariance = this.f.variance(n);
    const rho = (v: number) => (featureVariance > 0 ? v / featureVariance : 0);
    const components = this.orders.map((order, k) => {
      const v = this.comps[k].variance(n);
      return { order, variance: v, rho: rho(v) };
    });
    const rv = this.res.variance(n);
    return { samples: n, featureVariance, components, residue: { variance: rv, rho: rho(rv) } };
  }
}
