import * as vscode from 'vscode';
import { COMMANDS } from './commands';
import { settings } from './config';
import { Ctx } from './ctx';
import { EngineClient } from './engine';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Feature Complexity Engine');
  const engine = new EngineClient(context.asAbsolutePath('dist/engine.js'), log, () => settings().nodePath);
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  const ctx = new Ctx(context, engine, log, status);
  context.subscriptions.push(log, engine, status, ctx);
  for (const [id, factory] of Object.entries(COMMANDS)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, factory(ctx)));
  }
  context.subscriptions.push(
    engine.onDidCrash((how) => {
      void vscode.window
        .showErrorMessage(`Feature Complexity: the engine stopped unexpectedly (${how}). It has been restarted; results already written are kept. Run the command again.`, 'Show Log')
        .then((a) => a && log.show());
    }),
  );
}

export function deactivate(): void {
  // Subscriptions stop the engine.
}
