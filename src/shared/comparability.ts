/**
 * The settings under which analyses are comparable, defined once. ρ is a relative distribution,
 * comparable only between analyses made with the same disentangler settings (METHOD.md §1), and
 * the reliability shares depend on how reliability was measured (method, cycle rounds, the
 * exemplars, the rule's version). The comparison view warns when the analyses it overlays differ
 * in any of them; the predictor (CLI and panel) warns when the analyses it fits differ, and can
 * fit only the largest group that agrees.
 *
 * Pure and dependency-free: the engine, the extension host and the webview all import it.
 */

/**
 * The fields the settings are read from, as both the result file (the engine's `ResultFile`) and
 * the panel's parsed result (which keeps the dataset as its path plus `datasetInfo`) carry them.
 */
export interface SettingsSource {
  orders?: number[];
  width?: number;
  budget?: string;
  dataset?: string | { path?: string; format?: string; numClasses?: number; testSamples?: number };
  datasetInfo?: { format?: string; numClasses?: number; testSamples?: number };
  targetLayer?: string;
  featureShape?: number[];
  reliabilityMethod?: string;
  reliabilitySettings?: { method?: string; rounds?: number; exemplars?: string[]; version?: number };
}

/** Where a difference in a setting matters: the comparison view, the predictor, or both. */
export type SettingUse = 'compare' | 'predict';

export interface AnalysisSetting {
  name: string;
  /** The setting as shown; undefined where it does not apply (reliability settings of an analysis without reliability), and then not compared. */
  value: (r: SettingsSource) => string | undefined;
  uses: readonly SettingUse[];
}

const BOTH: readonly SettingUse[] = ['compare', 'predict'];

function datasetOf(r: SettingsSource): { path?: string; format?: string; numClasses?: number; testSamples?: number } {
  return typeof r.dataset === 'string' ? { path: r.dataset, ...r.datasetInfo } : { ...r.datasetInfo, ...r.dataset };
}

/** The task a dataset poses: what the test accuracy is measured on. */
function taskOf(r: SettingsSource): string | undefined {
  const d = datasetOf(r);
  const parts = [
    d.format,
    d.numClasses !== undefined ? `${d.numClasses} classes` : undefined,
    d.testSamples !== undefined ? `${d.testSamples} test samples` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : undefined;
}

/** Only where the analysis measured reliability (the method is recorded then). */
function reliability<T>(r: SettingsSource, get: (s: NonNullable<SettingsSource['reliabilitySettings']>) => T): T | undefined {
  return r.reliabilitySettings ? get(r.reliabilitySettings) : undefined;
}

export const ANALYSIS_SETTINGS: readonly AnalysisSetting[] = [
  // c⁽ˡ⁾ = Φ⁽ˡ⁾ − Φ⁽ˡ′⁾ depends on the order before it, so the whole list matters, not only the orders in common.
  { name: 'orders', value: (r) => r.orders?.join(', '), uses: BOTH },
  { name: 'disentangler width', value: (r) => (r.width === undefined ? 'not recorded' : String(r.width)), uses: BOTH },
  { name: 'budget', value: (r) => r.budget, uses: BOTH },
  // The predictor's models are each analysed on their own training set (the paper's Exp. 6, as
  // experiments/zoo does), so their dataset folders differ by design; the task they are tested on may not.
  { name: 'dataset', value: (r) => datasetOf(r).path, uses: ['compare'] },
  { name: 'task (format, classes, test samples)', value: taskOf, uses: ['predict'] },
  // Different architectures name their layers differently; the feature's shape is what the numbers depend on.
  { name: 'target layer', value: (r) => r.targetLayer, uses: ['compare'] },
  { name: 'target feature shape', value: (r) => r.featureShape?.join('×'), uses: BOTH },
  { name: 'reliability method', value: (r) => reliability(r, (s) => s.method) ?? r.reliabilityMethod, uses: BOTH },
  { name: 'reliability cycle rounds', value: (r) => reliability(r, (s) => (s.rounds === undefined ? undefined : String(s.rounds))), uses: BOTH },
  { name: 'exemplars', value: (r) => reliability(r, (s) => s.exemplars?.join(', ')), uses: BOTH },
  {
    name: 'reliability rule version',
    value: (r) => reliability(r, (s) => (s.version === undefined ? 'unversioned (earlier rule)' : String(s.version))),
    uses: BOTH,
  },
];

export interface SettingDifference {
  setting: string;
  /** The value of each analysis, in the order given; undefined where the setting does not apply. */
  values: (string | undefined)[];
}

const settingsFor = (use: SettingUse) => ANALYSIS_SETTINGS.filter((s) => s.uses.includes(use));

/** The settings (of those that matter for `use`) whose values are not all the same, among the analyses where they apply. */
export function settingDifferences(results: readonly SettingsSource[], use: SettingUse): SettingDifference[] {
  return settingsFor(use)
    .map((s) => ({ setting: s.name, values: results.map((r) => s.value(r)) }))
    .filter((d) => new Set(d.values.filter((v) => v !== undefined)).size > 1);
}

/**
 * The analyses grouped by identical settings (of those that matter for `use`), as indices into
 * `results`; the largest group first, ties in the order their first member was given.
 */
export function consistentGroups(results: readonly SettingsSource[], use: SettingUse): number[][] {
  const settings = settingsFor(use);
  const groups = new Map<string, number[]>();
  results.forEach((r, i) => {
    const key = JSON.stringify(settings.map((s) => s.value(r) ?? null));
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  // Map keeps insertion order and sort is stable: equal sizes stay in the order they were met.
  return [...groups.values()].sort((a, b) => b.length - a.length);
}

export interface SettingSpread {
  setting: string;
  /** Each value with the number of analyses that have it, most common first. */
  counts: { value: string; analyses: number }[];
}

/** How many analyses have each value of each differing setting. */
export function settingSpread(diffs: readonly SettingDifference[]): SettingSpread[] {
  return diffs.map((d) => {
    const counts = new Map<string, number>();
    for (const v of d.values) counts.set(v ?? '–', (counts.get(v ?? '–') ?? 0) + 1);
    return { setting: d.setting, counts: [...counts.entries()].map(([value, analyses]) => ({ value, analyses })).sort((a, b) => b.analyses - a.analyses) };
  });
}

/** "budget (12 × quick | 3 × standard); orders (12 × 0, 2, 4, 8 | 3 × 0, 2, 4, 8, 14)": values may hold commas. */
export function formatSpread(spread: readonly SettingSpread[]): string {
  return spread.map((s) => `${s.setting} (${s.counts.map((c) => `${c.analyses} × ${c.value}`).join(' | ')})`).join('; ');
}

/** What the predictor records about its inputs' settings (PredictReport.settings). */
export interface PredictSettingsCheck {
  /** Settings whose values differ among the analyses given (the fitted ones, those left out, and --for). */
  differing: SettingSpread[];
  /** Analyses given (the one predicted included). */
  given: number;
  /** Size of the largest group with the same settings (the group of the predicted one when there is one). */
  largestGroup: number;
  /** True when only that group was fitted. */
  consistentOnly: boolean;
  /** Result files given but not fitted because their settings differ from the group's. */
  leftOut: { path: string; label: string }[];
}

/**
 * The predictor's warning, one paragraph; empty when the analyses agree. With `values` false it
 * names the settings only (the panel lists their values below it). The caller adds how to
 * restrict the fit (a flag on the command line, a button in the panel).
 */
export function predictSettingsWarning(s: PredictSettingsCheck | undefined, values = true): string {
  if (!s || s.differing.length === 0) return '';
  const what = `The analyses differ in settings: ${values ? formatSpread(s.differing) : s.differing.map((d) => d.setting).join(', ')}.`;
  if (s.consistentOnly) {
    return `${what} Only the largest group with the same settings was fitted: ${s.largestGroup} of ${s.given} analyses; left out: ${s.leftOut.map((l) => l.label).join(', ')}.`;
  }
  return `${what} Their reliability vectors are not measured alike, so the regressor may fit the settings rather than the models; the largest group with the same settings has ${s.largestGroup} of ${s.given} analyses.`;
}
