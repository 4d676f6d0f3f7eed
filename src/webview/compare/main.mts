/**
 * The comparison app: the ρ distributions (and reliability shares, when measured) of several
 * analyses overlaid, one colour per analysis, with a warning when their settings differ.
 */
import { CAVEAT } from '../common/format.js';
import {
  compareCsv,
  compareReliabilityRows,
  compareReliabilityTable,
  compareRows,
  compareTable,
  comparedAnalyses,
  differenceWarning,
  isZoo,
  settingDifferences,
  type Compared,
} from './render.js';
import { ChartBlock, exportPng, h, post, settingsList, vscode, ViewApp } from '../common/page.mjs';
import {
  exportNotification,
  type ExportParams,
  readyNotification,
  showCompareNotification,
  type ShowCompareParams,
  type ViewsWebviewState,
} from '../../shared/webviewProtocol.js';
import { createButton } from '../common/toolkit.mjs';
import { compareChart, compareReliabilityChart } from './charts.mjs';

class CompareApp extends ViewApp {
  private params: ShowCompareParams | undefined;
  private items: Compared[] = [];
  private readonly header = h('header', { class: 'headline' });
  private readonly status = h('div', { class: 'status', role: 'status' });
  private readonly rho: ChartBlock;
  private readonly reliability: ChartBlock;

  constructor() {
    super();
    const png = (b: ChartBlock) => exportPng(b, 'comparison');
    this.rho = new ChartBlock(
      'compare-rho',
      'Significance ρ of each component',
      'Share of Var[f] carried by each component c⁽ˡ⁾ and by the residue Δf, on the training split, one colour per analysis.',
      png,
    );
    this.reliability = new ChartBlock(
      'compare-reliability',
      'Reliable and unreliable parts',
      'Reliable (solid) and unreliable (light) part of each component as shares of Var[f], one stacked bar per analysis.',
      png,
    );
  }

  receive(p: ShowCompareParams): void {
    vscode.setState<ViewsWebviewState>({ view: 'compare', paths: p.analyses.map((a) => a.path) });
    this.params = p;
    this.items = comparedAnalyses(p.analyses);
    this.layOutAndRender(() => [
      this.header,
      this.status,
      h('div', { class: 'tab-content' }, this.rho.el, this.reliability.el, h('p', { class: 'caveat' }, CAVEAT)),
    ]);
  }

  protected render(): void {
    const p = this.params!;
    const items = this.items;
    const title = h(
      'div',
      { class: 'title-row' },
      h('h1', {}, `Comparison of ${items.length} analyses`),
      h(
        'div',
        { class: 'actions' },
        createButton('Export CSV', () => this.exportCsv(), { id: 'export-csv' }),
      ),
    );
    const legend = h(
      'ul',
      { class: 'analyses', id: 'compared' },
      ...items.map((c) => h('li', {}, h('span', { class: 'name' }, c.label), ' ', h('span', { class: 'file' }, c.fileName))),
    );
    this.header.replaceChildren(title, legend);

    const notes: HTMLElement[] = [];
    const diffs = settingDifferences(items);
    if (diffs.length) {
      const values = diffs.map((d): [string, string] => [d.setting, d.values.map((v, i) => `${items[i].label}: ${v ?? '–'}`).join('\n')]);
      notes.push(
        h(
          'div',
          { class: 'warning', id: 'settings-differ', role: 'alert' },
          h('p', {}, differenceWarning(diffs)),
          settingsList('settings-differ-list', values),
        ),
      );
    }
    for (const a of p.analyses) {
      if (a.error) notes.push(h('div', { class: 'error' }, `${a.fileName} could not be read: ${a.error}`));
      for (const w of a.warnings) notes.push(h('div', { class: 'warning' }, `${a.fileName}: ${w}`));
    }
    if (items.length < 2) notes.push(h('div', { class: 'error', role: 'alert' }, 'A comparison needs at least two readable analyses.'));
    this.status.replaceChildren(...notes);
    this.status.hidden = notes.length === 0;
    if (items.length === 0) {
      this.rho.showMissing('No readable analysis.');
      this.reliability.el.hidden = true;
      return;
    }

    const rows = compareRows(items);
    const table = compareTable(rows, items);
    this.rho.show(compareChart(rows, items, this.theme), table.columns, table.rows);

    const rel = compareReliabilityRows(items);
    this.reliability.el.hidden = false;
    if (!rel) {
      this.reliability.showMissing('None of these analyses measured reliability (run them with exemplar networks: setting featureComplexity.exemplars).');
      return;
    }
    const relTable = compareReliabilityTable(rel, items);
    const without = items.filter((c) => !c.result.reliability?.length).map((c) => c.label);
    const relNote = [isZoo(items) ? 'Colours as in the ρ chart’s legend.' : '', without.length ? `Not measured for ${without.join(', ')}.` : '']
      .filter(Boolean)
      .join(' ');
    this.reliability.show(compareReliabilityChart(rel, items, this.theme), relTable.columns, relTable.rows, relNote);
  }

  private exportCsv(): void {
    post<ExportParams>(exportNotification, { format: 'csv', suggestedName: 'comparison.csv', content: compareCsv(this.items) });
  }
}

const app = new CompareApp();
window.addEventListener('message', (e: MessageEvent) => {
  if (showCompareNotification.is(e.data)) app.receive(e.data.params);
});
post(readyNotification, {});
