/**
 * The results panel app. Gets one result at a time from the host (`showResultNotification`),
 * again whenever the file changes, and redraws in place so a running analysis can be watched.
 */
import { lossChart, reliabilityChart, shapleyChart, significanceChart, substitutionChart } from './charts.mjs';
import {
  type AnalysisResult,
  exportNotification,
  type ExportParams,
  readyNotification,
  type ResultsWebviewState,
  showResultNotification,
  type ShowResultParams,
} from '../../shared/webviewProtocol.js';
import {
  axisCut,
  BAND_LABELS,
  efficiencyCheck,
  exportBaseName,
  hasTestRho,
  headline,
  lossSeries,
  progressText,
  reliabilityRows,
  reliabilityTable,
  settingsRows,
  shapleyRows,
  significanceRows,
  substitutionRows,
  toCsv,
} from './render.js';
import { CAVEAT, fixed, orderLabel, pct } from '../common/format.js';
import { onThemeChange, readTheme, type Theme } from '../common/theme.js';
import { ChartBlock, docsLink, h, markOnce, post, vscode } from '../common/page.mjs';
import { createButton, createTabs, type GridColumn, registerToolkit } from '../common/toolkit.mjs';
import { checkpointName } from '../../shared/naming.js';

/** What an absent optional section means: not computed yet, or not requested. */
function missingText(r: AnalysisResult, what: string, how: string): string {
  if (!r.complete) return `${what}: not in the file yet. It is computed after the last order finishes; if this analysis was started without it, ${how}`;
  return `${what}: not in this result. ${how[0].toUpperCase()}${how.slice(1)}`;
}

class App {
  private params: ShowResultParams | undefined;
  private result: AnalysisResult | undefined;
  private theme: Theme = readTheme();
  private readonly root = document.getElementById('app') as HTMLElement;
  private built = false;
  private readonly header = h('header', { class: 'headline' });
  private readonly status = h('div', { class: 'status', role: 'status' });
  private readonly blocks: Record<string, ChartBlock>;
  private readonly settingsBox = h('div', { class: 'settings' });
  private readonly efficiency = h('p', { class: 'note', id: 'shapley-efficiency' });
  /** The tab shown, and the tabs drawn since the result last changed: a hidden tab is drawn when it is first shown. */
  private activeTab = 'significance';
  private readonly drawn = new Set<string>();
  private readonly sections: Record<string, (r: AnalysisResult) => void> = {
    significance: (r) => this.renderSignificance(r),
    training: (r) => this.renderLoss(r),
    reliability: (r) => this.renderReliability(r),
    shapley: (r) => this.renderShapley(r),
    substitution: (r) => this.renderSubstitution(r),
    settings: (r) => this.renderSettings(r),
  };

  constructor() {
    const png = (b: ChartBlock) => this.exportPng(b);
    this.blocks = {
      significance: new ChartBlock(
        'significance',
        'Significance ρ of each component',
        'Share of the target feature’s variance Var[f] carried by each component c⁽ˡ⁾ = Φ⁽ˡ⁾(x) − Φ⁽ˡ′⁾(x) and by the residue Δf = f(x) − Φ⁽ᴸ⁾(x), on the train and the test split.',
        png,
      ),
      loss: new ChartBlock(
        'loss',
        'Training loss of the disentanglers',
        'How well each disentangler Φ⁽ˡ⁾ mimics f(x) during training. Updates while the analysis runs.',
        png,
      ),
      reliability: new ChartBlock(
        'reliability',
        'Reliable and unreliable parts',
        'The part of each component that the exemplar networks can also reconstruct (reliable) and the rest (unreliable), both as shares of Var[f].',
        png,
      ),
      effectiveness: new ChartBlock(
        'effectiveness',
        'Effectiveness of each component',
        'Shapley value φ_train of the component in decreasing the training loss, per unit of its standard deviation.',
        png,
      ),
      overfitting: new ChartBlock(
        'overfitting',
        'Over-fitting of each component',
        'Increase of the test−train loss gap (Shapley value φ_gap) per unit of training-loss decrease φ_train the component brings.',
        png,
      ),
      substitution: new ChartBlock(
        'substitution',
        'Substitution: test accuracy of Φ⁽ˡ⁾',
        'Test accuracy when the head is fed the disentangler’s output Φ⁽ˡ⁾(x) instead of the target feature f(x), beside the teacher’s own.',
        png,
      ),
    };
  }

  receive(p: ShowResultParams): void {
    markOnce('fc:show');
    const state = vscode.getState<ResultsWebviewState>();
    vscode.setState({ ...state, resultPath: p.path });
    this.params = p;
    if (p.result) this.result = p.result;
    if (!this.result) {
      this.root.replaceChildren(h('div', { class: 'error', role: 'alert' }, `Could not read ${p.fileName}: ${p.error ?? 'unknown error'}`));
      return;
    }
    if (!this.built) this.build();
    this.render();
    if (!performance.getEntriesByName('fc:rendered').length) {
      markOnce('fc:rendered');
      // The frame after the one that lays the drawing out: it is on screen.
      requestAnimationFrame(() => requestAnimationFrame(() => markOnce('fc:painted')));
    }
  }

  private build(): void {
    registerToolkit();
    const b = this.blocks;
    const tab = (id: string, label: string, ...content: HTMLElement[]) => ({ id, label, content: h('div', { class: 'tab-content' }, ...content) });
    const definitions = (id: string) =>
      h(
        'p',
        { class: 'note' },
        'How each number is defined, with the paper’s equation and where we deviate: ',
        docsLink('metrics', 'metric definitions (docs/METRICS.md)', id),
        '.',
      );
    const settingsSection = h(
      'section',
      { class: 'block', id: 'block-settings' },
      h('h2', {}, 'Settings and backend'),
      h('p', { class: 'caveat' }, CAVEAT),
      definitions('metrics-doc-link'),
      this.settingsBox,
    );
    const saved = vscode.getState<ResultsWebviewState>()?.tab;
    if (saved && saved in this.sections) this.activeTab = saved;
    const tabs = createTabs(
      [
        tab('significance', 'Significance', b.significance.el, h('p', { class: 'caveat' }, CAVEAT), definitions('metrics-doc-link-significance')),
        tab('training', 'Training', b.loss.el),
        tab('reliability', 'Reliability', b.reliability.el),
        tab('shapley', 'Effectiveness & over-fitting', b.effectiveness.el, b.overfitting.el, this.efficiency),
        tab('substitution', 'Substitution', b.substitution.el),
        tab('settings', 'Settings', settingsSection),
      ],
      this.activeTab,
      (id) => {
        vscode.setState({ ...(vscode.getState<ResultsWebviewState>() as ResultsWebviewState), tab: id });
        this.activeTab = id;
        this.drawSection(id);
      },
    );
    this.root.replaceChildren(this.header, this.status, tabs);
    this.built = true;
    onThemeChange(() => {
      this.theme = readTheme();
      this.render();
    });
  }

  /** The header and the shown tab; the other tabs are drawn when the user opens them, so an open draws one tab's charts, not all six. */
  private render(): void {
    const r = this.result!;
    const p = this.params!;
    this.renderHeader(r, p);
    this.renderStatus(p);
    this.drawn.clear();
    this.drawSection(this.activeTab);
  }

  private drawSection(id: string): void {
    if (!this.result || this.drawn.has(id)) return;
    this.sections[id]?.(this.result);
    this.drawn.add(id);
  }

  private renderHeader(r: AnalysisResult, p: ShowResultParams): void {
    const hl = headline(r);
    const stat = (id: string, value: string, label: string, title = '') =>
      h('div', { class: 'stat', id: `stat-${id}`, title }, h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
    const band = (k: 'low' | 'mid' | 'high') =>
      stat(
        k,
        hl.bandsPresent[k] ? pct(hl.shares[k]) : '–',
        `ρ ${BAND_LABELS[k]}`,
        hl.bandsPresent[k] ? 'Sum of ρ (train) of the components in this band' : 'No order in this band has finished',
      );
    const model = checkpointName(r.checkpoint.path);
    const badges = h('div', { class: 'badges' });
    if (!hl.complete) badges.append(h('span', { class: 'badge incomplete', id: 'incomplete' }, progressText(hl)));
    const title = h(
      'div',
      { class: 'title-row' },
      h('h1', {}, `${model} · ${r.targetLayer}`),
      badges,
      h(
        'div',
        { class: 'actions' },
        createButton('Export CSV', () => this.exportData('csv'), { id: 'export-csv' }),
        createButton('Export JSON', () => this.exportData('json'), { id: 'export-json' }),
      ),
    );
    const stats = h(
      'div',
      { class: 'stats' },
      stat('teacher', pct(hl.teacherTestAccuracy), 'teacher test accuracy'),
      band('low'),
      band('mid'),
      band('high'),
      stat('residue', pct(hl.shares.residue), `ρ ${BAND_LABELS.residue}`, 'ρ (train) of the high-order residue that the deepest disentangler did not learn'),
    );
    this.header.replaceChildren(title, stats, h('p', { class: 'file' }, `${p.fileName} · ${r.dataset} · budget ${r.budget} · ${r.backend}`));
  }

  private renderStatus(p: ShowResultParams): void {
    const parts: (Node | string)[] = [];
    if (p.error)
      parts.push(h('div', { class: 'error', role: 'alert' }, `The file could not be read just now (${p.error}); showing its last readable content.`));
    if (this.result && !this.result.complete)
      parts.push(
        h(
          'div',
          { class: 'live' },
          `Following ${p.fileName}: last read ${new Date(p.readAt).toLocaleTimeString()}. The panel updates after each finished order.`,
        ),
      );
    for (const w of p.warnings) parts.push(h('div', { class: 'warning' }, w));
    this.status.replaceChildren(...parts);
    this.status.hidden = parts.length === 0;
  }

  private renderSignificance(r: AnalysisResult): void {
    const rows = significanceRows(r);
    const test = hasTestRho(rows);
    const cols: GridColumn[] = [{ key: 'c', title: 'component' }, { key: 'train', title: 'ρ train' }, ...(test ? [{ key: 'test', title: 'ρ test' }] : [])];
    this.blocks.significance.show(
      significanceChart(rows, this.theme),
      cols,
      rows.map((x) => ({ c: x.label, train: fixed(x.rhoTrain), test: fixed(x.rhoTest) })),
      test ? '' : 'This file has ρ on the training split only.',
    );
  }

  private renderLoss(r: AnalysisResult): void {
    const series = lossSeries(r);
    if (series.length === 0) {
      this.blocks.loss.showMissing(
        r.components.length === 0
          ? 'No order has finished yet; the first loss curve appears when order ' + (r.orders[0] ?? 0) + ' finishes.'
          : 'This result has no training-loss curves (components[].lossCurve).',
      );
      return;
    }
    this.blocks.loss.show(
      lossChart(series, this.theme),
      [
        { key: 'c', title: 'order' },
        { key: 'epochs', title: 'epochs' },
        { key: 'first', title: 'first loss' },
        { key: 'final', title: 'final loss' },
        { key: 'fit', title: 'fit (1 − MSE/Var f)' },
        { key: 'stop', title: 'stopped' },
      ],
      series.map((s) => ({
        c: orderLabel(s.order),
        epochs: String(s.epochs),
        first: fixed(s.points[0]?.y, 5),
        final: fixed(s.final, 5),
        fit: fixed(s.fit),
        stop: s.stop,
      })),
    );
  }

  private renderReliability(r: AnalysisResult): void {
    const rows = reliabilityRows(r);
    if (!rows) {
      this.blocks.reliability.showMissing(
        missingText(
          r,
          'Reliability',
          'run with exemplar networks (setting featureComplexity.exemplars, or --exemplars A,B on the command line) to see reliable and unreliable components.',
        ),
      );
      return;
    }
    const table = reliabilityTable(rows);
    this.blocks.reliability.show(reliabilityChart(rows, this.theme), table.columns, table.rows);
  }

  private renderShapley(r: AnalysisResult): void {
    const rows = shapleyRows(r);
    if (!rows) {
      const text = missingText(
        r,
        'Effectiveness and over-fitting',
        'run with Shapley enabled (setting featureComplexity.shapley, or --shapley on the command line) to see effectiveness and over-fitting.',
      );
      // One note for the tab: both charts come from the same Shapley run.
      this.blocks.effectiveness.showMissing(text);
      this.blocks.overfitting.el.hidden = true;
      this.efficiency.hidden = true;
      return;
    }
    this.blocks.overfitting.el.hidden = false;
    const table = rows.map((x) => ({
      c: orderLabel(x.order),
      phi: fixed(x.phiTrain),
      eff: fixed(x.effectiveness),
      gap: fixed(x.phiGap),
      over: fixed(x.overfitting),
    }));
    const cutNote = (values: (number | undefined)[], symbol: string) => {
      const cut = axisCut(values);
      return cut
        ? `Cut at the axis edge (hollow bars): ${cut.cut.map((i) => `${orderLabel(rows[i].order)}: ${symbol} = ${fixed(values[i])}`).join('; ')}.`
        : '';
    };
    const eff = rows.map((x) => x.effectiveness);
    const over = rows.map((x) => x.overfitting);
    this.blocks.effectiveness.show(
      shapleyChart(rows, 'effectiveness', this.theme),
      [
        { key: 'c', title: 'order' },
        { key: 'phi', title: 'φ_train' },
        { key: 'eff', title: 'α_effective' },
      ],
      table,
      cutNote(eff, 'α_effective'),
    );
    this.blocks.overfitting.show(
      shapleyChart(rows, 'overfitting', this.theme),
      [
        { key: 'c', title: 'order' },
        { key: 'gap', title: 'φ_gap' },
        { key: 'over', title: 'α_overfit' },
      ],
      table,
      cutNote(over, 'α_overfit'),
    );
    const e = efficiencyCheck(r);
    this.efficiency.hidden = !e;
    if (e) {
      // Exact Shapley values satisfy efficiency; sampled ones only up to their standard error.
      const verdict = (a: number, b: number) => (Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b)) ? 'holds' : `off by ${fixed(a - b)}`);
      this.efficiency.textContent =
        `Efficiency check (all players incl. the residue): Σφ_train = ${fixed(e.sumPhiTrain)} vs L_train(∅) − L_train(all) = ${fixed(e.lossDecrease)} (${verdict(e.sumPhiTrain, e.lossDecrease)}); ` +
        `Σφ_gap = ${fixed(e.sumPhiGap)} vs change of the test−train gap = ${fixed(e.gapIncrease)} (${verdict(e.sumPhiGap, e.gapIncrease)}). Removed components are replaced by their ${r.shapley?.baseline ?? 'mean'}.`;
    }
  }

  private renderSubstitution(r: AnalysisResult): void {
    const rows = substitutionRows(r);
    if (!rows) {
      this.blocks.substitution.showMissing(
        missingText(
          r,
          'Substitution',
          'run with substitution enabled (setting featureComplexity.substitution, or --substitution on the command line) to see the test accuracy of each Φ⁽ˡ⁾.',
        ),
      );
      return;
    }
    const t = r.teacher;
    this.blocks.substitution.show(
      substitutionChart(rows, t.testAccuracy, this.theme),
      [
        { key: 'c', title: 'fed to the head' },
        { key: 'acc', title: 'test accuracy' },
        { key: 'loss', title: 'test loss' },
      ],
      [
        ...rows.map((x) => ({ c: `Φ⁽ˡ⁾, ${orderLabel(x.order)}`, acc: pct(x.testAccuracy, 2), loss: fixed(x.testLoss) })),
        { c: 'teacher f(x)', acc: pct(t.testAccuracy, 2), loss: fixed(t.testLoss) },
      ],
    );
  }

  private renderSettings(r: AnalysisResult): void {
    const dl = h('dl', { id: 'settings-list' });
    for (const [k, v] of settingsRows(r)) dl.append(h('dt', {}, k), h('dd', {}, v));
    this.settingsBox.replaceChildren(dl);
  }

  private baseName(): string {
    return exportBaseName(this.params?.fileName ?? 'feature-complexity');
  }

  private exportData(format: 'csv' | 'json'): void {
    if (!this.result) return;
    const content = format === 'csv' ? toCsv(this.result) : JSON.stringify(this.result, null, 2) + '\n';
    post<ExportParams>(exportNotification, { format, suggestedName: `${this.baseName()}.${format}`, content });
  }

  private exportPng(block: ChartBlock): void {
    const data = block.png();
    if (data) post<ExportParams>(exportNotification, { format: 'png', suggestedName: `${this.baseName()}-${block.id}.png`, content: data });
  }
}

const app = new App();
window.addEventListener('message', (e: MessageEvent) => {
  if (showResultNotification.is(e.data)) app.receive(e.data.params);
});
post(readyNotification, {});
markOnce('fc:ready');
