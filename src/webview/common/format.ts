/** How every panel writes numbers and orders, and the caveat every ρ display carries. */

export const CAVEAT =
  'ρ is a relative distribution for comparing models analysed with the same settings; a finite disentangler cannot learn everything, so it is not an exact decomposition.';

export const orderLabel = (order: number): string => `l = ${order}`;

export const pct = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)} %`);
export const fixed = (x: number | undefined, digits = 4): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
