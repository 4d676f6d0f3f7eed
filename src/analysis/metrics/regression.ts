/**
 * Linear least squares with an intercept and its repeated-split validation (METHOD.md §5):
 * how well a model's feature-complexity vector predicts its test accuracy or loss.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { mulberry32 } from '../util/random';
import type { CrossValidationSummary, LinearModel } from '../../shared/files/prediction';

export type { LinearModel };

function checkData(x: readonly (readonly number[])[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`${x.length} feature vectors but ${y.length} targets`);
  if (x.length === 0) throw new RangeError('no samples');
  const p = x[0].length;
  for (const row of x) if (row.length !== p) throw new RangeError(`feature vectors of length ${row.length} and ${p}`);
  for (const v of [...x.flat(), ...y]) if (!Number.isFinite(v)) throw new RangeError(`a feature or target is not a finite number (${v})`);
  return p;
}

/**
 * argmin ‖y − b − X w‖² with the intercept b unpenalised: the columns are centred, then w is the
 * minimum-norm least-squares solution from the SVD (so collinear features or fewer samples
 * than features still give a defined, stable answer).
 */
export function fitLinear(x: readonly (readonly number[])[], y: readonly number[]): LinearModel {
  const p = checkData(x, y);
  const m = x.length;
  const xm = new Matrix(x as number[][]);
  const mean = xm.mean('column');
  const ymean = y.reduce((s, v) => s + v, 0) / m;
  if (p === 0) return { intercept: ymean, coefficients: [] };
  const xc = xm.clone().subRowVector(mean);
  const yc = Matrix.columnVector(y.map((v) => v - ymean));
  const w = new SingularValueDecomposition(xc, { autoTranspose: true }).solve(yc).getColumn(0);
  return { intercept: ymean - w.reduce((s, wi, i) => s + wi * mean[i], 0), coefficients: w };
}

export function predictLinear(model: LinearModel, x: readonly number[]): number {
  if (x.length !== model.coefficients.length) throw new RangeError(`the model takes ${model.coefficients.length} features, got ${x.length}`);
  return model.intercept + model.coefficients.reduce((s, w, i) => s + w * x[i], 0);
}

/** 1 − Σ(y − ŷ)² / Σ(y − ȳ)²; NaN when y is constant. */
export function rSquared(y: readonly number[], yhat: readonly number[]): number {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  let res = 0;
  let tot = 0;
  y.forEach((v, i) => {
    res += (v - yhat[i]) ** 2;
    tot += (v - mean) ** 2;
  });
  return tot > 0 ? 1 - res / tot : NaN;
}

export function meanAbsoluteError(y: readonly number[], yhat: readonly number[]): number {
  return y.reduce((s, v, i) => s + Math.abs(v - yhat[i]), 0) / y.length;
}

export interface CrossValidationOptions {
  /** Random splits. Default 1000 (the paper's). */
  repeats?: number;
  /** Share of the models each fit sees. Default 0.8. */
  trainFraction?: number;
  seed?: number;
}

export interface CrossValidation extends CrossValidationSummary {
  /** Mean held-out prediction per model (NaN for a model never held out). */
  heldOutPrediction: number[];
}

/** Fisher–Yates with the seeded generator. */
function permutation(m: number, rand: () => number): number[] {
  const p = Array.from({ length: m }, (_, i) => i);
  for (let i = m - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Repeated random train/test splits: fit on one part, mean absolute error on the other. */
export function crossValidate(x: readonly (readonly number[])[], y: readonly number[], opts: CrossValidationOptions = {}): CrossValidation {
  checkData(x, y);
  const m = x.length;
  const repeats = opts.repeats ?? 1000;
  const fraction = opts.trainFraction ?? 0.8;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`the training fraction must be in (0, 1), got ${fraction}`);
  const testSize = Math.min(m - 2, Math.max(1, Math.round(m * (1 - fraction))));
  const trainSize = m - testSize;
  if (testSize < 1 || trainSize < 2) throw new RangeError(`${m} models are too few for a train/test split`);
  const rand = mulberry32(seed);
  const maes: number[] = [];
  let maeTrain = 0;
  const pooledY: number[] = [];
  const pooledHat: number[] = [];
  const sum = new Float64Array(m);
  const count = new Float64Array(m);
  for (let r = 0; r < repeats; r++) {
    const p = permutation(m, rand);
    const train = p.slice(0, trainSize);
    const test = p.slice(trainSize);
    const model = fitLinear(
      train.map((i) => x[i]),
      train.map((i) => y[i]),
    );
    const hatTest = test.map((i) => predictLinear(model, x[i]));
    const yTest = test.map((i) => y[i]);
    maes.push(meanAbsoluteError(yTest, hatTest));
    maeTrain += meanAbsoluteError(
      train.map((i) => y[i]),
      train.map((i) => predictLinear(model, x[i])),
    );
    test.forEach((i, j) => {
      sum[i] += hatTest[j];
      count[i]++;
    });
    pooledY.push(...yTest);
    pooledHat.push(...hatTest);
  }
  const maeTest = maes.reduce((s, v) => s + v, 0) / repeats;
  const maeTestStd = repeats > 1 ? Math.sqrt(maes.reduce((s, v) => s + (v - maeTest) ** 2, 0) / (repeats - 1)) : 0;
  return {
    repeats,
    trainSize,
    testSize,
    seed,
    maeTest,
    maeTestStd,
    maeTrain: maeTrain / repeats,
    r2Test: rSquared(pooledY, pooledHat),
    heldOutPrediction: Array.from(sum, (s, i) => (count[i] > 0 ? s / count[i] : NaN)),
  };
}
