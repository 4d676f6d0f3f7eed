/**
 * Links between model definitions in user code and checkpoints, kept in
 * `<resultsFolder>/links.json` (workspace-relative paths, so they can be committed).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from '../config';

export interface Link {
  /** Workspace-relative path of the source file holding the definition. */
  file: string;
  /** Class or variable name of the definition. */
  name: string;
  /** Workspace-relative path of the checkpoint. */
  checkpoint: string;
}

export class Links {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;

  private fileFor(folder: vscode.WorkspaceFolder): vscode.Uri {
    return vscode.Uri.joinPath(folder.uri, settings(folder.uri).resultsFolder, 'links.json');
  }

  async read(folder: vscode.WorkspaceFolder): Promise<Link[]> {
    try {
      const raw = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(this.fileFor(folder))).toString('utf8'));
      return Array.isArray(raw.links) ? (raw.links as Link[]) : [];
    } catch {
      return [];
    }
  }

  /** Absolute checkpoint path linked to a definition, if any. */
  async checkpointFor(doc: vscode.Uri, name: string): Promise<string | undefined> {
    const folder = vscode.workspace.getWorkspaceFolder(doc);
    if (!folder) return undefined;
    const rel = path.relative(folder.uri.fsPath, doc.fsPath);
    const link = (await this.read(folder)).find((l) => l.file === rel && l.name === name);
    return link && path.join(folder.uri.fsPath, link.checkpoint);
  }

  async link(doc: vscode.Uri, name: string, checkpoint: string): Promise<void> {
    const folder = vscode.workspace.getWorkspaceFolder(doc);
    if (!folder) throw new Error('the model definition is not inside a workspace folder');
    const file = path.relative(folder.uri.fsPath, doc.fsPath);
    const links = (await this.read(folder)).filter((l) => !(l.file === file && l.name === name));
    links.push({ file, name, checkpoint: path.relative(folder.uri.fsPath, checkpoint) });
    const target = this.fileFor(folder);
    await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(target, '..'));
    await vscode.workspace.fs.writeFile(target, Buffer.from(JSON.stringify({ links }, null, 2) + '\n'));
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
