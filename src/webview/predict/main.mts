/**
 * The prediction app (METHOD.md §5): predicted against measured test accuracy with the y = x
 * line, the error over repeated splits, the PCA plane coloured by accuracy, and the prediction
 * for the chosen model.
 */
import { ChartBlock, exportPng, h, post, settingsList, stat, vscode, ViewApp } from '../common/page.mjs';
import {
  formatTarget,
  isoLines,
  pcaMap,
  predictedVsActual,
  predictStats,
  predictTable,
  predictWarning,
  regressorRows,
  scaleTicks,
  settingsNotice,
  targetScale,
} from './render.js';
import {
  exportNotification,
  type ExportParams,
  readyNotification,
  refitPredictNotification,
  type RefitPredictParams,
  showPredictNotification,
  type ShowPredictParams,
  type ViewsWebviewState,
} from '../../shared/webviewProtocol.js';
import { createButton } from '../common/toolkit.mjs';
import { colourBarGradient, pcaChart, predictedVsActualChart } from './charts.mjs';

class PredictApp extends ViewApp {
  private params: ShowPredictParams | undefined;
  private readonly header = h('header', { class: 'headline' });
  private readonly scatter: ChartBlock;
  private readonly pca: ChartBlock;
  private readonly colourBar = h('div', { class: 'colour-bar', id: 'colour-bar', role: 'img' });
  private readonly settings = h('section', { class: 'block', id: 'block-regressor' });

  constructor() {
    super();
    const png = (b: ChartBlock) => exportPng(b, 'prediction');
    this.scatter = new ChartBlock(
      'predicted',
      'Predicted against measured test accuracy',
      'Each analysed model’s test accuracy as predicted by a linear regressor on its reliable and unreliable variance shares, against the measured one. Filled: mean prediction of the regressors that held the model out; hollow: the regressor fitted on all models.',
      png,
    );
    this.pca = new ChartBlock(
      'pca',
      'The models in the PCA plane',
      'The feature-complexity vectors projected on their two principal components, coloured by measured test accuracy; dotted lines are where the regressor, restricted to this plane, predicts the same value.',
      png,
    );
  }

  receive(p: ShowPredictParams): void {
    vscode.setState<ViewsWebviewState>({ view: 'predict', shown: p });
    this.params = p;
    this.layOutAndRender(() => [this.header, h('div', { class: 'tab-content' }, this.scatter.el, this.pca.el, this.settings)]);
  }

  protected render(): void {
    const r = this.params!.report;
    const what = r.target === 'accuracy' ? 'test accuracy' : 'test loss';
    const unit = r.target === 'accuracy' ? ' %' : '';
    const title = h(
      'div',
      { class: 'title-row' },
      h('h1', {}, `Predicting ${what} from feature complexity`),
      h(
        'div',
        { class: 'actions' },
        createButton('Export JSON', () => this.exportJson(), { id: 'export-json' }),
      ),
    );
    const stats = h('div', { class: 'stats' }, ...predictStats(r).map((s) => stat(s.id, s.value, s.label, s.title)));
    const from = h(
      'p',
      { class: 'file' },
      `${r.models.length} models; vector: ${r.featureNames.join(', ')} (each over Var[f]). Made ${new Date(this.params!.madeAt).toLocaleString()}.`,
    );
    const warning = predictWarning(r);
    const notice = settingsNotice(r);
    const settingsWarning = notice
      ? [
          h(
            'div',
            { class: 'warning', id: 'predict-settings', role: 'alert' },
            h('p', {}, notice.text),
            settingsList('predict-settings-list', notice.rows),
            createButton(notice.action.label, () => post<RefitPredictParams>(refitPredictNotification, { consistentOnly: notice.action.consistentOnly }), {
              id: 'predict-refit',
            }),
          ),
        ]
      : [];
    this.header.replaceChildren(title, stats, from, ...settingsWarning, ...(warning ? [h('div', { class: 'warning', id: 'predict-warning' }, warning)] : []));

    const cols = [
      { key: 'model', title: 'model' },
      { key: 'actual', title: 'measured' },
      { key: 'heldOut', title: 'held out' },
      { key: 'fitted', title: 'fitted' },
      { key: 'error', title: '|error|' },
    ];
    const table = predictTable(r);
    const chosen = r.prediction
      ? `${r.prediction.label}: predicted ${formatTarget(r, r.prediction.predicted)}, measured ${formatTarget(r, r.prediction.actual)} (kept out of every fit).`
      : '';
    this.scatter.show(predictedVsActualChart(predictedVsActual(r), unit, what, this.theme), cols, table, chosen);

    const map = pcaMap(r);
    const pcaCols = [
      { key: 'model', title: 'model' },
      { key: 'pc1', title: 'PC 1' },
      { key: 'pc2', title: 'PC 2' },
      { key: 'v', title: `measured${unit}` },
    ];
    const pcaRows = [...map.points, ...(map.chosen ? [{ ...map.chosen, label: `▶ ${map.chosen.label}` }] : [])].map((q) => ({
      model: q.label,
      pc1: q.x.toFixed(4),
      pc2: q.y.toFixed(4),
      v: q.value.toFixed(2),
    }));
    this.pca.show(pcaChart(map, isoLines(r, map), unit, this.theme), pcaCols, pcaRows);
    this.colourBar.style.background = colourBarGradient(this.theme);
    this.colourBar.setAttribute('aria-label', `colour scale: ${what} from ${map.min.toFixed(1)}${unit} (blue) to ${map.max.toFixed(1)}${unit} (orange)`);
    const ticks = h('div', { class: 'colour-ticks' }, ...scaleTicks(map.min, map.max, targetScale(r) === 100 ? 1 : 3).map((t) => h('span', {}, `${t}${unit}`)));
    const legend = h(
      'div',
      { class: 'colour-legend', id: 'colour-legend' },
      h('span', { class: 'note' }, `measured ${what}`),
      h('div', { class: 'colour-scale' }, this.colourBar, ticks),
    );
    this.pca.el.querySelector('.colour-legend')?.remove();
    this.pca.el.querySelector('.chart-row')?.after(legend);

    this.settings.replaceChildren(h('h2', {}, 'Regressor'), settingsList('regressor-list', regressorRows(r)));
  }

  private exportJson(): void {
    if (this.params)
      post<ExportParams>(exportNotification, { format: 'json', suggestedName: 'prediction.json', content: JSON.stringify(this.params.report, null, 2) + '\n' });
  }
}

const app = new PredictApp();
window.addEventListener('message', (e: MessageEvent) => {
  if (showPredictNotification.is(e.data)) app.receive(e.data.params);
});
post(readyNotification, {});
