/**
 * Workspace Trust (package.json `capabilities.untrustedWorkspaces`, "limited"). In Restricted Mode
 * the extension opens what is stored (analyses, their panels, Compare, saved predictions, the
 * CodeLens) and runs nothing on the workspace's files: an action that would (an analysis, a
 * prediction's fit, a PyTorch export) asks for trust through VS Code's own Workspace Trust editor.
 */
import * as vscode from 'vscode';

export const MANAGE_TRUST = 'Manage Workspace Trust';

/**
 * True when the workspace is trusted. Otherwise says that `action` needs trust, offers VS Code's
 * Workspace Trust editor, and returns false (the caller stops).
 */
export async function requireTrust(action: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const choice = await vscode.window.showWarningMessage(
    `Feature Complexity: ${action} runs a process on this workspace's files, which Restricted Mode does not allow. Trust the workspace to go on; stored results open either way.`,
    MANAGE_TRUST,
  );
  if (choice === MANAGE_TRUST) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}
