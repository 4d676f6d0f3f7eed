/**
 * Feature complexity predicts performance (METHOD.md §5, the paper's Exp. 6): over a collection
 * of analysed models, a linear regressor from each model's 8-d reliability vector to its test
 * accuracy (or loss), validated on repeated random 80/20 splits, and a PCA map of the vectors.
 *
 * Feature vector: for each of 4 orders, (Var[c_reliable]/Var[f], Var[c_unreliable]/Var[f]).
 * The orders are, by default, the four lowest orders that every result file has reliability
 * for — with the paper's orders 0,2,4,8,… that is 0,2,4,8, in the spirit of the release's block
 * counts 1,2,4,8 (the low orders carry most of the variance and are the best estimated).
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { consistentGroups, settingDifferences, settingSpread, type PredictSettingsCheck, type SettingsSource } from '../../shared/comparability';
import { BadInputError } from '../util/errors';
import { pca, projectPca, regressionPlaneInPca } from '../metrics/pca';
import { crossValidate, fitLinear, predictLinear, rSquared } from '../metrics/regression';
import type { PredictedModel, PredictReport, PredictTarget } from '../../shared/files/prediction';
import { checkpointName } from '../../shared/naming';

export type { PredictedModel, PredictReport, PredictTarget };

/** The fields of a result file (ARCHITECTURE.md, schemaVersion 1) that the predictor reads, with the settings it checks. */
export interface PredictSource extends SettingsSource {
  checkpoint?: { path: string };
  orders?: number[];
  teacher: { testAccuracy: number; testLoss: number };
  reliability?: { order: number; reliableRho: number; reliableVariance: number; unreliableVariance: number }[];
}

export interface PredictInput {
  path: string;
  result: PredictSource;
}

export interface PredictOptions {
  target?: PredictTarget;
  /** Random 80/20 splits. Default 1000. */
  repeats?: number;
  seed?: number;
  /** Orders whose reliable/unreliable shares form the vector. Default: the 4 lowest common ones. */
  orders?: number[];
  /**
   * Fit only the largest group of analyses with the same settings (comparability.ts); with a
   * model to predict, the group of that model. Default false: fit all, and say what differs.
   */
  consistentOnly?: boolean;
}

export const DEFAULT_FEATURE_ORDERS = 4;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Reads the fields `predict` needs from a result file, with one clear line when they are not
 * there. Only these fields are checked, so the command keeps working on files from newer
 * engines that add fields.
 */
export function readPredictSource(path: string): PredictSource {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BadInputError(`${path}: not a readable result file (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const r = value as Partial<PredictSource> & { schemaVersion?: unknown };
  if (typeof r !== 'object' || r === null || r.schemaVersion !== 1) throw new BadInputError(`${path}: not a result file of schema version 1`);
  if (!r.teacher || !isNum(r.teacher.testAccuracy) || !isNum(r.teacher.testLoss)) throw new BadInputError(`${path}: has no teacher test accuracy and loss`);
  if (r.reliability !== undefined) {
    const ok =
      Array.isArray(r.reliability) && r.reliability.every((e) => e && Number.isInteger(e.order) && isNum(e.reliableVariance) && isNum(e.unreliableVariance));
    if (!ok) throw new BadInputError(`${path}: its reliability entries need order, reliableVariance and unreliableVariance`);
  }
  return r as PredictSource;
}

function label(input: PredictInput): string {
  return input.result.checkpoint?.path ? checkpointName(input.result.checkpoint.path) : basename(input.path);
}

function reliabilityOf(input: PredictInput) {
  const rel = input.result.reliability;
  if (!rel || rel.length === 0) {
    throw new BadInputError(`${input.path}: has no reliability results (analyse the model with --exemplars to measure them)`);
  }
  return rel;
}

/** The requested orders, or the `DEFAULT_FEATURE_ORDERS` lowest ones that every input has reliability for. */
export function selectFeatureOrders(inputs: PredictInput[], requested?: number[]): number[] {
  const sets = inputs.map((i) => new Set(reliabilityOf(i).map((r) => r.order)));
  if (requested && requested.length > 0) {
    inputs.forEach((input, k) => {
      const missing = requested.filter((o) => !sets[k].has(o));
      if (missing.length) throw new BadInputError(`${input.path}: no reliability for order ${missing.join(', ')}`);
    });
    return [...requested];
  }
  const common = [...sets[0]].filter((o) => sets.every((s) => s.has(o))).sort((a, b) => a - b);
  if (common.length === 0) throw new BadInputError('the result files have no order with reliability in common');
  return common.slice(0, DEFAULT_FEATURE_ORDERS);
}

/** (reliable, unreliable) variance shares over Var[f] for each order, concatenated. */
export function featureVector(input: PredictInput, orders: number[]): number[] {
  const byOrder = new Map(reliabilityOf(input).map((r) => [r.order, r]));
  return orders.flatMap((o) => {
    const r = byOrder.get(o);
    if (!r) throw new BadInputError(`${input.path}: no reliability for order ${o}`);
    return [r.reliableVariance, r.unreliableVariance];
  });
}

function targetOf(input: PredictInput, target: PredictTarget): number {
  const v = target === 'accuracy' ? input.result.teacher?.testAccuracy : input.result.teacher?.testLoss;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadInputError(`${input.path}: has no teacher test ${target}`);
  return v;
}

/**
 * What differs among the analyses given (the one to predict included), and which of them are
 * fitted: all, or with `consistentOnly` the largest group with the same settings (the group of
 * the model to predict, when there is one: a regressor from other settings says nothing about it).
 */
export function checkSettings(
  fitInputs: PredictInput[],
  forInput: PredictInput | undefined,
  consistentOnly: boolean,
): { fitInputs: PredictInput[]; settings: PredictSettingsCheck } {
  const all = forInput ? [...fitInputs, forInput] : fitInputs;
  const sources = all.map((i) => i.result);
  const differing = settingSpread(settingDifferences(sources, 'predict'));
  const groups = consistentGroups(sources, 'predict');
  const forIndex = forInput ? all.length - 1 : -1;
  const group = new Set(groups.find((g) => g.includes(forIndex)) ?? groups[0] ?? []);
  group.delete(forIndex);
  const restrict = consistentOnly && differing.length > 0;
  const kept = restrict ? fitInputs.filter((_, i) => group.has(i)) : fitInputs;
  const leftOut = restrict ? fitInputs.filter((_, i) => !group.has(i)).map((i) => ({ path: i.path, label: label(i) })) : [];
  return { fitInputs: kept, settings: { differing, given: all.length, largestGroup: group.size + (forInput ? 1 : 0), consistentOnly: restrict, leftOut } };
}

/** Fits, validates and maps the models; `forInput` is predicted by a regressor that never saw it. */
export function predictFromResults(inputs: PredictInput[], opts: PredictOptions = {}, forInput?: PredictInput): PredictReport {
  const target = opts.target ?? 'accuracy';
  const forPath = forInput ? resolve(forInput.path) : undefined;
  const given = inputs.filter((i) => resolve(i.path) !== forPath);
  const { fitInputs, settings } = checkSettings(given, forInput, opts.consistentOnly ?? false);
  if (fitInputs.length === 0) throw new BadInputError('no result files to fit');
  const orders = selectFeatureOrders(forInput ? [...fitInputs, forInput] : fitInputs, opts.orders);
  const p = 2 * orders.length;
  if (fitInputs.length < p + 2) {
    throw new BadInputError(
      `${fitInputs.length} models are too few to fit ${p} features (orders ${orders.join(',')}) and validate: need at least ${p + 2}` +
        (opts.orders ? '' : '; pass --orders with fewer orders to use fewer features'),
    );
  }
  const x = fitInputs.map((i) => featureVector(i, orders));
  const y = fitInputs.map((i) => targetOf(i, target));
  const fit = fitLinear(x, y);
  const fitted = x.map((row) => predictLinear(fit, row));
  const { heldOutPrediction, ...cv } = crossValidate(x, y, { repeats: opts.repeats ?? 1000, seed: opts.seed ?? 0 });
  const map = pca(x, 2);
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const report: PredictReport = {
    target,
    featureOrders: orders,
    featureNames: orders.flatMap((o) => [`reliable(${o})`, `unreliable(${o})`]),
    models: fitInputs.map((input, k) => ({
      path: input.path,
      label: label(input),
      features: x[k],
      actual: y[k],
      fitted: fitted[k],
      heldOut: heldOutPrediction[k],
      pca: map.scores[k],
    })),
    targetSpread: {
      min: Math.min(...y),
      max: Math.max(...y),
      mean,
      std: Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, y.length - 1)),
    },
    fit,
    r2Fit: rSquared(y, fitted),
    crossValidation: cv,
    pca: { mean: map.mean, components: map.components, explainedVarianceRatio: map.explainedVarianceRatio, plane: regressionPlaneInPca(fit, map) },
    settings,
  };
  if (forInput) {
    const features = featureVector(forInput, orders);
    report.prediction = {
      path: forInput.path,
      label: label(forInput),
      features,
      predicted: predictLinear(fit, features),
      actual: targetOf(forInput, target),
      pca: projectPca(map, features),
    };
  }
  return report;
}

/** Accuracy in percent, loss as is. */
function fmt(target: PredictTarget, v: number, digits = 2): string {
  if (!Number.isFinite(v)) return '—';
  return target === 'accuracy' ? `${(100 * v).toFixed(digits)}%` : v.toFixed(digits + 2);
}

function fmtErr(target: PredictTarget, v: number): string {
  return target === 'accuracy' ? `${(100 * v).toFixed(2)} points` : v.toFixed(4);
}

/** The readable table of the CLI. */
export function formatPredictReport(r: PredictReport): string {
  const t = r.target;
  const cv = r.crossValidation;
  const lines: string[] = [];
  lines.push(
    `Predicting test ${t} of ${r.models.length} models from ${r.featureNames.length} features (reliable/unreliable variance shares of orders ${r.featureOrders.join(', ')})`,
  );
  lines.push(
    `  ${t} spread: ${fmt(t, r.targetSpread.min)} … ${fmt(t, r.targetSpread.max)}, mean ${fmt(t, r.targetSpread.mean)}, std ${fmtErr(t, r.targetSpread.std)}`,
  );
  lines.push(
    `  held-out MAE: ${fmtErr(t, cv.maeTest)} (± ${fmtErr(t, cv.maeTestStd)} over ${cv.repeats} random ${cv.trainSize}/${cv.testSize} splits, seed ${cv.seed})`,
  );
  lines.push(`  training MAE: ${fmtErr(t, cv.maeTrain)}`);
  lines.push(`  R²: held-out ${cv.r2Test.toFixed(3)}, fit on all models ${r.r2Fit.toFixed(3)}`);
  const ev = r.pca.explainedVarianceRatio;
  lines.push(`  PCA: the 2-d map explains ${(100 * (ev[0] ?? 0)).toFixed(1)}% + ${(100 * (ev[1] ?? 0)).toFixed(1)}% of the variance of the vectors`);
  lines.push('');
  const width = Math.max(5, ...r.models.map((m) => m.label.length), r.prediction ? r.prediction.label.length : 0);
  lines.push(`  ${'model'.padEnd(width)}  ${'actual'.padStart(9)}  ${'fitted'.padStart(9)}  ${'held-out'.padStart(9)}`);
  const sorted = [...r.models].sort((a, b) => a.actual - b.actual);
  for (const m of sorted)
    lines.push(`  ${m.label.padEnd(width)}  ${fmt(t, m.actual).padStart(9)}  ${fmt(t, m.fitted).padStart(9)}  ${fmt(t, m.heldOut).padStart(9)}`);
  if (r.prediction) {
    const p = r.prediction;
    lines.push('');
    lines.push(`  prediction for ${p.label} (kept out of the fit): ${fmt(t, p.predicted)}; its measured test ${t}: ${fmt(t, p.actual)}`);
  }
  return lines.join('\n') + '\n';
}
