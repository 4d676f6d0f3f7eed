/**
 * Turns a result into the numbers the panel shows: headline, table rows, chart series, CSV.
 * Pure functions with no DOM, so they are tested in plain Node; every chart and its table are
 * built from the same rows here, so they cannot disagree.
 */
import type { AnalysisResult } from '../../shared/webviewProtocol';
import { LOW_MAX_ORDER, MID_MAX_ORDER } from '../../shared/summary';
import { fixed, orderLabel, pct } from '../common/format';

/** Order bands of the headline. The paper names no boundaries; these split its default orders 0,2,4 | 8,14 | 20,26,32. */

export type Band = 'low' | 'mid' | 'high';

export function bandOf(order: number): Band {
  if (order <= LOW_MAX_ORDER) return 'low';
  if (order <= MID_MAX_ORDER) return 'mid';
  return 'high';
}

export const BAND_LABELS: Record<Band | 'residue', string> = {
  low: `low order (l ≤ ${LOW_MAX_ORDER})`,
  mid: `mid order (${LOW_MAX_ORDER} < l ≤ ${MID_MAX_ORDER})`,
  high: `high order (l > ${MID_MAX_ORDER})`,
  residue: 'residue Δf',
};

export interface Headline {
  teacherTestAccuracy: number;
  /** Σρ of the components in each band and ρ of the residue, on the training split. */
  shares: Record<Band | 'residue', number>;
  /** Bands without any finished order are absent from the file, not zero. */
  bandsPresent: Record<Band, boolean>;
  finishedOrders: number;
  /** From the file's plannedOrders; undefined when an older file lists only the orders that finished, so the plan is not known. */
  totalOrders: number | undefined;
  complete: boolean;
}

export function headline(r: AnalysisResult): Headline {
  const shares = { low: 0, mid: 0, high: 0, residue: r.residue.rho };
  const bandsPresent = { low: false, mid: false, high: false };
  for (const c of r.components) {
    const b = bandOf(c.order);
    shares[b] += c.rho;
    bandsPresent[b] = true;
  }
  return {
    teacherTestAccuracy: r.teacher.testAccuracy,
    shares,
    bandsPresent,
    finishedOrders: r.components.length,
    totalOrders: r.plannedOrders?.length ?? (r.orders.length > r.components.length ? r.orders.length : r.complete ? r.components.length : undefined),
    complete: r.complete,
  };
}

export interface SignificanceRow {
  label: string;
  /** null for the residue. */
  order: number | null;
  rhoTrain: number;
  rhoTest?: number;
}

/** ρ of each component, then the residue Δf, as one row each. */
export function significanceRows(r: AnalysisResult): SignificanceRow[] {
  return [
    ...r.components.map((c) => ({ label: orderLabel(c.order), order: c.order, rhoTrain: c.rho, rhoTest: c.rhoTest })),
    { label: 'residue Δf', order: null, rhoTrain: r.residue.rho, rhoTest: r.residue.rhoTest },
  ];
}

export const hasTestRho = (rows: SignificanceRow[]): boolean => rows.some((x) => x.rhoTest !== undefined);

export interface LossSeries {
  order: number;
  /** Epoch (1-based) and loss; non-positive losses are left out because the axis is logarithmic. */
  points: { x: number; y: number }[];
  final: number | undefined;
  epochs: number;
  converged?: boolean;
  /** 1 − MSE / Var[f] on the monitor samples. */
  fit?: number;
  /** How training ended: least squares, the stopping rule, the budget, or the warm start kept. */
  stop: string;
}

/** How an order's training ended, in words. */
export function stopLabel(c: { solver?: string; converged?: boolean; restored?: boolean; lrDecays?: number; epochs?: number }): string {
  const ls = c.solver === 'closed-form';
  // Results of the earlier engine stopped at the least-squares solution (0 epochs, no stopping test).
  if (ls && c.converged !== false && !c.restored && !c.lrDecays && c.epochs === 0) return 'least squares';
  const base = c.converged === undefined ? '–' : c.converged ? 'converged' : 'budget (not settled)';
  const decays = c.lrDecays ? `, rate cut ${c.lrDecays}×` : '';
  const from = ls ? 'least squares, then ' : '';
  if (c.restored) return `${from}${base}${decays}; worse than its start, ${ls ? 'least-squares solution' : 'previous order'} kept`;
  return `${from}${base}${decays}`;
}

export function lossSeries(r: AnalysisResult): LossSeries[] {
  return r.components
    .filter((c) => c.lossCurve && c.lossCurve.length > 0)
    .map((c) => {
      const curve = c.lossCurve as number[];
      return {
        order: c.order,
        points: curve.map((y, i) => ({ x: i + 1, y })).filter((p) => p.y > 0),
        final: curve[curve.length - 1],
        epochs: c.epochs ?? curve.length,
        converged: c.converged,
        fit: c.fit,
        stop: stopLabel(c),
      };
    });
}

export interface ReliabilityRow {
  order: number;
  /** Var[c_reliable] / Var[c]. */
  reliableRho: number;
  /** Both variances over Var[f], so the stacked bar's height is the component's share of f. */
  reliableOfFeature: number;
  unreliableOfFeature: number;
  /** ρ_rel on the test samples (maps fitted on the training samples). */
  reliableRhoTest?: number;
}

/**
 * The file's reliability entries by order. The engine writes `reliableVariance` and
 * `unreliableVariance` already as shares of Var[f] (metrics/reliability.ts, reliabilitySplit),
 * so they are shown as they are.
 */
export function reliabilityRows(r: AnalysisResult): ReliabilityRow[] | undefined {
  if (!r.reliability || r.reliability.length === 0) return undefined;
  return [...r.reliability]
    .sort((a, b) => a.order - b.order)
    .map((x) => {
      const test = r.reliabilityTest?.find((t) => t.order === x.order);
      return {
        order: x.order,
        reliableRho: x.reliableRho,
        reliableOfFeature: x.reliableVariance,
        unreliableOfFeature: x.unreliableVariance,
        ...(test ? { reliableRhoTest: test.reliableRho } : {}),
      };
    });
}

/** The reliability table as the panel shows it: ρ_rel in percent, the two parts as shares of Var[f]. */
export function reliabilityTable(rows: ReliabilityRow[]): { columns: { key: string; title: string }[]; rows: Record<string, string>[] } {
  const withTest = rows.some((x) => x.reliableRhoTest !== undefined);
  return {
    columns: [
      { key: 'c', title: 'order' },
      { key: 'rel', title: 'reliable / Var[c]' },
      ...(withTest ? [{ key: 'relt', title: 'reliable / Var[c], test' }] : []),
      { key: 'relf', title: 'reliable / Var[f]' },
      { key: 'unrelf', title: 'unreliable / Var[f]' },
    ],
    rows: rows.map((x) => ({
      c: orderLabel(x.order),
      rel: pct(x.reliableRho),
      ...(withTest ? { relt: pct(x.reliableRhoTest) } : {}),
      relf: fixed(x.reliableOfFeature),
      unrelf: fixed(x.unreliableOfFeature),
    })),
  };
}

export interface ShapleyRow {
  order: number;
  phiTrain?: number;
  effectiveness?: number;
  phiGap?: number;
  overfitting?: number;
}

/** Effectiveness and over-fitting joined by order; either may be absent. */
export function shapleyRows(r: AnalysisResult): ShapleyRow[] | undefined {
  if (!r.effectiveness?.length && !r.overfitting?.length) return undefined;
  const byOrder = new Map<number, ShapleyRow>();
  const row = (order: number) => byOrder.get(order) ?? byOrder.set(order, { order }).get(order)!;
  for (const e of r.effectiveness ?? []) Object.assign(row(e.order), { phiTrain: e.phiTrain, effectiveness: e.alpha ?? undefined });
  for (const o of r.overfitting ?? []) Object.assign(row(o.order), { phiGap: o.phiGap, overfitting: o.alpha ?? undefined });
  return [...byOrder.values()].sort((a, b) => a.order - b.order);
}

export interface EfficiencyCheck {
  /** Σφ_train over all players against L_train(∅) − L_train(all); they agree for exact Shapley values. */
  sumPhiTrain: number;
  lossDecrease: number;
  sumPhiGap: number;
  gapIncrease: number;
}

export function efficiencyCheck(r: AnalysisResult): EfficiencyCheck | undefined {
  const s = r.shapley;
  if (!s) return undefined;
  return {
    sumPhiTrain: s.players.reduce((a, p) => a + p.phiTrain, 0),
    lossDecrease: s.train.lossEmpty - s.train.lossFull,
    sumPhiGap: s.players.reduce((a, p) => a + p.phiGap, 0),
    gapIncrease: s.test.lossFull - s.train.lossFull - (s.test.lossEmpty - s.train.lossEmpty),
  };
}

export interface SubstitutionRow {
  order: number;
  testAccuracy: number;
  testLoss: number;
}

export function substitutionRows(r: AnalysisResult): SubstitutionRow[] | undefined {
  if (!r.substitution?.length) return undefined;
  return [...r.substitution].sort((a, b) => a.order - b.order).map((s) => ({ order: s.order, testAccuracy: s.testAccuracy, testLoss: s.testLoss }));
}

/** "N of M orders finished", or "N orders finished" when the file does not say how many were planned. */
export function progressText(h: Headline): string {
  return h.totalOrders === undefined
    ? `incomplete: ${h.finishedOrders} order${h.finishedOrders === 1 ? '' : 's'} finished`
    : `incomplete: ${h.finishedOrders} of ${h.totalOrders} orders finished`;
}

export function formatSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Label and value of every setting the numbers depend on, in the order the panel lists them. */
export function settingsRows(r: AnalysisResult): [string, string][] {
  const rows: [string, string][] = [
    ['Checkpoint', r.checkpoint.format ? `${r.checkpoint.path} (${r.checkpoint.format})` : r.checkpoint.path],
    ['Checkpoint SHA-256', r.checkpoint.sha256 || '–'],
    ['Target layer', r.targetLayer],
    ['Dataset', r.dataset],
  ];
  const d = r.datasetInfo;
  if (d?.format || d?.normalization)
    rows.push(['Dataset format', [d.format, d.normalization && `normalization ${d.normalization}`].filter(Boolean).join(', ')]);
  if (d?.trainSamples !== undefined || d?.testSamples !== undefined)
    rows.push(['Samples evaluated (train / test)', `${d.trainSamples ?? '–'} / ${d.testSamples ?? '–'}`]);
  const planned = r.plannedOrders && r.plannedOrders.join(', ') !== r.orders.join(', ') ? ` (of ${r.plannedOrders.join(', ')} planned)` : '';
  rows.push(['Orders', `${r.orders.join(', ')}${planned}`], ['Budget', r.budget]);
  if (r.width !== undefined) rows.push(['Disentangler width', String(r.width)]);
  if (r.geometryNote) rows.push(['Disentangler grid', r.geometryNote]);
  rows.push(['Seed', String(r.seed)], ['Backend', r.backendDetail ? `${r.backend}: ${r.backendDetail}` : r.backend]);
  if (r.threads !== undefined) rows.push(['Threads per training step', String(r.threads)]);
  rows.push(['Var[f] (train / test)', `${fixed(r.featureVariance)} / ${fixed(r.featureVarianceTest)}`]);
  rows.push(['Teacher accuracy (train / test)', `${pct(r.teacher.trainAccuracy, 2)} / ${pct(r.teacher.testAccuracy, 2)}`]);
  rows.push(['Teacher loss (train / test)', `${fixed(r.teacher.trainLoss)} / ${fixed(r.teacher.testLoss)}`]);
  if (r.shapley?.baseline) rows.push(['Removed components replaced by', r.shapley.baseline]);
  const rs = r.reliabilitySettings;
  if (rs) {
    const method =
      rs.method === 'joint'
        ? 'joint (one Φ per order shared by all networks, a linear head each)'
        : "target Φ (the model's own disentanglers, closed-form heads)";
    // A file may leave the exemplars' paths out (the schema allows it): their count is then K − 1.
    const exemplars = rs.exemplars?.length ?? rs.networks - 1;
    rows.push([
      'Reliability',
      `${method}; K = ${rs.networks} networks (the model and ${exemplars} exemplar${exemplars === 1 ? '' : 's'}), ${rs.rounds} cycle rounds, ${rs.samples} samples`,
    ]);
    rows.push([
      'Reliability rule',
      rs.version
        ? `version ${rs.version} (back maps from each network's own feature; see docs/METRICS.md)`
        : 'the earlier rule (before version 2): shares not comparable with newer results',
    ]);
    if (rs.exemplars?.length) rows.push(['Exemplars', rs.exemplars.join(', ')]);
  }
  for (const [stage, s] of Object.entries(r.timing)) rows.push([`Time: ${stage}`, formatSeconds(s)]);
  if (r.engineVersion) rows.push(['Engine version', r.engineVersion]);
  if (r.createdAt) rows.push(['Written at', r.createdAt]);
  return rows;
}

function csvCell(v: string | number | undefined): string {
  if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One row per order plus one for the residue, one column per number the panel shows.
 * Empty cells where the file has no such number.
 */
export function toCsv(r: AnalysisResult): string {
  const rel = new Map((reliabilityRows(r) ?? []).map((x) => [x.order, x]));
  const sh = new Map((shapleyRows(r) ?? []).map((x) => [x.order, x]));
  const sub = new Map((substitutionRows(r) ?? []).map((x) => [x.order, x]));
  const header = [
    'component',
    'order',
    'rho_train',
    'rho_test',
    'variance_train',
    'variance_test',
    'final_loss',
    'reliable_rho',
    'reliable_var_over_f',
    'unreliable_var_over_f',
    'phi_train',
    'effectiveness',
    'phi_gap',
    'overfitting',
    'substitution_test_accuracy',
    'substitution_test_loss',
  ];
  const lines = [header.join(',')];
  for (const c of r.components) {
    const a = rel.get(c.order);
    const s = sh.get(c.order);
    const u = sub.get(c.order);
    const last = c.lossCurve?.length ? c.lossCurve[c.lossCurve.length - 1] : undefined;
    lines.push(
      [
        `c${c.order}`,
        c.order,
        c.rho,
        c.rhoTest,
        c.variance,
        c.varianceTest,
        last,
        a?.reliableRho,
        a?.reliableOfFeature,
        a?.unreliableOfFeature,
        s?.phiTrain,
        s?.effectiveness,
        s?.phiGap,
        s?.overfitting,
        u?.testAccuracy,
        u?.testLoss,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  const residuePlayer = r.shapley?.players.find((p) => /resid/i.test(p.name));
  lines.push(
    [
      'residue',
      '',
      r.residue.rho,
      r.residue.rhoTest,
      r.residue.variance,
      r.residue.varianceTest,
      '',
      '',
      '',
      '',
      residuePlayer?.phiTrain,
      '',
      residuePlayer?.phiGap,
      '',
      '',
      '',
    ]
      .map((v) => csvCell(v as string | number | undefined))
      .join(','),
  );
  lines.push(
    ['teacher', '', '', '', r.featureVariance, '', '', '', '', '', '', '', '', '', r.teacher.testAccuracy, r.teacher.testLoss]
      .map((v) => csvCell(v as string | number))
      .join(','),
  );
  return lines.join('\n') + '\n';
}

/** Base name for exported files: the result file's name without `.json`. */
export const exportBaseName = (fileName: string): string => fileName.replace(/\.json$/i, '');

export interface AxisCut {
  /** Bars are drawn within ±limit. */
  limit: number;
  /** Index of each value beyond the limit. */
  cut: number[];
}

/**
 * A ratio such as α_overfit = φ_gap / φ_train explodes where φ_train is near zero, and one such
 * bar would flatten all the others. When the largest |value| is more than `ratio` times the next
 * one (repeatedly, for at most a quarter of the bars), those bars are cut at the axis edge.
 * Undefined when nothing needs cutting.
 */
export function axisCut(values: (number | undefined)[], ratio = 5): AxisCut | undefined {
  const finite = values.map((v, i) => ({ i, a: v === undefined || !Number.isFinite(v) ? -1 : Math.abs(v) })).filter((x) => x.a >= 0);
  if (finite.length < 3) return undefined;
  finite.sort((x, y) => y.a - x.a);
  const cut: number[] = [];
  while (cut.length < Math.floor(finite.length / 4) && finite[cut.length].a > ratio * finite[cut.length + 1].a) cut.push(finite[cut.length].i);
  if (cut.length === 0) return undefined;
  return { limit: finite[cut.length].a * 1.25, cut: cut.sort((x, y) => x - y) };
}
