/**
 * The numbers of the prediction view (METHOD.md §5): predicted against measured test accuracy,
 * the error over repeated splits, and the PCA map of the models coloured by accuracy. Pure.
 */
import { predictSettingsWarning } from '../../shared/comparability';
import type { PredictReport } from '../../shared/webviewProtocol';
import { fixed } from '../common/format';
import { parseColor } from '../common/theme';

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
}

/** Accuracy is shown in percent, a loss as is. */
export function targetScale(r: PredictReport): number {
  return r.target === 'accuracy' ? 100 : 1;
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

export interface PredictedVsActual {
  /** Mean prediction of the regressors that held the model out: the honest estimate. */
  heldOut: ScatterPoint[];
  /** Prediction of the regressor fitted on all models. */
  fitted: ScatterPoint[];
  /** The chosen model, predicted by a regressor that never saw it. */
  chosen?: ScatterPoint;
  /** Both axes span this range, so the y = x line is the diagonal. */
  range: { min: number; max: number };
}

export function predictedVsActual(r: PredictReport): PredictedVsActual {
  const s = targetScale(r);
  // The engine sends NaN as null (JSON); such a model was never in a held-out split.
  const heldOut = r.models.filter((m) => finite(m.heldOut)).map((m) => ({ label: m.label, x: m.actual * s, y: m.heldOut * s }));
  const fitted = r.models.map((m) => ({ label: m.label, x: m.actual * s, y: m.fitted * s }));
  const chosen =
    r.prediction && finite(r.prediction.predicted) ? { label: r.prediction.label, x: r.prediction.actual * s, y: r.prediction.predicted * s } : undefined;
  const all = [...heldOut, ...fitted, ...(chosen ? [chosen] : [])].flatMap((p) => [p.x, p.y]);
  return { heldOut, fitted, chosen, range: niceRange(Math.min(...all), Math.max(...all)) };
}

/** [lo, hi] widened to multiples of a round step (1, 2 or 5 × 10ᵏ, about 4–10 steps), so the axis ends on readable ticks. */
export function niceRange(lo: number, hi: number): { min: number; max: number } {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  let min = Math.floor(lo / step) * step;
  let max = Math.ceil(hi / step) * step;
  if (min === lo) min -= step;
  if (max === hi) max += step;
  return { min: Number(min.toPrecision(12)), max: Number(max.toPrecision(12)) };
}

export interface PredictStat {
  id: string;
  value: string;
  label: string;
  title: string;
}

function err(r: PredictReport, v: number): string {
  return r.target === 'accuracy' ? `${(100 * v).toFixed(2)} pts` : v.toFixed(4);
}

export function formatTarget(r: PredictReport, v: number | null | undefined): string {
  if (!finite(v)) return '–';
  return r.target === 'accuracy' ? `${(100 * v).toFixed(2)} %` : v.toFixed(4);
}

/** The headline: held-out MAE ± its spread over the splits, R², and how spread the targets are. */
export function predictStats(r: PredictReport): PredictStat[] {
  const cv = r.crossValidation;
  const t = r.target === 'accuracy' ? 'accuracy' : 'loss';
  const stats: PredictStat[] = [
    {
      id: 'mae',
      value: `${err(r, cv.maeTest)} ± ${err(r, cv.maeTestStd)}`,
      label: `held-out MAE over ${cv.repeats} splits`,
      title: `Mean absolute error of test ${t} on the held-out models of ${cv.repeats} random ${cv.trainSize}/${cv.testSize} splits (seed ${cv.seed}), ± its standard deviation over the splits`,
    },
    { id: 'r2', value: fixed(cv.r2Test, 3), label: 'R² held out', title: 'R² of the held-out predictions' },
    { id: 'r2fit', value: fixed(r.r2Fit, 3), label: 'R² of the fit on all models', title: 'In-sample R² of the regressor fitted on every model' },
    {
      id: 'spread',
      value: `${formatTarget(r, r.targetSpread.min)} … ${formatTarget(r, r.targetSpread.max)}`,
      label: `test ${t}: std ${err(r, r.targetSpread.std)}`,
      title: `Range and standard deviation of the measured test ${t}: an MAE well below the std means the vector carries information`,
    },
  ];
  if (r.prediction) {
    const p = r.prediction;
    stats.push({
      id: 'prediction',
      value: formatTarget(r, p.predicted),
      label: `predicted for ${p.label} (measured ${formatTarget(r, p.actual)})`,
      title: `${p.path}: kept out of every fit`,
    });
  }
  return stats;
}

/**
 * Empty when the held-out error is well below the spread of the targets; otherwise a warning
 * that the fit does not generalise (too few models, an outlier, or models from different settings).
 */
export function predictWarning(r: PredictReport): string {
  const cv = r.crossValidation;
  if (cv.maeTest < r.targetSpread.std / 2) return '';
  return `The held-out error (${err(r, cv.maeTest)}) is not well below the spread of the measured values (std ${err(r, r.targetSpread.std)}): on these models the regressor does not generalise. More models, the same analysis settings for all, or leaving out an outlier may help.`;
}

export interface SettingsNotice {
  text: string;
  /** Each differing setting with its values and how many analyses have each. */
  rows: [string, string][];
  /** The button that fits again: on the largest consistent group, or on all analyses again. */
  action: { label: string; consistentOnly: boolean };
}

/** The warning when the analyses differ in settings (comparability.ts), with the way to fit again; undefined when they agree. */
export function settingsNotice(r: PredictReport): SettingsNotice | undefined {
  const s = r.settings;
  const text = predictSettingsWarning(s, false);
  if (!s || !text) return undefined;
  return {
    text,
    rows: s.differing.map((d): [string, string] => [
      d.setting,
      d.counts.map((c) => `${c.value}: ${c.analyses} ${c.analyses === 1 ? 'analysis' : 'analyses'}`).join('\n'),
    ]),
    action: s.consistentOnly
      ? { label: `Fit all ${s.given - (r.prediction ? 1 : 0)} analyses again`, consistentOnly: false }
      : { label: `Fit only the largest consistent group (${s.largestGroup - (r.prediction ? 1 : 0)} analyses)`, consistentOnly: true },
  };
}

export interface PcaPoint extends ScatterPoint {
  /** The measured target in display units (percent for accuracy). */
  value: number;
}

export interface PcaMap {
  points: PcaPoint[];
  chosen?: PcaPoint;
  /** Colour scale range, over the fitted models and the chosen one. */
  min: number;
  max: number;
  /** Share of the vectors' variance along each axis. */
  explained: [number, number];
}

export function pcaMap(r: PredictReport): PcaMap {
  const s = targetScale(r);
  const points = r.models.map((m) => ({ label: m.label, x: m.pca[0] ?? 0, y: m.pca[1] ?? 0, value: m.actual * s }));
  const p = r.prediction;
  const chosen = p ? { label: p.label, x: p.pca[0] ?? 0, y: p.pca[1] ?? 0, value: p.actual * s } : undefined;
  const values = [...points, ...(chosen ? [chosen] : [])].map((q) => q.value);
  const ev = r.pca.explainedVarianceRatio;
  return { points, chosen, min: Math.min(...values), max: Math.max(...values), explained: [ev[0] ?? 0, ev[1] ?? 0] };
}

/** Linear blend of two theme colours by where `value` sits in [min, max]; `rgb(…)`. */
export function scaleColor(value: number, min: number, max: number, low: string, high: string): string {
  const a = parseColor(low) ?? [0, 0, 255];
  const b = parseColor(high) ?? [255, 165, 0];
  const t = max > min ? Math.min(1, Math.max(0, (value - min) / (max - min))) : 0.5;
  const mix = a.map((c, i) => Math.round(c + (b[i] - c) * t));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

/** Five evenly spaced labels for the colour bar, low to high. */
export function scaleTicks(min: number, max: number, digits = 1): string[] {
  return [0, 0.25, 0.5, 0.75, 1].map((f) => (min + (max - min) * f).toFixed(digits));
}

/** One row per fitted model (by measured target), then the chosen one. */
export function predictTable(r: PredictReport): Record<string, string>[] {
  const rows = [...r.models]
    .sort((a, b) => a.actual - b.actual)
    .map((m) => ({
      model: m.label,
      actual: formatTarget(r, m.actual),
      heldOut: formatTarget(r, m.heldOut),
      fitted: formatTarget(r, m.fitted),
      error: finite(m.heldOut) ? err(r, Math.abs(m.heldOut - m.actual)) : '–',
    }));
  if (r.prediction) {
    const p = r.prediction;
    rows.push({
      model: `▶ ${p.label} (kept out)`,
      actual: formatTarget(r, p.actual),
      heldOut: formatTarget(r, p.predicted),
      fitted: '–',
      error: err(r, Math.abs(p.predicted - p.actual)),
    });
  }
  return rows;
}

/** The features and the regressor's weights, for the settings list. */
export function regressorRows(r: PredictReport): [string, string][] {
  return [
    ['Target', `test ${r.target}`],
    ['Feature orders', r.featureOrders.join(', ')],
    ['Models fitted', String(r.models.length)],
    ['Intercept', fixed(r.fit.intercept)],
    ...r.featureNames.map((n, i): [string, string] => [`Weight of ${n} / Var[f]`, fixed(r.fit.coefficients[i])]),
    ['PCA explained variance', r.pca.explainedVarianceRatio.map((v) => `${(100 * v).toFixed(1)} %`).join(' + ')],
  ];
}

export interface IsoLine {
  label: string;
  /** The predicted value along the line, in display units. */
  value: number;
  points: { x: number; y: number }[];
}

/**
 * The regressor restricted to the PCA plane, ŷ = b + s₁z₁ + s₂z₂ (METHOD.md §5, "the
 * regressor's plane"), drawn as lines of equal predicted target at the low end, middle and high
 * end of the measured range, across the map's x extent. None when the plane is flat along z₂.
 */
export function isoLines(r: PredictReport, m: PcaMap): IsoLine[] {
  const { intercept, slopes } = r.pca.plane;
  const [s1 = 0, s2 = 0] = slopes;
  const s = targetScale(r);
  if (Math.abs(s2) < 1e-12) return [];
  const xs = [...m.points, ...(m.chosen ? [m.chosen] : [])].map((p) => p.x);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const pad = (hi - lo) * 0.5 + 1e-9;
  const unit = r.target === 'accuracy' ? ' %' : '';
  return [m.min, (m.min + m.max) / 2, m.max].map((v) => {
    const y = (x: number) => (v / s - intercept - s1 * x) / s2;
    return { label: `regressor: ${v.toFixed(1)}${unit}`, value: v, points: [lo - pad, hi + pad].map((x) => ({ x, y: y(x) })) };
  });
}
