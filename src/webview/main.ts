/**
 * Entry of dist/webview.js. chart.js and the toolkit ship only as ES modules, which the
 * project's CommonJS-typed TypeScript may reach only through a dynamic import; esbuild inlines
 * it, so the bundle is still one IIFE with no extra request.
 */
void import('./app.mjs');
