/**
 * What the predictor reports (METHOD.md §5): the regression of test accuracy (or loss) on the
 * reliable/unreliable shares of analysed models, with its PCA map. The engine computes it
 * (src/analysis/experiments/predict.ts) and writes it as a prediction file; the host and the prediction panel
 * read it.
 */
import type { PredictSettingsCheck } from '../comparability';

export type PredictTarget = 'accuracy' | 'loss';

/** ŷ = intercept + Σ_j coefficients[j] · x_j. */
export interface LinearModel {
  intercept: number;
  coefficients: number[];
}

/** The regressor restricted to the PCA plane: ŷ = intercept + Σ_j slopes[j] · score_j. */
export interface PcaPlane {
  intercept: number;
  slopes: number[];
}

/** The repeated random-split validation of the regressor (metrics/regression.ts crossValidate). */
export interface CrossValidationSummary {
  repeats: number;
  trainSize: number;
  testSize: number;
  seed: number;
  /** Mean over splits of the held-out mean absolute error. */
  maeTest: number;
  /** Standard deviation over splits of the held-out mean absolute error. */
  maeTestStd: number;
  /** Mean over splits of the in-sample mean absolute error. */
  maeTrain: number;
  /** R² of all held-out predictions pooled over the splits. */
  r2Test: number;
}

export interface PredictedModel {
  path: string;
  /** Checkpoint file name, or the result file's name. */
  label: string;
  features: number[];
  actual: number;
  /** Prediction of the regressor fitted on all models. */
  fitted: number;
  /** Mean prediction over the splits that held this model out (NaN if never held out). */
  heldOut: number;
  /** Coordinates in the PCA plane. */
  pca: number[];
}

export interface PredictReport {
  target: PredictTarget;
  featureOrders: number[];
  featureNames: string[];
  models: PredictedModel[];
  targetSpread: { min: number; max: number; mean: number; std: number };
  /** The regressor fitted on all models. */
  fit: LinearModel;
  /** In-sample R² of that regressor. */
  r2Fit: number;
  crossValidation: CrossValidationSummary;
  pca: { mean: number[]; components: number[][]; explainedVarianceRatio: number[]; plane: PcaPlane };
  /** Whether the analyses given agree in the settings their numbers depend on, and what was left out for it (absent in reports saved before it was recorded). */
  settings?: PredictSettingsCheck;
  /** The model named by --for, which was kept out of every fit. */
  prediction?: { path: string; label: string; features: number[]; predicted: number; actual: number; pca: number[] };
}
