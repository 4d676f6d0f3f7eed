/**
 * Colours and font of the current VS Code theme, read from the CSS variables VS Code sets on
 * the webview's body, and a hook for theme changes (VS Code swaps the body's
 * vscode-light / vscode-dark / vscode-high-contrast class and the variables together).
 */

export interface Theme {
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  /** Secondary text: axis ticks, notes. */
  muted: string;
  background: string;
  border: string;
  grid: string;
  /** Unlabelled grid lines (the log axis's minor ticks). */
  gridMinor: string;
  fontFamily: string;
  fontSize: number;
  blue: string;
  green: string;
  orange: string;
  red: string;
  purple: string;
  yellow: string;
  /** One distinct colour per order, for series that need more than six. */
  series: string[];
}

function kindOf(body: HTMLElement): Theme['kind'] {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

/** Parses `#rgb`, `#rrggbb(aa)` or `rgb(a)(…)` into r,g,b; undefined for other notations. */
export function parseColor(c: string): [number, number, number] | undefined {
  const s = c.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1][i] + m![1][i], 16)) as [number, number, number];
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(s);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1].slice(i, i + 2), 16)) as [number, number, number];
  m = /^rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/i.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  return undefined;
}

/** The colour with alpha, as rgba(); unparseable colours come back unchanged. */
export function withAlpha(c: string, alpha: number): string {
  const rgb = parseColor(c);
  return rgb ? `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})` : c;
}

export function readTheme(body: HTMLElement = document.body): Theme {
  const css = getComputedStyle(body);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const kind = kindOf(body);
  const light = kind === 'light' || kind === 'high-contrast-light';
  const foreground = v('--vscode-editor-foreground', v('--vscode-foreground', light ? '#333333' : '#cccccc'));
  const t = {
    kind,
    foreground,
    muted: v('--vscode-descriptionForeground', withAlpha(foreground, 0.75)),
    background: v('--vscode-editor-background', light ? '#ffffff' : '#1e1e1e'),
    border: v('--vscode-panel-border', withAlpha(foreground, 0.3)),
    grid: withAlpha(v('--vscode-panel-border', foreground), kind.startsWith('high-contrast') ? 0.5 : 0.35),
    gridMinor: withAlpha(v('--vscode-panel-border', foreground), kind.startsWith('high-contrast') ? 0.2 : 0.15),
    fontFamily: v('--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: parseFloat(v('--vscode-font-size', '13px')) || 13,
    blue: v('--vscode-charts-blue', '#3794ff'),
    green: v('--vscode-charts-green', '#89d185'),
    orange: v('--vscode-charts-orange', '#d18616'),
    red: v('--vscode-charts-red', '#f14c4c'),
    purple: v('--vscode-charts-purple', '#b180d7'),
    yellow: v('--vscode-charts-yellow', '#cca700'),
    series: [] as string[],
  };
  // Eight orders by default: the six chart colours, then the text colour and blue again; the
  // loss chart dashes the last two, so l = 32 is told from l = 0 by its dash, not a faint tint.
  t.series = [t.blue, t.orange, t.green, t.purple, t.red, t.yellow, foreground, t.blue];
  return t;
}

/** Calls `onChange` after VS Code switches theme; returns a function that stops watching. */
export function onThemeChange(onChange: () => void, body: HTMLElement = document.body): () => void {
  let last = body.className;
  const observer = new MutationObserver(() => {
    if (body.className === last) return;
    last = body.className;
    onChange();
  });
  observer.observe(body, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
