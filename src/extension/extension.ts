import * as vscode from "vscode"; export function activate(_c: vscode.ExtensionContext): void {} export function deactivate(): void {}
