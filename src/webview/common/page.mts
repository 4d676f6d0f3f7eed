/**
 * What every panel app of the webview shares: the VS Code API, element building, messages to
 * the host, and a chart block (chart, table beside it, PNG button, or a note when data is missing).
 */
import { type AnyChartConfig, ChartRegistry } from './charts.mjs';
import { DOCS_PAGES, exportNotification, type ExportParams, type OpenDocsParams, openDocsNotification } from '../../shared/webviewProtocol.js';
import { onThemeChange, readTheme, type Theme } from './theme.js';
import { createButton, createDataGrid, type GridColumn, registerToolkit, setDataGrid } from './toolkit.mjs';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

/** The page's VS Code API (it may be acquired once per page); each view types its own state. */
export const vscode = {
  postMessage: (m: unknown) => api.postMessage(m),
  getState: <S,>() => api.getState() as S | undefined,
  setState: <S,>(s: S) => api.setState(s),
};

export const charts = new ChartRegistry();

/**
 * A User Timing mark, set the first time only: `fc:script` (the view's own code starts, after the
 * libraries of its bundle), `fc:ready` (ready posted), `fc:show` (the first data arrived),
 * `fc:rendered` (the first drawing is done), `fc:painted` (a frame later: on screen).
 * bench/panel-open.ts reads them to split the time of a panel's first open.
 */
export function markOnce(name: string): void {
  if (performance.getEntriesByName(name, 'mark').length === 0) performance.mark(name);
}

markOnce('fc:script');

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

export function post<P>(n: { message(p: P): unknown }, params: P): void {
  vscode.postMessage(n.message(params));
}

/** A link to one of the extension's docs pages; the host opens it (a webview cannot open files itself). */
export function docsLink(page: OpenDocsParams['page'], text: string, id: string): HTMLAnchorElement {
  const a = h('a', { href: '#', id, class: 'docs-link', title: `Opens ${DOCS_PAGES[page]} of the extension` }, text);
  a.addEventListener('click', (e) => {
    e.preventDefault();
    post<OpenDocsParams>(openDocsNotification, { page });
  });
  return a;
}

/** One chart with its table and a PNG button; or, when the file lacks its data, a note saying how to get it. */
export class ChartBlock {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly body: HTMLElement;
  private readonly missing: HTMLElement;
  private readonly note: HTMLElement;
  private grid: HTMLElement | undefined;
  private readonly tableBox: HTMLElement;

  constructor(
    readonly id: string,
    title: string,
    description: string,
    private readonly onPng: (block: ChartBlock) => void,
  ) {
    this.canvas = h('canvas', { id: `chart-${id}`, role: 'img', 'aria-label': title });
    this.tableBox = h('div', { class: 'table-box' });
    this.note = h('p', { class: 'note' });
    this.missing = h('p', { class: 'missing' });
    this.body = h(
      'div',
      { class: 'block-body' },
      h('div', { class: 'chart-row' }, h('div', { class: 'chart-box' }, this.canvas), this.tableBox),
      this.note,
      h(
        'div',
        { class: 'toolbar' },
        createButton('Save chart as PNG', () => this.onPng(this), { id: `png-${id}`, title: `Save the "${title}" chart as a PNG image` }),
      ),
    );
    this.el = h('section', { class: 'block', id: `block-${id}` }, h('h2', {}, title), h('p', { class: 'description' }, description), this.body, this.missing);
  }

  get title(): string {
    return this.el.querySelector('h2')?.textContent ?? this.id;
  }

  show(config: AnyChartConfig, columns: GridColumn[], rows: Record<string, string>[], note = ''): void {
    this.missing.hidden = true;
    this.body.hidden = false;
    charts.show(this.canvas, config);
    if (this.grid) setDataGrid(this.grid, columns, rows);
    else this.tableBox.append((this.grid = createDataGrid(`${this.title}: numbers`, columns, rows)));
    this.note.textContent = note;
    this.note.hidden = !note;
  }

  showMissing(text: string): void {
    charts.remove(this.canvas);
    this.body.hidden = true;
    this.missing.hidden = false;
    this.missing.textContent = text;
  }

  png(): string | undefined {
    return charts.png(this.canvas);
  }
}

/** Asks the host to save the block's chart as `<base>-<block id>.png`. */
export function exportPng(block: ChartBlock, base: string): void {
  const data = block.png();
  if (data) post<ExportParams>(exportNotification, { format: 'png', suggestedName: `${base}-${block.id}.png`, content: data });
}

/** A headline number with its label, as in the results panel's header. */
export function stat(id: string, value: string, label: string, title = ''): HTMLElement {
  return h('div', { class: 'stat', id: `stat-${id}`, title }, h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
}

/** A definition list of settings, label → value. */
export function settingsList(id: string, rows: [string, string][]): HTMLElement {
  const dl = h('dl', { id });
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, v));
  return h('div', { class: 'settings' }, dl);
}

/** Table columns in toolkit form. */
export type { GridColumn };

/** What every view app shares: its page is laid out on the first message and redrawn when the theme changes. */
export abstract class ViewApp {
  protected theme: Theme = readTheme();
  protected readonly root = document.getElementById('app') as HTMLElement;
  private built = false;

  /** Lays out `page()` on the first call, then draws; later calls only draw. */
  protected layOutAndRender(page: () => Node[]): void {
    if (!this.built) {
      registerToolkit();
      this.root.replaceChildren(...page());
      this.built = true;
      onThemeChange(() => {
        this.theme = readTheme();
        this.render();
      });
    }
    this.render();
  }

  protected abstract render(): void;
}
