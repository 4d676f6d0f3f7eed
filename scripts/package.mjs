// Builds platform VSIXs: `npm run package` (this machine's platform) or
// `npm run package -- --target linux-x64,win32-x64` / `--all`. Each VSIX carries the native
// binaries of its own platform only (onnxruntime-node, Dawn's webgpu), selected by an ignore file
// made from .vscodeignore plus the other platforms' folders, and its size is checked against
// SIZE_BUDGET_MB. Prints one line per VSIX: path and size.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Targets both native packages ship binaries for: VS Code target → onnxruntime-node folder, webgpu folder. */
export const TARGETS = {
  'linux-x64': { onnx: 'linux/x64', webgpu: 'linux-x64' },
  'linux-arm64': { onnx: 'linux/arm64', webgpu: 'linux-arm64' },
  'darwin-arm64': { onnx: 'darwin/arm64', webgpu: 'darwin-universal' },
  'win32-x64': { onnx: 'win32/x64', webgpu: 'win32-x64' },
  'win32-arm64': { onnx: 'win32/arm64', webgpu: 'win32-arm64' },
};

/**
 * The largest VSIX we ship. Measured 2026-12-07: linux-x64 31.0 MB, linux-arm64 23.8, darwin-arm64
 * 37.6, win32-x64 48.4, win32-arm64 50.8 (Windows carries DirectML and the DirectX shader
 * compiler for onnxruntime and Dawn).
 */
export const SIZE_BUDGET_MB = 55;

const { values } = parseArgs({
  options: { target: { type: 'string' }, all: { type: 'boolean' }, out: { type: 'string' }, 'no-build': { type: 'boolean' } },
});
const here = `${process.platform}-${process.arch}`;
const targets = values.all ? Object.keys(TARGETS) : (values.target ?? here).split(',');
for (const t of targets) {
  if (!(t in TARGETS)) {
    console.error(`package: no VSIX for '${t}'; targets: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
}
const outDir = resolve(values.out ?? join(root, 'vsix'));
mkdirSync(outDir, { recursive: true });
if (!values['no-build']) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--production'], { cwd: root, stdio: 'inherit' });

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const base = readFileSync(join(root, '.vscodeignore'), 'utf8');
const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
let over = false;
for (const target of targets) {
  // vsce keeps a file that any `!` pattern matches, whatever comes after it: so the whole-package
  // re-includes of the two native packages become re-includes of everything but their binaries,
  // plus this platform's binaries.
  const own = TARGETS[target];
  const narrowed = {
    '!node_modules/onnxruntime-node/**': [
      '!node_modules/onnxruntime-node/*',
      '!node_modules/onnxruntime-node/!(bin)/**',
      `!node_modules/onnxruntime-node/bin/napi-v6/${own.onnx}/**`,
    ],
    '!node_modules/webgpu/**': ['!node_modules/webgpu/*', '!node_modules/webgpu/!(dist)/**', `!node_modules/webgpu/dist/${own.webgpu}/**`],
  };
  const lines = base.split('\n');
  for (const line of Object.keys(narrowed)) {
    if (!lines.includes(line)) throw new Error(`.vscodeignore has no line ${line}, which package.mjs narrows to one platform`);
  }
  const ignore = lines.flatMap((l) => narrowed[l] ?? [l]).join('\n');
  const ignoreFile = join(tmpdir(), `fc-vscodeignore-${target}-${process.pid}`);
  writeFileSync(ignoreFile, ignore);
  const out = join(outDir, `feature-complexity-${target}-${version}.vsix`);
  try {
    execFileSync(
      process.execPath,
      [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--no-rewrite-relative-links', '--allow-missing-repository', '--out', out],
      {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } finally {
    rmSync(ignoreFile, { force: true });
  }
  const mb = statSync(out).size / 2 ** 20;
  console.log(`${out}  ${mb.toFixed(1)} MB${mb > SIZE_BUDGET_MB ? `  OVER the ${SIZE_BUDGET_MB} MB budget` : ''}`);
  if (mb > SIZE_BUDGET_MB) over = true;
}
if (over) process.exit(1);
