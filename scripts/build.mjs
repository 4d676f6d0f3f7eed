// Builds the three bundles: the extension host, the engine (child process + CLI), the webview.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info', absWorkingDir: root };

/** The wasm backend loads its .wasm files at run time; keep them beside the engine bundle. */
function copyWasm() {
  const from = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (const f of readdirSync(from).filter((n) => n.endsWith('.wasm'))) cpSync(join(from, f), join(root, 'dist', f));
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
    banner: { js: '#!/usr/bin/env node' },
    // Native or optional packages are resolved at run time from node_modules, never bundled.
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'onnxruntime-node'],
  },
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
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

copyWasm();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync(join(root, 'dist/engine.js'), 0o755);
}
