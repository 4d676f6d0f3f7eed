import * as vscode from 'vscode';
import { COMMANDS } from './commands';
import { settings } from './config';
import { Ctx } from './ctx';
import { AnalysesTree } from './analyses/analysesView';
import { CODELENS_LANGUAGES, ModelCodeLensProvider } from './analyses/codeLens';
import { EngineClient } from './engine/engine';
import { Links } from './analyses/links';
import { ResultsStore } from './analyses/resultsStore';
import { Zoos } from './analyses/zoos';
import { ZooCli } from './engine/zooCli';
import { stopLocalZooRuns } from './flows/zooFlow';
import { Panel } from './panels/panel';
import { resultsView } from './panels/resultsPanel';
import { registerViewSerializers } from './panels/viewsPanel';

export function activate(context: vscode.ExtensionContext): void {
  // A log channel: each line carries its time and level, and the user can filter by level.
  const log = vscode.window.createOutputChannel('Feature Complexity Engine', { log: true });
  const engine = new EngineClient(
    context.asAbsolutePath('dist/engine.js'),
    log,
    () => settings().nodePath,
    () => settings().threads,
  );
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  const store = new ResultsStore();
  const links = new Links();
  const zooCli = new ZooCli(context.asAbsolutePath('dist/engine.js'), log, () => settings().nodePath);
  const zoos = new Zoos(zooCli, log);
  const ctx = new Ctx(context, engine, log, status, store, links, zoos, zooCli);
  const lenses = new ModelCodeLensProvider(store, links);
  const tree = new AnalysesTree(store, zoos);
  context.subscriptions.push(log, engine, status, ctx, store, links, zoos, lenses, tree, { dispose: stopLocalZooRuns });
  context.subscriptions.push(
    vscode.languages.registerCodeLensProvider(
      CODELENS_LANGUAGES.map((language) => ({ language, scheme: 'file' })),
      lenses,
    ),
    vscode.window.createTreeView('featureComplexity.analyses', { treeDataProvider: tree, showCollapseAll: true }),
  );
  context.subscriptions.push(Panel.registerSerializer(context, resultsView), registerViewSerializers(context));
  for (const [id, factory] of Object.entries(COMMANDS)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, factory(ctx)));
  }
  context.subscriptions.push(
    engine.onDidCrash((how) => {
      void vscode.window
        .showErrorMessage(
          `Feature Complexity: the engine stopped unexpectedly (${how}). It has been restarted; results already written are kept. Run the command again.`,
          'Show Log',
        )
        .then((a) => a && log.show());
    }),
  );
}

export function deactivate(): void {
  // Subscriptions stop the engine.
}
