/**
 * The numbers of the comparison view: several analyses' ρ distributions and reliability shares
 * side by side, and which disentangler settings differ between them (METHOD.md §1: ρ is
 * comparable only under the same settings). Pure, so chart and table come from the same rows.
 */
import { settingDifferences as differingSettings, type SettingDifference } from '../../shared/comparability';
import type { AnalysisResult, ComparedAnalysis } from '../../shared/webviewProtocol';
import { reliabilityRows } from '../results/render';
import { fixed, orderLabel } from '../common/format';
import { checkpointName } from '../../shared/naming';

export interface Compared {
  /** Legend name: checkpoint · layer · budget, with the file name when two would read the same. */
  label: string;
  fileName: string;
  result: AnalysisResult;
}

/** A TF.js model.json is named after its folder; any other checkpoint after its file. */

/** The readable analyses with unique legend names; unreadable ones are reported by the caller. */
export function comparedAnalyses(analyses: ComparedAnalysis[]): Compared[] {
  const ok = analyses.filter((a): a is ComparedAnalysis & { result: AnalysisResult } => a.result !== undefined);
  const base = ok.map((a) => `${checkpointName(a.result.checkpoint.path)} · ${a.result.targetLayer} · ${a.result.budget}`);
  return ok.map((a, i) => ({
    label: base.filter((b) => b === base[i]).length > 1 ? `${base[i]} (${a.fileName.replace(/\.json$/i, '')})` : base[i],
    fileName: a.fileName,
    result: a.result,
  }));
}

/** Above this many analyses (a zoo), grouped bars and one table column per analysis get too thin to read. */
export const MAX_GROUPED = 4;
export const isZoo = (items: readonly unknown[]): boolean => items.length > MAX_GROUPED;

export interface CompareRow {
  label: string;
  /** null for the residue Δf. */
  order: number | null;
  /** ρ (train) of each analysis, undefined where that analysis has no such order. */
  rho: (number | undefined)[];
}

/** One row per order any analysis has (ascending), then the residue. */
export function compareRows(items: Compared[]): CompareRow[] {
  const orders = [...new Set(items.flatMap((c) => c.result.components.map((x) => x.order)))].sort((a, b) => a - b);
  return [
    ...orders.map((order) => ({ label: orderLabel(order), order, rho: items.map((c) => c.result.components.find((x) => x.order === order)?.rho) })),
    { label: 'residue Δf', order: null, rho: items.map((c) => c.result.residue.rho) },
  ];
}

export interface CompareReliabilityRow {
  order: number;
  /** Var[c_reliable] / Var[f] and Var[c_unreliable] / Var[f] of each analysis. */
  reliable: (number | undefined)[];
  unreliable: (number | undefined)[];
}

/** Undefined when no analysis has reliability. */
export function compareReliabilityRows(items: Compared[]): CompareReliabilityRow[] | undefined {
  const per = items.map((c) => new Map((reliabilityRows(c.result) ?? []).map((r) => [r.order, r])));
  const orders = [...new Set(per.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  if (orders.length === 0) return undefined;
  return orders.map((order) => ({
    order,
    reliable: per.map((m) => m.get(order)?.reliableOfFeature),
    unreliable: per.map((m) => m.get(order)?.unreliableOfFeature),
  }));
}

export type { SettingDifference };

/** The settings (comparability.ts, one list for the comparison and the predictor) whose values are not all the same. */
export function settingDifferences(items: Compared[]): SettingDifference[] {
  return differingSettings(
    items.map((c) => c.result),
    'compare',
  );
}

/** One sentence for the warning row; empty when the settings agree. The values follow in a list. */
export function differenceWarning(diffs: SettingDifference[]): string {
  if (diffs.length === 0) return '';
  return `Settings differ: ${diffs.map((d) => d.setting).join(', ')}. ρ is a relative distribution, comparable only between analyses made with the same disentangler settings, so some of the differences below may come from the settings, not the models.`;
}

/** The comparison table as CSV: one row per component, one ρ column per analysis, then reliability. */
export function compareCsv(items: Compared[]): string {
  const cell = (v: string | number | undefined) => {
    if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rel = new Map((compareReliabilityRows(items) ?? []).map((r) => [r.order, r]));
  const header = [
    'component',
    'order',
    ...items.map((c) => `rho ${c.label}`),
    ...items.flatMap((c) => [`reliable/Var[f] ${c.label}`, `unreliable/Var[f] ${c.label}`]),
  ];
  const lines = [header.map(cell).join(',')];
  for (const row of compareRows(items)) {
    const r = row.order === null ? undefined : rel.get(row.order);
    lines.push(
      [row.order === null ? 'residue' : `c${row.order}`, row.order ?? '', ...row.rho, ...items.flatMap((_, i) => [r?.reliable[i], r?.unreliable[i]])]
        .map(cell)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

export interface CompareTable {
  columns: { key: string; title: string }[];
  rows: Record<string, string>[];
}

/**
 * The ρ table: one column per analysis for a few, one row per analysis for a zoo (its names
 * would not fit as column titles).
 */
export function compareTable(rows: CompareRow[], items: Compared[]): CompareTable {
  if (!isZoo(items)) {
    return {
      columns: [{ key: 'c', title: 'component' }, ...items.map((c, i) => ({ key: `a${i}`, title: c.label }))],
      rows: rows.map((r) => Object.fromEntries([['c', r.label], ...r.rho.map((v, i) => [`a${i}`, fixed(v, 3)])])),
    };
  }
  return {
    columns: [{ key: 'a', title: 'analysis' }, ...rows.map((r, j) => ({ key: `c${j}`, title: r.order === null ? 'Δf' : r.label }))],
    rows: items.map((c, i) => Object.fromEntries([['a', c.label], ...rows.map((r, j) => [`c${j}`, fixed(r.rho[i], 3)])])),
  };
}

/** The reliability table, for the analyses that measured it; cells are "reliable / unreliable" shares of Var[f]. */
export function compareReliabilityTable(rel: CompareReliabilityRow[], items: Compared[]): CompareTable {
  const measured = items.map((c, i) => ({ c, i })).filter(({ c }) => (c.result.reliability?.length ?? 0) > 0);
  const cell = (r: CompareReliabilityRow, i: number) => `${fixed(r.reliable[i], 3)} / ${fixed(r.unreliable[i], 3)}`;
  if (!isZoo(items)) {
    return {
      columns: [{ key: 'c', title: 'order' }, ...measured.map(({ c, i }) => ({ key: `a${i}`, title: `${c.label}: reliable / unreliable` }))],
      rows: rel.map((r) => Object.fromEntries([['c', `l = ${r.order}`], ...measured.map(({ i }) => [`a${i}`, cell(r, i)])])),
    };
  }
  return {
    columns: [{ key: 'a', title: 'analysis (reliable / unreliable)' }, ...rel.map((r, j) => ({ key: `c${j}`, title: `l = ${r.order}` }))],
    rows: measured.map(({ c, i }) => Object.fromEntries([['a', c.label], ...rel.map((r, j) => [`c${j}`, cell(r, i)])])),
  };
}
