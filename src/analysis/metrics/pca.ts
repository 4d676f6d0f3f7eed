/**
 * Principal components of the models' feature-complexity vectors (METHOD.md §5): a 2-d map of
 * the models, and the regressor restricted to that plane.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import type { LinearModel, PcaPlane } from '../../shared/files/prediction';

export type { PcaPlane };

export interface Pca {
  /** Column means that were subtracted. */
  mean: number[];
  /** Unit principal directions, one row per component, largest variance first. */
  components: number[][];
  /** Coordinates of every input row in the component space. */
  scores: number[][];
  /** Variance (over m − 1) along each kept component. */
  explainedVariance: number[];
  /** Share of the total variance along each kept component. */
  explainedVarianceRatio: number[];
}

/** PCA by the SVD of the centred data; each direction's sign is fixed so its largest loading is positive. */
export function pca(x: readonly (readonly number[])[], k = 2): Pca {
  const m = x.length;
  if (m < 2) throw new RangeError(`PCA needs at least 2 points, got ${m}`);
  const p = x[0].length;
  if (x.some((row) => row.length !== p)) throw new RangeError('rows of different lengths');
  const keep = Math.min(k, p);
  const xm = new Matrix(x as number[][]);
  const mean = xm.mean('column');
  const xc = xm.clone().subRowVector(mean);
  const svd = new SingularValueDecomposition(xc, { autoTranspose: true });
  const singular = svd.diagonal;
  const v = svd.rightSingularVectors;
  const total = singular.reduce((s, d) => s + d * d, 0);
  const components: number[][] = [];
  for (let j = 0; j < keep; j++) {
    const dir = j < v.columns ? v.getColumn(j) : new Array(p).fill(0);
    const big = dir.reduce((b, d) => (Math.abs(d) > Math.abs(b) ? d : b), 0);
    components.push(big < 0 ? dir.map((d) => -d) : dir);
  }
  const scores = xc.to2DArray().map((row) => components.map((c) => c.reduce((s, cj, i) => s + cj * row[i], 0)));
  const variance = components.map((_, j) => (j < singular.length ? singular[j] ** 2 / (m - 1) : 0));
  return {
    mean,
    components,
    scores,
    explainedVariance: variance,
    explainedVarianceRatio: components.map((_, j) => (total > 0 && j < singular.length ? singular[j] ** 2 / total : 0)),
  };
}

/** x = mean + Σ_j z_j v_j, so ŷ = b + w·mean + Σ_j (w·v_j) z_j. */
export function regressionPlaneInPca(model: LinearModel, p: Pca): PcaPlane {
  const w = model.coefficients;
  if (w.length !== p.mean.length) throw new RangeError(`the model takes ${w.length} features, the PCA has ${p.mean.length}`);
  const dot = (a: readonly number[]) => a.reduce((s, ai, i) => s + ai * w[i], 0);
  return { intercept: model.intercept + dot(p.mean), slopes: p.components.map(dot) };
}

/** Coordinates of a new point in an existing PCA. */
export function projectPca(p: Pca, x: readonly number[]): number[] {
  return p.components.map((c) => c.reduce((s, cj, i) => s + cj * (x[i] - p.mean[i]), 0));
}
