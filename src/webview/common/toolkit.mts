/**
 * The only module that touches @vscode/webview-ui-toolkit. The toolkit (1.4.0) was deprecated
 * upstream on 2025-01-01 and its repository archived; keeping every use behind these few
 * functions means replacing it (e.g. with @vscode-elements/elements) changes this file only.
 */
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeDataGrid,
  vsCodeDataGridCell,
  vsCodeDataGridRow,
  vsCodePanels,
  vsCodePanelTab,
  vsCodePanelView,
} from '@vscode/webview-ui-toolkit';

let registered = false;
let tabsRegistered = false;

/**
 * Defines the buttons and tables every view uses, once; call before creating any of them. The
 * tabs are defined by createTabs, so a bundle that shows no tabs leaves their code out.
 */
export function registerToolkit(): void {
  if (registered) return;
  provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDataGrid(), vsCodeDataGridRow(), vsCodeDataGridCell());
  registered = true;
}

function registerTabs(): void {
  if (tabsRegistered) return;
  provideVSCodeDesignSystem().register(vsCodePanels(), vsCodePanelTab(), vsCodePanelView());
  tabsRegistered = true;
}

export interface TabSpec {
  id: string;
  label: string;
  content: HTMLElement;
}

/** Tabs with one view each; `onChange` gets the id of the tab the user picked. */
export function createTabs(tabs: TabSpec[], active: string | undefined, onChange: (id: string) => void): HTMLElement {
  registerTabs();
  const panels = document.createElement('vscode-panels');
  panels.setAttribute('aria-label', 'Result sections');
  for (const t of tabs) {
    const tab = document.createElement('vscode-panel-tab');
    tab.id = `tab-${t.id}`;
    tab.textContent = t.label;
    panels.appendChild(tab);
  }
  for (const t of tabs) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${t.id}`;
    view.appendChild(t.content);
    panels.appendChild(view);
  }
  if (active && tabs.some((t) => t.id === active)) panels.setAttribute('activeid', `tab-${active}`);
  panels.addEventListener('change', (e) => {
    // Elements inside the views also fire `change`; only the tab list's own counts.
    if (e.target !== panels) return;
    const id = (panels as HTMLElement & { activeid?: string }).activeid;
    if (id?.startsWith('tab-')) onChange(id.slice(4));
  });
  return panels;
}

export function createButton(
  label: string,
  onClick: () => void,
  opts: { appearance?: 'primary' | 'secondary'; title?: string; id?: string } = {},
): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  b.setAttribute('appearance', opts.appearance ?? 'secondary');
  if (opts.title) b.title = opts.title;
  if (opts.id) b.id = opts.id;
  b.addEventListener('click', onClick);
  return b;
}

export interface GridColumn {
  key: string;
  title: string;
}

type GridElement = HTMLElement & { rowsData: Record<string, string>[]; columnDefinitions: { columnDataKey: string; title: string }[] };

/** A read-only table; cells are strings already formatted by the caller. */
export function createDataGrid(label: string, columns: GridColumn[], rows: Record<string, string>[]): HTMLElement {
  const grid = document.createElement('vscode-data-grid') as GridElement;
  grid.setAttribute('aria-label', label);
  grid.setAttribute('generate-header', 'sticky');
  setDataGrid(grid, columns, rows);
  return grid;
}

export function setDataGrid(grid: HTMLElement, columns: GridColumn[], rows: Record<string, string>[]): void {
  const g = grid as GridElement;
  // The number of columns can change between updates (e.g. test-split ρ appears).
  g.setAttribute('grid-template-columns', columns.map((_, i) => (i === 0 ? 'minmax(7em, 1.2fr)' : 'minmax(5em, 1fr)')).join(' '));
  g.columnDefinitions = columns.map((c) => ({ columnDataKey: c.key, title: c.title }));
  g.rowsData = rows;
}
