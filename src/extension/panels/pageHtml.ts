/**
 * The page the results webview loads. Used by the host panel and by the preview script, so
 * the preview checks the same markup and the same CSP that VS Code gets.
 */

export interface PageOptions {
  /** `webview.cspSource`: the origin local resources are served from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
  /** Which app the bundle starts: the results of one analysis (default), or a comparison, prediction or calibration view. */
  view?: 'results' | 'compare' | 'predict' | 'calibration';
  /**
   * The bundle's and the stylesheet's text, to put in the page itself (with the nonce) instead of
   * loading them from scriptUri / styleUri: a webview fetches its files through VS Code's service
   * worker, which costs a panel's first open a round trip per file.
   */
  scriptText?: string;
  styleText?: string;
}

/**
 * Text that can sit inside <script> or <style> as it is: no end tag of either, and no <script,
 * which after a <!-- would keep the parser from seeing the real end tag. scripts/build.mjs checks
 * the bundles the same way, so this only fails for text that did not come from the build.
 */
export function inlineable(text: string): boolean {
  return !/<\/?(script|style)/i.test(text);
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The toolkit (FAST) probes `:focus-visible` with a temporary <style> element and takes its
 * nonce from the csp-nonce meta tag; without it the strict CSP blocks that element.
 */
export function resultsPageHtml(o: PageOptions): string {
  const csp = [
    "default-src 'none'",
    `img-src ${o.cspSource} data:`,
    `style-src ${o.cspSource} 'nonce-${o.nonce}'`,
    `script-src 'nonce-${o.nonce}'`,
    `font-src ${o.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta property="csp-nonce" content="${o.nonce}">
${o.styleText !== undefined && inlineable(o.styleText) ? `<style nonce="${o.nonce}">${o.styleText}</style>` : `<link rel="stylesheet" href="${escapeHtml(o.styleUri)}" nonce="${o.nonce}">`}
<title>${escapeHtml(o.title)}</title>
</head>
<body>
<main id="app" data-view="${o.view ?? 'results'}" aria-live="polite"><p class="loading">Loading analysis results…</p></main>
${o.scriptText !== undefined && inlineable(o.scriptText) ? `<script nonce="${o.nonce}">${o.scriptText}</script>` : `<script nonce="${o.nonce}" src="${escapeHtml(o.scriptUri)}"></script>`}
</body>
</html>`;
}

/** 32 characters from [A-Za-z0-9], fresh for every page. */
export function makeNonce(random: (n: number) => Uint8Array): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(random(32), (b) => chars[b % chars.length]).join('');
}
