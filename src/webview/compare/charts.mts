/** chart.js configurations of the comparison view, on the base of the results panel's charts (../common/charts.mts). */
import { type AnyChartConfig, backgroundPlugin, base, colorOf, compactLegend } from '../common/charts.mjs';
import { type Theme, withAlpha } from '../common/theme.js';
import { type CompareReliabilityRow, type CompareRow, type Compared, isZoo } from './render.js';

export function compareChart(rows: CompareRow[], items: Compared[], theme: Theme): AnyChartConfig {
  const b = base(theme, 'ρ = Var[component] / Var[f] (train)', 'component (order l of the disentangler)');
  const y = { ...b.options.scales.y, beginAtZero: true };
  if (isZoo(items)) {
    return {
      type: 'line',
      data: {
        labels: rows.map((r) => r.label),
        datasets: items.map((c, i) => ({
          label: c.label,
          data: rows.map((r) => r.rho[i] ?? NaN),
          borderColor: colorOf(theme, i),
          backgroundColor: colorOf(theme, i),
          borderWidth: 1.5,
          pointRadius: 3,
          pointStyle: 'circle',
          // Past the palette colours repeat; the dash tells those lines apart.
          borderDash: i >= theme.series.length - 2 ? [6, 3] : undefined,
        })),
      },
      options: {
        ...b.options,
        plugins: { ...b.options.plugins, legend: compactLegend(b) },
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: { ...b.options.scales, y },
      },
      plugins: [backgroundPlugin],
    } as AnyChartConfig;
  }
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.label),
      datasets: items.map((c, i) => ({
        label: c.label,
        data: rows.map((r) => r.rho[i] ?? NaN),
        // The residue is not a learned component: lighter fill with an edge, as in the results panel.
        backgroundColor: rows.map((r) => withAlpha(colorOf(theme, i), r.order === null ? 0.35 : 0.85)),
        borderColor: colorOf(theme, i),
        borderWidth: rows.map((r) => (r.order === null ? 2 : 0)),
        pointStyle: 'rect',
      })),
    },
    options: { ...b.options, scales: { ...b.options.scales, y } },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

/** Per order, one stacked bar per analysis: reliable part solid, unreliable part light. */
export function compareReliabilityChart(rows: CompareReliabilityRow[], items: Compared[], theme: Theme): AnyChartConfig {
  // Analyses without reliability get no empty slot; each keeps its colour from the ρ chart.
  const shown = items.map((c, i) => ({ c, i })).filter(({ i }) => rows.some((r) => r.reliable[i] !== undefined));
  const b = base(theme, 'Var[part of component] / Var[f]', 'component (order l); solid = reliable, light = unreliable');
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => `l = ${r.order}`),
      datasets: shown.flatMap(({ c, i }) => [
        {
          label: `${c.label}: reliable`,
          data: rows.map((r) => r.reliable[i] ?? NaN),
          backgroundColor: withAlpha(colorOf(theme, i), 0.9),
          stack: `a${i}`,
          pointStyle: 'rect',
        },
        {
          label: `${c.label}: unreliable`,
          data: rows.map((r) => r.unreliable[i] ?? NaN),
          backgroundColor: withAlpha(colorOf(theme, i), 0.3),
          borderColor: colorOf(theme, i),
          borderWidth: 1,
          stack: `a${i}`,
          pointStyle: 'rect',
        },
      ]),
    },
    options: {
      ...b.options,
      // Two legend entries per analysis would bury a zoo's chart; its colours are those of the ρ chart's legend.
      plugins: { ...b.options.plugins, legend: { ...b.options.plugins.legend, display: !isZoo(items) } },
      scales: { x: { ...b.options.scales.x, stacked: true }, y: { ...b.options.scales.y, stacked: true, beginAtZero: true } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}
