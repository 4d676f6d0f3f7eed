/** chart.js configurations of the results panel, on the shared base (../common/charts.mts). */
import type { ChartDataset } from 'chart.js';
import { type AnyChartConfig, backgroundPlugin, base } from '../common/charts.mjs';
import { type Theme, withAlpha } from '../common/theme.js';
import { type LossSeries, type ReliabilityRow, type ShapleyRow, type SignificanceRow, type SubstitutionRow, axisCut, hasTestRho } from './render.js';
import { orderLabel } from '../common/format.js';

export function significanceChart(rows: SignificanceRow[], theme: Theme): AnyChartConfig {
  const b = base(theme, 'ρ = Var[component] / Var[f]', 'component (order l of the disentangler)');
  // The residue is not a learned component: same colour, hatched look via a lighter fill and dashed edge.
  const fill = (c: string) => rows.map((r) => (r.order === null ? withAlpha(c, 0.35) : withAlpha(c, 0.85)));
  const datasets: ChartDataset<'bar', number[]>[] = [
    {
      label: 'train',
      data: rows.map((r) => r.rhoTrain),
      backgroundColor: fill(theme.blue),
      borderColor: theme.blue,
      borderWidth: rows.map((r) => (r.order === null ? 2 : 0)),
      pointStyle: 'rect',
    },
  ];
  if (hasTestRho(rows)) {
    datasets.push({
      label: 'test',
      data: rows.map((r) => r.rhoTest ?? NaN),
      backgroundColor: fill(theme.orange),
      borderColor: theme.orange,
      borderWidth: rows.map((r) => (r.order === null ? 2 : 0)),
      pointStyle: 'rect',
    });
  }
  return {
    type: 'bar',
    data: { labels: rows.map((r) => r.label), datasets },
    options: { ...b.options, scales: { ...b.options.scales, y: { ...b.options.scales.y, beginAtZero: true } } },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

export function lossChart(series: LossSeries[], theme: Theme): AnyChartConfig {
  const b = base(theme, 'MSE of Φ⁽ˡ⁾(x) against f(x) (log scale)', 'epoch');
  return {
    type: 'line',
    data: {
      datasets: series.map((s, i) => ({
        label: orderLabel(s.order),
        data: s.points,
        borderColor: theme.series[i % theme.series.length],
        backgroundColor: theme.series[i % theme.series.length],
        borderWidth: 2,
        pointRadius: 0,
        pointHoverRadius: 3,
        pointStyle: 'line',
        // Lower orders solid, higher orders dashed: the eight lines stay apart even where colours are close.
        borderDash: i >= 6 ? [6, 3] : undefined,
      })),
    },
    options: {
      ...b.options,
      parsing: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { ...b.options.scales.x, type: 'linear', min: 1, ticks: { ...b.options.scales.x.ticks, precision: 0 } },
        y: {
          ...b.options.scales.y,
          type: 'logarithmic',
          grid: { color: (c: { tick?: { label?: unknown } }) => (c.tick?.label ? theme.grid : theme.gridMinor) },
          ticks: {
            ...b.options.scales.y.ticks,
            autoSkip: false,
            // Label only 1, 2 and 5 × 10^k: chart.js labels every minor tick, which collide.
            callback: (v: string | number) => {
              const x = Number(v);
              const m = x / 10 ** Math.floor(Math.log10(x) + 1e-9);
              return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? String(Number(x.toPrecision(3))) : '';
            },
          },
        },
      },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

export function reliabilityChart(rows: ReliabilityRow[], theme: Theme): AnyChartConfig {
  const b = base(theme, 'Var[part of component] / Var[f]', 'component (order l)');
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => orderLabel(r.order)),
      datasets: [
        { label: 'reliable', data: rows.map((r) => r.reliableOfFeature), backgroundColor: withAlpha(theme.green, 0.85), stack: 'c', pointStyle: 'rect' },
        { label: 'unreliable', data: rows.map((r) => r.unreliableOfFeature), backgroundColor: withAlpha(theme.red, 0.75), stack: 'c', pointStyle: 'rect' },
      ],
    },
    options: {
      ...b.options,
      scales: { x: { ...b.options.scales.x, stacked: true }, y: { ...b.options.scales.y, stacked: true, beginAtZero: true } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

/** One bar chart per Shapley metric: their scales differ by orders of magnitude. */
export function shapleyChart(rows: ShapleyRow[], metric: 'effectiveness' | 'overfitting', theme: Theme): AnyChartConfig {
  const isEff = metric === 'effectiveness';
  const b = base(theme, isEff ? 'α_effective = φ_train / √Var[c]' : 'α_overfit = φ_gap / φ_train', 'component (order l)');
  const color = isEff ? theme.blue : theme.red;
  const values = rows.map((r) => (isEff ? r.effectiveness : r.overfitting));
  const cut = axisCut(values);
  const isCut = (i: number) => cut?.cut.includes(i) ?? false;
  const hasNegative = values.some((v) => v !== undefined && v < 0);
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => orderLabel(r.order)),
      datasets: [
        {
          label: isEff ? 'effectiveness' : 'over-fitting',
          // A cut bar ends at the axis edge, drawn hollow; the note under the chart and the table give its value.
          data: values.map((v, i) => (v === undefined ? NaN : isCut(i) ? Math.sign(v) * cut!.limit : v)),
          backgroundColor: values.map((_, i) => withAlpha(color, isCut(i) ? 0.25 : 0.85)),
          borderColor: color,
          borderWidth: values.map((_, i) => (isCut(i) ? 2 : 0)),
          borderDash: [4, 3],
        },
      ],
    },
    options: {
      ...b.options,
      plugins: { ...b.options.plugins, legend: { display: false } },
      scales: { ...b.options.scales, y: { ...b.options.scales.y, ...(cut ? { max: cut.limit, min: hasNegative ? -cut.limit : 0 } : {}) } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}

export function substitutionChart(rows: SubstitutionRow[], teacherAccuracy: number, theme: Theme): AnyChartConfig {
  const b = base(theme, 'test accuracy (%)', 'head fed Φ⁽ˡ⁾(x) instead of f(x)');
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => orderLabel(r.order)),
      datasets: [
        {
          type: 'line',
          label: `teacher (f(x)): ${(teacherAccuracy * 100).toFixed(1)} %`,
          data: rows.map(() => teacherAccuracy * 100),
          borderColor: theme.foreground,
          backgroundColor: theme.foreground,
          borderDash: [6, 4],
          borderWidth: 2,
          pointRadius: 0,
          pointStyle: 'line',
          order: 0,
        },
        {
          type: 'bar',
          label: 'substituted Φ⁽ˡ⁾',
          data: rows.map((r) => r.testAccuracy * 100),
          backgroundColor: withAlpha(theme.purple, 0.85),
          pointStyle: 'rect',
          order: 1,
        },
      ],
    },
    options: { ...b.options, scales: { ...b.options.scales, y: { ...b.options.scales.y, min: 0, max: 100 } } },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}
