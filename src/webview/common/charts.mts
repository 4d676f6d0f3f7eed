/**
 * chart.js configurations for each section, coloured from the VS Code theme. Only the
 * controllers, elements and scales used here are registered, to keep the bundle small.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartDataset,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  type Plugin,
  PointElement,
  ScatterController,
  Tooltip,
} from 'chart.js';
import {
  type DrawnValues,
  type LossSeries,
  type ReliabilityRow,
  type ShapleyRow,
  type SignificanceRow,
  type SubstitutionRow,
  axisCut,
  hasTestRho,
  orderLabel,
} from '../results/render.js';
import { type Theme, withAlpha } from './theme.js';

/**
 * After each draw, writes what every bar or point shows, recovered from where it was drawn (a
 * stacked bar's value is its top minus its base on the value scale), into the canvas's
 * `data-drawn` attribute as JSON. The chart itself is pixels; this lets the page be checked
 * against the result file it came from (the e2e tests do) without trusting the data handed in.
 */
export const drawnValuesPlugin: Plugin<'bar' | 'line'> = {
  id: 'fcDrawnValues',
  afterDraw(chart) {
    const datasets = chart.data.datasets.map((d, i) => {
      const meta = chart.getDatasetMeta(i);
      const scale = meta.vScale;
      const values = meta.data.map((el) => {
        if (!scale) return null;
        const p = el.getProps(['x', 'y', 'base', 'horizontal'], true) as { x: number; y: number; base?: number; horizontal?: boolean };
        const at = p.horizontal ? p.x : p.y;
        const v = p.base === undefined ? scale.getValueForPixel(at) : (scale.getValueForPixel(at) ?? NaN) - (scale.getValueForPixel(p.base) ?? NaN);
        return v !== undefined && Number.isFinite(v) ? v : null;
      });
      return { label: String(d.label ?? ''), values };
    });
    const scale = chart.data.datasets.length ? chart.getDatasetMeta(0).vScale : undefined;
    const perPixel = scale ? Math.abs((scale.getValueForPixel(0) ?? NaN) - (scale.getValueForPixel(1) ?? NaN)) : NaN;
    const drawn: DrawnValues = { labels: (chart.data.labels ?? []).map(String), datasets, perPixel: Number.isFinite(perPixel) ? perPixel : null };
    chart.canvas.setAttribute('data-drawn', JSON.stringify(drawn));
  },
};

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Legend,
  Tooltip,
  Filler,
  drawnValuesPlugin,
);

/**
 * Paints the editor background under the chart, so an exported PNG keeps its contrast outside
 * VS Code. The colour comes from the chart's options, so a theme change needs no new plugin.
 */
export const backgroundPlugin: Plugin<'bar' | 'line', { color?: string }> = {
  id: 'fcBackground',
  beforeDraw(chart, _args, options) {
    if (!options.color) return;
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = options.color;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

export function base(theme: Theme, yTitle: string, xTitle: string) {
  const font = { family: theme.fontFamily, size: theme.fontSize };
  const axis = (title: string) => ({
    title: { display: true, text: title, color: theme.foreground, font },
    ticks: { color: theme.foreground, font },
    grid: { color: theme.grid },
    border: { color: theme.border },
  });
  return {
    font,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      // Live updates arrive every finished order; animating each one only distracts.
      animation: false as const,
      color: theme.foreground,
      font,
      plugins: {
        // Point styles make a dashed line's legend entry a dashed line, not a hatched box.
        legend: { labels: { color: theme.foreground, font, boxWidth: 14, usePointStyle: true, pointStyleWidth: 26 } },
        fcBackground: { color: theme.background },
        tooltip: { titleFont: font, bodyFont: font },
      },
      scales: { x: axis(xTitle), y: axis(yTitle) },
    },
  };
}

export type AnyChartConfig = ChartConfiguration<'bar' | 'line', unknown[], unknown>;

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

/** Keeps one chart per canvas and swaps its data and colours in place on updates. */
export class ChartRegistry {
  private readonly charts = new Map<HTMLCanvasElement, Chart>();

  show(canvas: HTMLCanvasElement, config: AnyChartConfig): void {
    const existing = this.charts.get(canvas);
    if (existing && (existing.config as { type?: string }).type === config.type) {
      existing.data = config.data as Chart['data'];
      existing.options = config.options as Chart['options'];
      existing.update('none');
      return;
    }
    existing?.destroy();
    this.charts.set(canvas, new Chart(canvas, config as ChartConfiguration));
  }

  remove(canvas: HTMLCanvasElement): void {
    this.charts.get(canvas)?.destroy();
    this.charts.delete(canvas);
  }

  /** A PNG of what the canvas shows now, at its device-pixel resolution. */
  png(canvas: HTMLCanvasElement): string | undefined {
    return this.charts.get(canvas)?.toBase64Image('image/png', 1);
  }
}

// ── for the comparison, prediction and calibration charts ─────────────────────

Chart.register(ScatterController);

/** Round legend markers: the base's wide marker, meant for dashed lines, stretches a circle into an ellipse. */
export const compactLegend = (b: ReturnType<typeof base>) => ({
  ...b.options.plugins.legend,
  labels: { ...b.options.plugins.legend.labels, pointStyleWidth: 0, boxWidth: 9, boxHeight: 9 },
});

/** One colour per analysis or task; past the palette, colours repeat. */
export const colorOf = (theme: Theme, i: number) => theme.series[i % theme.series.length];
