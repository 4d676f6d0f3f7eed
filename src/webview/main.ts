/**
 * Entry of dist/webview.js. chart.js and the toolkit ship only as ES modules, which the
 * project's CommonJS-typed TypeScript may reach only through a dynamic import; esbuild inlines
 * them, so the bundle is still one IIFE with no extra request. The page says which app to start.
 */
const view = document.getElementById('app')?.dataset.view;
if (view === 'compare') void import('./compare.mjs');
else if (view === 'predict') void import('./predict.mjs');
else if (view === 'calibration') void import('./calibration.mjs');
else void import('./app.mjs');
