/**
 * The Python interpreter that exports PyTorch checkpoints to ONNX (the engine never unpickles):
 * the `featureComplexity.pythonPath` setting, else the Python extension's selected interpreter,
 * else `python.defaultInterpreterPath`, else none (the engine then tries $FC_PYTHON and python3).
 */
import * as vscode from 'vscode';

interface PythonExtensionApi {
  environments?: { getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined };
}

export async function pythonFor(resource: vscode.Uri): Promise<string | undefined> {
  const own = vscode.workspace.getConfiguration('featureComplexity', resource).get<string>('pythonPath', '');
  if (own) return own;
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const active = api?.environments?.getActiveEnvironmentPath(resource)?.path;
      if (active) return active;
    } catch {
      // The Python extension failed to activate: fall through to the plain setting.
    }
  }
  return vscode.workspace.getConfiguration('python', resource).get<string>('defaultInterpreterPath') || undefined;
}

export const isPyTorchCheckpoint = (file: string): boolean => /\.(pt|pth)$/i.test(file);
