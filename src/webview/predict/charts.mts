/** chart.js configurations of the prediction view, on the base of the results panel's charts (../common/charts.mts). */
import type { TooltipItem } from 'chart.js';
import { type AnyChartConfig, backgroundPlugin, base, compactLegend } from '../common/charts.mjs';
import { type Theme, withAlpha } from '../common/theme.js';
import { type IsoLine, type PcaMap, type PredictedVsActual, scaleColor } from './render.js';

type Labelled = { label: string; x: number; y: number };
const pointTooltip = (unit: string) => ({
  callbacks: {
    label: (item: TooltipItem<'scatter'>) => {
      const p = item.raw as Partial<Labelled> & { value?: number };
      if (!p.label) return '';
      return p.value === undefined
        ? `${p.label}: measured ${p.x?.toFixed(2)}${unit}, predicted ${p.y?.toFixed(2)}${unit}`
        : `${p.label}: ${p.value.toFixed(2)}${unit}`;
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
        {
          type: 'line',
          label: 'y = x (perfect prediction)',
          data: [
            { x: min, y: min },
            { x: max, y: max },
          ],
          borderColor: withAlpha(theme.foreground, 0.6),
          borderDash: [6, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          pointStyle: 'line',
          order: 3,
        },
        {
          label: 'held out (mean over splits)',
          data: d.heldOut,
          backgroundColor: withAlpha(theme.blue, 0.85),
          borderColor: theme.blue,
          pointRadius: 5,
          pointHoverRadius: 7,
          pointStyle: 'circle',
          order: 1,
        },
        {
          label: 'fitted on all models',
          data: d.fitted,
          backgroundColor: 'transparent',
          borderColor: withAlpha(theme.foreground, 0.55),
          borderWidth: 1.5,
          pointRadius: 4,
          pointStyle: 'circle',
          order: 2,
        },
        ...(d.chosen
          ? [
              {
                label: `prediction: ${d.chosen.label}`,
                data: [d.chosen],
                backgroundColor: theme.orange,
                borderColor: theme.foreground,
                borderWidth: 1.5,
                pointRadius: 9,
                pointHoverRadius: 11,
                pointStyle: 'rectRot',
                order: 0,
              },
            ]
          : []),
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
        ...iso.map((l, i) => ({
          type: 'line',
          label: i === 0 ? ISO_LEGEND : l.label,
          data: l.points,
          borderColor: color(l.value),
          borderDash: [4, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          pointStyle: 'line',
          order: 3,
        })),
        {
          label: 'analysed models',
          data: m.points,
          backgroundColor: m.points.map((p) => color(p.value)),
          borderColor: withAlpha(theme.foreground, 0.5),
          borderWidth: 1,
          pointRadius: 6,
          pointHoverRadius: 8,
          pointStyle: 'circle',
          order: 1,
        },
        ...(m.chosen
          ? [
              {
                label: `${m.chosen.label} (predicted)`,
                data: [m.chosen],
                backgroundColor: color(m.chosen.value),
                borderColor: theme.foreground,
                borderWidth: 2,
                pointRadius: 10,
                pointHoverRadius: 12,
                pointStyle: 'rectRot',
                order: 0,
              },
            ]
          : []),
      ],
    },
    options: {
      ...b.options,
      plugins: {
        ...b.options.plugins,
        tooltip: { ...b.options.plugins.tooltip, ...pointTooltip(unit) },
        // The colour bar under the chart is the legend of the point colours; only the chosen model and the iso-lines need names.
        legend: {
          ...compactLegend(b),
          labels: { ...compactLegend(b).labels, filter: (item: { text: string }) => item.text === ISO_LEGEND || item.text.endsWith('(predicted)') },
        },
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
