/**
 * CodeLens above model definitions: the latest linked analysis in one line (opens its panel),
 * or "Analyze…" when none is linked. Links: explicit (links.json) first, then the name heuristic
 * of `checkpointMatchesDefinition`.
 */
import * as vscode from 'vscode';
import { formatSummary } from '../../shared/summary';
import type { Links } from './links';
import { checkpointMatchesDefinition, findModelDefinitions, type ModelDefinition } from './modelDefinitions';
import type { ResultsStore, StoredAnalysis } from './resultsStore';

export const CODELENS_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];

export class ModelCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private readonly subs: vscode.Disposable[];

  constructor(
    private readonly store: ResultsStore,
    private readonly links: Links,
  ) {
    this.subs = [store.onDidChange(() => this.emitter.fire()), links.onDidChange(() => this.emitter.fire())];
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const defs = findModelDefinitions(doc.getText(), doc.languageId);
    if (!defs.length) return [];
    await this.store.whenReady();
    const lenses: vscode.CodeLens[] = [];
    for (const def of defs) {
      const range = new vscode.Range(def.line, 0, def.line, 0);
      const analysis = await this.analysisFor(doc.uri, def);
      if (analysis) {
        lenses.push(
          new vscode.CodeLens(range, {
            title: `$(beaker) Feature complexity: ${formatSummary(analysis.summary)}`,
            tooltip: `Latest analysis of ${vscode.workspace.asRelativePath(analysis.checkpoint)} (${new Date(analysis.createdAt).toLocaleString()}). Click to open it.`,
            command: 'featureComplexity.openResults',
            arguments: [analysis.uri],
          }),
        );
      } else {
        lenses.push(
          new vscode.CodeLens(range, {
            title: '$(beaker) Feature complexity: Analyze…',
            tooltip: `Link a checkpoint of ${def.name} and analyze it`,
            command: 'featureComplexity.linkCheckpoint',
            arguments: [doc.uri, def.name, true],
          }),
        );
      }
    }
    return lenses;
  }

  private async analysisFor(doc: vscode.Uri, def: ModelDefinition): Promise<StoredAnalysis | undefined> {
    const linked = await this.links.checkpointFor(doc, def.name);
    if (linked) return this.store.latestFor(linked);
    return this.store.all().find((a) => checkpointMatchesDefinition(def.name, a.checkpoint));
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }
}
