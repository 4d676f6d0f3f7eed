/**
 * Headline numbers of one analysis, for one-line displays (CodeLens, the Analyses view, the panel
 * header). Pure and dependency-free so that the host and the webview can both import it.
 */

/** The fields of a result file that a headline needs (a structural subset of the result type). */
export interface SummarySource {
  orders: number[];
  components: { order: number; rho: number }[];
  residue: { rho: number };
  teacher?: { testAccuracy?: number };
  reliability?: { order: number; reliableRho: number; reliableVariance: number; unreliableVariance: number }[];
  complete?: boolean;
}

export interface Summary {
  /** Share of Var[f] in components of order l ≤ 4, 4 < l ≤ 14, l > 14, and in the residue. */
  low: number;
  mid: number;
  high: number;
  residue: number;
  /** Share of the explained variance (all components) that is reliable, when measured. */
  reliable?: number;
  testAccuracy?: number;
  /** Orders finished / orders asked for. */
  finished: number;
  total: number;
}

export const LOW_MAX_ORDER = 4;
export const MID_MAX_ORDER = 14;

export function summarize(r: SummarySource): Summary {
  let low = 0;
  let mid = 0;
  let high = 0;
  for (const c of r.components) {
    if (c.order <= LOW_MAX_ORDER) low += c.rho;
    else if (c.order <= MID_MAX_ORDER) mid += c.rho;
    else high += c.rho;
  }
  let reliable: number | undefined;
  if (r.reliability?.length) {
    const rel = r.reliability.reduce((s, x) => s + x.reliableVariance, 0);
    const all = r.reliability.reduce((s, x) => s + x.reliableVariance + x.unreliableVariance, 0);
    reliable = all > 0 ? rel / all : undefined;
  }
  return { low, mid, high, residue: r.residue.rho, reliable, testAccuracy: r.teacher?.testAccuracy, finished: r.components.length, total: r.orders.length };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** e.g. "low 61% · mid 24% · high 9% · residue 6% · reliable 70% · test acc 88.1%". */
export function formatSummary(s: Summary): string {
  const parts = [`low ${pct(s.low)}`, `mid ${pct(s.mid)}`, `high ${pct(s.high)}`, `residue ${pct(s.residue)}`];
  if (s.reliable !== undefined) parts.push(`reliable ${pct(s.reliable)}`);
  if (s.testAccuracy !== undefined) parts.push(`test acc ${(100 * s.testAccuracy).toFixed(1)}%`);
  if (s.finished < s.total) parts.push(`${s.finished}/${s.total} orders`);
  return parts.join(' · ');
}
