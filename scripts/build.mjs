// Builds the bundles: the extension host, the engine (child process + CLI), and one webview
// bundle per view (dist/webview-<view>.js), so a panel loads only the code of its own view.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info', absWorkingDir: root };

/** dist/webview-<view>.js ← its app; src/extension/panels/pageHtml.ts's `view` and webviewHost.ts name the same files. */
const WEBVIEW_VIEWS = {
  'webview-results': 'src/webview/results/main.mts',
  'webview-compare': 'src/webview/compare/main.mts',
  'webview-predict': 'src/webview/predict/main.mts',
  'webview-calibration': 'src/webview/calibration/main.mts',
};

/**
 * Files the engine loads at run time, kept beside its bundle: the wasm backend's .wasm files and
 * the HDF5 reader's worker (src/analysis/teacher/h5Reader.cjs, run as a file in a worker thread).
 */
function copyRuntimeFiles() {
  const from = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (const f of readdirSync(from).filter((n) => n.endsWith('.wasm'))) cpSync(join(from, f), join(root, 'dist', f));
  cpSync(join(root, 'src/analysis/teacher/h5Reader.cjs'), join(root, 'dist/h5Reader.cjs'));
}

const builds = [
  {
    ...common,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['src/analysis/main.ts'],
    outfile: 'dist/engine.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Bundled ES modules that read import.meta.url (tinyglobby's fdir) get this file's URL.
    banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    // Native or optional packages are resolved at run time from node_modules, never bundled.
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'onnxruntime-node'],
  },
  {
    // The training threads of parallel.ts, a file beside the engine's bundle.
    ...common,
    entryPoints: ['src/analysis/pipeline/trainWorker.ts'],
    outfile: 'dist/trainWorker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Native or optional packages are resolved at run time from node_modules, never bundled.
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'onnxruntime-node'],
  },
  {
    ...common,
    // One IIFE per view (the page loads it with its nonce). chart.js and the toolkit ship only as
    // ES modules, which the CommonJS-typed project reaches from .mts entries; esbuild inlines them.
    entryPoints: WEBVIEW_VIEWS,
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    // Always minified: the panel's first open parses the whole bundle (bench/README.md, panel section).
    minify: true,
  },
];

if (process.argv.includes('--electron-tests')) {
  builds.push({
    ...common,
    entryPoints: ['test/electron/extension.test.ts'],
    outfile: 'dist/test/electron/extension.test.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
  });
}

copyRuntimeFiles();
// The single bundle of every view that came before the per-view ones.
for (const stale of ['dist/webview.js', 'dist/webview.js.map']) rmSync(join(root, stale), { force: true });
/** The host puts each webview bundle inside a <script> of the page (src/extension/panels/pageHtml.ts, inlineable): none may hold a script or style tag. */
function checkInlineable() {
  for (const name of Object.keys(WEBVIEW_VIEWS)) {
    const text = readFileSync(join(root, 'dist', `${name}.js`), 'utf8');
    if (/<\/?(script|style)/i.test(text)) throw new Error(`dist/${name}.js holds a <script or <style tag and cannot be inlined in the page`);
  }
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync(join(root, 'dist/engine.js'), 0o755);
  checkInlineable();
}
