/**
 * The task-complexity calibration app (METHOD.md §6): ρ per order of the target DNN for each task
 * net depth k, and the centre of mass of ρ against k, which should rise.
 */
import { calibrationChart, centreChart } from './charts.mjs';
import { calibrationLabels, calibrationSettings, calibrationTable, calibrationVerdict, centreRises, centreTable, poorFitWarning } from './render.js';
import { calibrationOrders, calibrationSeries } from '../../shared/files/calibration.js';
import { ChartBlock, docsLink, exportPng, h, post, settingsList, vscode, ViewApp } from '../common/page.mjs';
import {
  exportNotification,
  type ExportParams,
  readyNotification,
  showCalibrationNotification,
  type ShowCalibrationParams,
  type TaskComplexityOutput,
  type ViewsWebviewState,
} from '../../shared/webviewProtocol.js';
import { createButton } from '../common/toolkit.mjs';

class CalibrationApp extends ViewApp {
  private params: ShowCalibrationParams | undefined;
  private output: TaskComplexityOutput | undefined;
  private readonly header = h('header', { class: 'headline' });
  private readonly status = h('div', { class: 'status', role: 'status' });
  private readonly rho: ChartBlock;
  private readonly centre: ChartBlock;
  private readonly settings = h('section', { class: 'block', id: 'block-calibration-settings' });

  constructor() {
    super();
    const png = (b: ChartBlock) => exportPng(b, this.baseName());
    this.rho = new ChartBlock(
      'calibration-rho',
      'ρ of each component, per task',
      'A random task net with k ReLU layers defines the target; a target DNN learns it, and its output is disentangled. One line per k: deeper tasks should put more of Var[f] on higher orders.',
      png,
    );
    this.centre = new ChartBlock(
      'calibration-centre',
      'Centre of mass of ρ against k',
      'Σ ρ·i / Σ ρ, with i the position of the order in the list and the residue one past the last order.',
      png,
    );
  }

  private baseName(): string {
    return (this.params?.fileName ?? 'task-complexity').replace(/\.json$/i, '');
  }

  receive(p: ShowCalibrationParams): void {
    vscode.setState<ViewsWebviewState>({ view: 'calibration', path: p.path });
    this.params = p;
    if (p.output) this.output = p.output;
    if (!this.output) {
      this.root.replaceChildren(h('div', { class: 'error', role: 'alert' }, `Could not read ${p.fileName}: ${p.error ?? 'unknown error'}`));
      return;
    }
    this.layOutAndRender(() => [this.header, this.status, h('div', { class: 'tab-content' }, this.rho.el, this.centre.el, this.settings)]);
  }

  protected render(): void {
    const o = this.output!;
    const p = this.params!;
    const series = calibrationSeries(o);
    const labels = calibrationLabels(o);
    const title = h(
      'div',
      { class: 'title-row' },
      h('h1', {}, 'Task-complexity calibration'),
      h(
        'div',
        { class: 'actions' },
        createButton('Export JSON', () => this.exportJson(), { id: 'export-json' }),
      ),
    );
    const verdict = h('div', { class: centreRises(series) ? 'live' : 'warning', id: 'verdict' }, calibrationVerdict(series));
    this.header.replaceChildren(
      title,
      verdict,
      h(
        'p',
        { class: 'file' },
        [p.fileName, o.budget && `budget ${o.budget}`, o.width !== undefined && `width ${o.width}`, o.backend].filter(Boolean).join(' · '),
      ),
    );
    const notes: HTMLElement[] = [];
    if (p.error)
      notes.push(h('div', { class: 'error', role: 'alert' }, `The file could not be read just now (${p.error}); showing its last readable content.`));
    const poor = poorFitWarning(series);
    if (poor) notes.push(h('div', { class: 'warning', id: 'poor-fit' }, poor));
    this.status.replaceChildren(...notes);
    this.status.hidden = notes.length === 0;

    this.rho.show(
      calibrationChart(labels, series, this.theme),
      [{ key: 'c', title: 'order' }, ...series.map((s, i) => ({ key: `t${i}`, title: `k = ${s.k}` }))],
      calibrationTable(o, series),
    );
    this.centre.show(
      centreChart(series, calibrationOrders(o).length, this.theme),
      [
        { key: 'k', title: 'k' },
        { key: 'centre', title: 'centre of mass' },
        { key: 'fit', title: 'target DNN fit' },
      ],
      centreTable(series),
      'Target DNN fit = 1 − MSE / Var of the target DNN against the task net on test inputs, when recorded.',
    );
    this.settings.replaceChildren(
      h('h2', {}, 'Settings'),
      h(
        'p',
        { class: 'note' },
        'The fit, the poor-fit flag and the centre of mass are defined with the other metrics in ',
        docsLink('metrics', 'docs/METRICS.md', 'metrics-doc-link'),
        '.',
      ),
      settingsList('calibration-settings', calibrationSettings(o)),
    );
  }

  private exportJson(): void {
    if (this.output)
      post<ExportParams>(exportNotification, {
        format: 'json',
        suggestedName: `${this.baseName()}.json`,
        content: JSON.stringify(this.output, null, 2) + '\n',
      });
  }
}

const app = new CalibrationApp();
window.addEventListener('message', (e: MessageEvent) => {
  if (showCalibrationNotification.is(e.data)) app.receive(e.data.params);
});
post(readyNotification, {});
