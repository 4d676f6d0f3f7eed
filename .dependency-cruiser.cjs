/**
 * The walls between the four rooms of src/ (README.md, Layout; issue #14), checked by `npm run lint`.
 * Each room imports only itself and src/shared; src/shared imports only itself and its few
 * libraries; nothing imports in a circle. The rooms' tsconfig.json files check the environments
 * (shared: no node/vscode/DOM; webview: DOM only; analysis: node; extension: node + vscode).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle ties modules into one block that cannot be read, tested or moved apart.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'shared-is-the-contract',
      severity: 'error',
      comment: 'src/shared is imported by every room, so it may import none of them, nor node: modules or vscode.',
      from: { path: '^src/shared/' },
      to: { pathNot: ['^src/shared/', '^node_modules/(vscode-jsonrpc|ajv|@sinclair/typebox)/'] },
    },
    {
      name: 'engine-stays-out-of-the-host',
      severity: 'error',
      comment: 'The engine runs as a child process and a CLI: it never reaches the host, the panels or vscode.',
      from: { path: '^src/analysis/' },
      to: { path: ['^src/(extension|webview)/', '^vscode$'] },
    },
    {
      name: 'host-reaches-the-engine-by-spawning-it',
      severity: 'error',
      comment: 'The host talks to the engine through src/shared/engineProtocol.ts and to the panels through src/shared/webviewProtocol.ts.',
      from: { path: '^src/extension/' },
      to: { path: '^src/(analysis|webview)/' },
    },
    {
      name: 'panels-are-browser-only',
      severity: 'error',
      comment: 'Webview code runs in the browser: no engine, no host, no node: modules.',
      from: { path: '^src/webview/' },
      to: { path: ['^src/(analysis|extension)/', '^vscode$'] },
    },
    {
      name: 'panels-have-no-node',
      severity: 'error',
      from: { path: '^src/webview/' },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.mts', '.js', '.mjs', '.json'] },
  },
};
