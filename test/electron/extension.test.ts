/// <reference types="mocha" />
/**
 * In-extension-host suite for `npm run test:electron` (@vscode/test-cli downloads VS Code, so it runs
 * only where that download works; the code-server suite in test/e2e is the one CI runs).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const ID = 'feature-complexity.feature-complexity';

suite('Feature Complexity extension', () => {
  test('activates and registers every command of the manifest', async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, 'extension is installed');
    await ext.activate();
    const declared = (ext.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const c of declared) assert.ok(registered.has(c), `${c} is registered`);
  });

  test('the capabilities command reaches the engine child process', async () => {
    // It shows a notification; it must not throw, and the engine must answer within the timeout.
    await vscode.commands.executeCommand('featureComplexity.showCapabilities');
  });
});
