/**
 * chart.js configurations of the comparison, prediction and calibration views, on the same base
 * (theme colours, fonts, painted background) as the results panel's charts.
 */
import { Chart, ScatterController, type TooltipItem } from 'chart.js';
import { type AnyChartConfig, backgroundPlugin, base } from './charts.mjs';
import type { CalibrationSeries } from '../shared/files/calibration.js';
import { type CompareReliabilityRow, type CompareRow, type Compared, isZoo } from './compareRender.js';
import { type IsoLine, type PcaMap, type PredictedVsActual, scaleColor } from './predictRender.js';
import { type Theme, withAlpha } from './theme.js';

Chart.register(ScatterController);

/** Round legend markers: the base's wide marker, meant for dashed lines, stretches a circle into an ellipse. */
const compactLegend = (b: ReturnType<typeof base>) => ({ ...b.options.plugins.legend, labels: { ...b.options.plugins.legend.labels, pointStyleWidth: 0, boxWidth: 9, boxHeight: 9 } });

/** One colour per analysis or task; past the palette, colours repeat. */
const colorOf = (theme: Theme, i: number) => theme.series[i % theme.series.length];

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
      options: { ...b.options, plugins: { ...b.options.plugins, legend: compactLegend(b) }, interaction: { mode: 'nearest', axis: 'x', intersect: false }, scales: { ...b.options.scales, y } },
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
        { label: `${c.label}: reliable`, data: rows.map((r) => r.reliable[i] ?? NaN), backgroundColor: withAlpha(colorOf(theme, i), 0.9), stack: `a${i}`, pointStyle: 'rect' },
        { label: `${c.label}: unreliable`, data: rows.map((r) => r.unreliable[i] ?? NaN), backgroundColor: withAlpha(colorOf(theme, i), 0.3), borderColor: colorOf(theme, i), borderWidth: 1, stack: `a${i}`, pointStyle: 'rect' },
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

type Labelled = { label: string; x: number; y: number };
const pointTooltip = (unit: string) => ({
  callbacks: {
    label: (item: TooltipItem<'scatter'>) => {
      const p = item.raw as Partial<Labelled> & { value?: number };
      if (!p.label) return '';
      return p.value === undefined ? `${p.label}: measured ${p.x?.toFixed(2)}${unit}, predicted ${p.y?.toFixed(2)}${unit}` : `${p.label}: ${p.value.toFixed(2)}${unit}`;
    },
  },
});

export function predictedVsActualChart(d: PredictedVsActual, unit: string, what: string, theme: Theme): AnyChartConfig {
  const b = base(theme, `predicted ${what}${unit ? ` (${unit.trim()})` : ''}`, `measured ${what}${unit ? ` (${unit.trim()})` : ''}`);
  const { min, max } = d.range;
  const axis = (a: typeof b.options.scales.x) => ({ ...a, type: 'linear' as const, min, max });
  return {
    type: 'scatter',
    data: {
      datasets: [
        { type: 'line', label: 'y = x (perfect prediction)', data: [{ x: min, y: min }, { x: max, y: max }], borderColor: withAlpha(theme.foreground, 0.6), borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, pointStyle: 'line', order: 3 },
        { label: 'held out (mean over splits)', data: d.heldOut, backgroundColor: withAlpha(theme.blue, 0.85), borderColor: theme.blue, pointRadius: 5, pointHoverRadius: 7, pointStyle: 'circle', order: 1 },
        { label: 'fitted on all models', data: d.fitted, backgroundColor: 'transparent', borderColor: withAlpha(theme.foreground, 0.55), borderWidth: 1.5, pointRadius: 4, pointStyle: 'circle', order: 2 },
        ...(d.chosen ? [{ label: `prediction: ${d.chosen.label}`, data: [d.chosen], backgroundColor: theme.orange, borderColor: theme.foreground, borderWidth: 1.5, pointRadius: 9, pointHoverRadius: 11, pointStyle: 'rectRot', order: 0 }] : []),
      ],
    },
    options: {
      ...b.options,
      plugins: { ...b.options.plugins, legend: compactLegend(b), tooltip: { ...b.options.plugins.tooltip, ...pointTooltip(unit) } },
      scales: { x: axis(b.options.scales.x), y: axis(b.options.scales.y) },
    },
    plugins: [backgroundPlugin],
  } as unknown as AnyChartConfig;
}

/** The models in the PCA plane, coloured from blue (lowest target) to orange (highest), with the regressor's iso-lines. */
export function pcaChart(m: PcaMap, iso: IsoLine[], unit: string, theme: Theme): AnyChartConfig {
  const pct = (i: 0 | 1) => `${(100 * m.explained[i]).toFixed(1)} %`;
  const b = base(theme, `PC 2 (${pct(1)} of the variance)`, `PC 1 (${pct(0)} of the variance)`);
  const color = (v: number) => scaleColor(v, m.min, m.max, theme.blue, theme.orange);
  const all = [...m.points, ...(m.chosen ? [m.chosen] : [])];
  const span = (get: (p: Labelled) => number) => {
    const v = all.map(get);
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    const pad = Math.max((hi - lo) * 0.08, 1e-9);
    return { min: lo - pad, max: hi + pad };
  };
  return {
    type: 'scatter',
    data: {
      datasets: [
        // Coloured like the points, so the colour bar reads the lines too; one legend entry names them all.
        ...iso.map((l, i) => ({ type: 'line', label: i === 0 ? ISO_LEGEND : l.label, data: l.points, borderColor: color(l.value), borderDash: [4, 4], borderWidth: 1.5, pointRadius: 0, pointStyle: 'line', order: 3 })),
        { label: 'analysed models', data: m.points, backgroundColor: m.points.map((p) => color(p.value)), borderColor: withAlpha(theme.foreground, 0.5), borderWidth: 1, pointRadius: 6, pointHoverRadius: 8, pointStyle: 'circle', order: 1 },
        ...(m.chosen ? [{ label: `${m.chosen.label} (predicted)`, data: [m.chosen], backgroundColor: color(m.chosen.value), borderColor: theme.foreground, borderWidth: 2, pointRadius: 10, pointHoverRadius: 12, pointStyle: 'rectRot', order: 0 }] : []),
      ],
    },
    options: {
      ...b.options,
      plugins: {
        ...b.options.plugins,
        tooltip: { ...b.options.plugins.tooltip, ...pointTooltip(unit) },
        // The colour bar under the chart is the legend of the point colours; only the chosen model and the iso-lines need names.
        legend: { ...compactLegend(b), labels: { ...compactLegend(b).labels, filter: (item: { text: string }) => item.text === ISO_LEGEND || item.text.endsWith('(predicted)') } },
      },
      scales: { x: { ...b.options.scales.x, type: 'linear', ...span((p) => p.x) }, y: { ...b.options.scales.y, type: 'linear', ...span((p) => p.y) } },
    },
    plugins: [backgroundPlugin],
  } as unknown as AnyChartConfig;
}

const ISO_LEGEND = 'regressor: lines of equal prediction';

/** CSS gradient of the PCA colour scale, for the colour bar element. */
export function colourBarGradient(theme: Theme): string {
  return `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map((t) => scaleColor(t, 0, 1, theme.blue, theme.orange)).join(', ')})`;
}

export function calibrationChart(labels: string[], series: CalibrationSeries[], theme: Theme): AnyChartConfig {
  const b = base(theme, 'ρ of the target DNN’s component', 'component (order l of the disentangler)');
  return {
    type: 'line',
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: `task k = ${s.k}`,
        data: s.rho.map((v) => v ?? NaN),
        borderColor: colorOf(theme, i),
        backgroundColor: colorOf(theme, i),
        borderWidth: 2,
        pointRadius: 3.5,
        pointStyle: 'circle',
        borderDash: i >= 6 ? [6, 3] : undefined,
      })),
    },
    options: {
      ...b.options,
      plugins: { ...b.options.plugins, legend: compactLegend(b) },
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: { ...b.options.scales, y: { ...b.options.scales.y, beginAtZero: true } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

export function centreChart(series: CalibrationSeries[], orderCount: number, theme: Theme): AnyChartConfig {
  const b = base(theme, `centre of mass of ρ (order index; residue = ${orderCount})`, 'task net depth k (ReLU layers)');
  return {
    type: 'line',
    data: {
      labels: series.map((s) => `k = ${s.k}`),
      datasets: [{ label: 'centre of mass', data: series.map((s) => s.centre), borderColor: theme.purple, backgroundColor: theme.purple, borderWidth: 2, pointRadius: 4, pointStyle: 'circle' }],
    },
    options: {
      ...b.options,
      plugins: { ...b.options.plugins, legend: { display: false } },
      scales: { ...b.options.scales, y: { ...b.options.scales.y, min: 0, max: orderCount, ticks: { ...b.options.scales.y.ticks, stepSize: 1 } } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}
