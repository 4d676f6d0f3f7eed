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
import type { DrawnValues } from './drawnValues.js';
import { type Theme } from './theme.js';

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
