/**
 * Finds model definitions in user code, cheaply, line by line (CodeLens must be fast):
 * Python `nn.Module` / Keras `Model` subclasses and `Sequential(...)` / functional `Model(...)`
 * assignments; TypeScript/JavaScript `tf.sequential(...)` / `tf.model(...)` assignments.
 * No vscode import: unit-tested in plain Node.
 */
import { checkpointStem } from '../../shared/naming';

export interface ModelDefinition {
  name: string;
  /** 0-based line of the definition. */
  line: number;
  kind: 'torch-module' | 'keras-model' | 'keras-sequential' | 'keras-functional' | 'torch-sequential' | 'tfjs-sequential' | 'tfjs-model';
}

const PY_CLASS = /^\s*class\s+([A-Za-z_]\w*)\s*\(([^)]*)\)\s*:/;
const PY_ASSIGN = /^\s*(?:self\.)?([A-Za-z_]\w*)\s*(?::[^=]+)?=\s*([\w.]+)\s*\(/;
const JS_ASSIGN = /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:await\s+)?([\w.]+)\s*\(/;

function pythonBaseKind(bases: string): ModelDefinition['kind'] | undefined {
  const names = bases.split(',').map((b) => b.trim().split('=').pop()!.trim());
  for (const b of names) {
    if (/(^|\.)(nn\.Module|Module|LightningModule)$/.test(b)) return 'torch-module';
    if (/(^|\.)(keras\.Model|keras\.models\.Model|Model)$/.test(b)) return 'keras-model';
  }
  return undefined;
}

function pythonCallKind(callee: string): ModelDefinition['kind'] | undefined {
  if (/^(torch\.)?nn\.Sequential$/.test(callee)) return 'torch-sequential';
  if (/^((tf\.)?keras\.(models\.)?)?Sequential$/.test(callee)) return 'keras-sequential';
  if (/^((tf\.)?keras\.(models\.)?)?Model$/.test(callee)) return 'keras-functional';
  return undefined;
}

export function findModelDefinitions(text: string, languageId: string): ModelDefinition[] {
  const out: ModelDefinition[] = [];
  const lines = text.split(/\r?\n/);
  const python = languageId === 'python';
  const js = ['typescript', 'javascript', 'typescriptreact', 'javascriptreact'].includes(languageId);
  if (!python && !js) return out;
  // A class's own `self.layers = nn.Sequential(...)` is part of that class, not a model of its own.
  let classIndent = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (python) {
      const indent = line.search(/\S/);
      if (indent >= 0 && classIndent >= 0 && indent <= classIndent) classIndent = -1;
      const cls = PY_CLASS.exec(line);
      if (cls) {
        const kind = pythonBaseKind(cls[2]);
        if (kind) {
          out.push({ name: cls[1], line: i, kind });
          classIndent = indent;
        }
        continue;
      }
      if (classIndent >= 0) continue;
      const asg = PY_ASSIGN.exec(line);
      const kind = asg && pythonCallKind(asg[2]);
      if (asg && kind) out.push({ name: asg[1], line: i, kind });
    } else {
      const asg = JS_ASSIGN.exec(line);
      if (!asg) continue;
      if (/^tf\.sequential$/.test(asg[2])) out.push({ name: asg[1], line: i, kind: 'tfjs-sequential' });
      else if (/^tf\.model$/.test(asg[2])) out.push({ name: asg[1], line: i, kind: 'tfjs-model' });
    }
  }
  return out;
}

/** Splits CamelCase / snake_case / kebab-case names into lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/**
 * The documented linking heuristic: a checkpoint belongs to a definition when the words of the
 * definition's name, joined, equal the checkpoint's stem joined the same way (its file name without
 * extension, or its folder's name for `model.json`), ignoring trailing epoch/step/version suffixes.
 * `SmallCNN` ↔ `small_cnn.pt`, `small-cnn/model.json`, `smallcnn_epoch10.h5`.
 */
export function checkpointMatchesDefinition(definitionName: string, checkpointPath: string): boolean {
  const stem = checkpointStem(checkpointPath);
  const cleaned = stem.replace(/([_-]?(epoch|ep|step|v|best|final|last|ckpt|checkpoint)?[_-]?\d*)+$/i, '');
  const a = words(definitionName).join('');
  const b = words(cleaned).join('');
  return a.length > 0 && a === b;
}
