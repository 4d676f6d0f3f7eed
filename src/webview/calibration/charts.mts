/** chart.js configurations of the calibration view, on the base of the results panel's charts (../common/charts.mts). */
import { type AnyChartConfig, backgroundPlugin, base, colorOf, compactLegend } from '../common/charts.mjs';
import type { CalibrationSeries } from '../../shared/files/calibration.js';
import { type Theme } from '../common/theme.js';

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
      datasets: [
        {
          label: 'centre of mass',
          data: series.map((s) => s.centre),
          borderColor: theme.purple,
          backgroundColor: theme.purple,
          borderWidth: 2,
          pointRadius: 4,
          pointStyle: 'circle',
        },
      ],
    },
    options: {
      ...b.options,
      plugins: { ...b.options.plugins, legend: { display: false } },
      scales: { ...b.options.scales, y: { ...b.options.scales.y, min: 0, max: orderCount, ticks: { ...b.options.scales.y.ticks, stepSize: 1 } } },
    },
    plugins: [backgroundPlugin],
  } as AnyChartConfig;
}
