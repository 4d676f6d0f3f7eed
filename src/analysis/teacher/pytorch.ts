/**
 * PyTorch checkpoints (`.pt`, `.pth`) cannot run without Python: they are exported to ONNX by
 * the user's own Python running scripts/export_torch.py (TorchScript directly; state dicts and
 * pickled models with the model's class from the user's code), and the ONNX file is cached
 * under the results folder, keyed by the checkpoint's content, the class and the input shape.
 * The engine itself never unpickles anything.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BadInputError } from '../util/errors';
import { checkSize } from './teacherSource';

export interface TorchExportOptions {
  /** The Python interpreter with torch (the extension asks the Python extension). Default: $FC_PYTHON or python3. */
  python?: string;
  /** `module:Class` for state dicts and pickled models. */
  modelClass?: string;
  /** Folder to import the model class from (default: the checkpoint's folder). */
  modulePath?: string;
  /** NHWC [H, W, C] of one image (from the dataset). */
  inputShape?: number[];
  /** Where exported ONNX files are kept (default: `.feature-complexity/onnx` beside the checkpoint). */
  cacheDir?: string;
  /** Seconds before the export is abandoned. */
  timeoutSeconds?: number;
}

/** scripts/export_torch.py, from the sources or from beside the bundle. */
export function exportScriptPath(): string {
  const candidates = [join(__dirname, '..', '..', '..', 'scripts', 'export_torch.py'), join(__dirname, '..', 'scripts', 'export_torch.py')];
  const hit = candidates.find((p) => existsSync(p));
  if (!hit) throw new Error(`export_torch.py not found (looked in ${candidates.join(', ')})`);
  return hit;
}

/** Exports `checkpoint` to ONNX (or reuses the cached export) and returns the .onnx path. */
export async function exportTorchToOnnx(checkpoint: string, opts: TorchExportOptions = {}): Promise<string> {
  const ckpt = resolve(checkpoint);
  checkSize(ckpt, 'a PyTorch checkpoint');
  const shape = opts.inputShape;
  if (!shape || shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new BadInputError(`${checkpoint}: exporting a PyTorch checkpoint needs the input image size; give the dataset (--data) so it is known`);
  }
  const [h, w, c] = shape;
  const key = createHash('sha256')
    .update(readFileSync(ckpt))
    .update(`\0${opts.modelClass ?? ''}\0${c},${h},${w}`)
    .digest('hex')
    .slice(0, 16);
  const cacheDir = opts.cacheDir ?? join(dirname(ckpt), '.feature-complexity', 'onnx');
  const out = join(cacheDir, `${basename(ckpt).replace(/\.[^.]+$/, '')}-${key}.onnx`);
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true });
  const python = opts.python ?? process.env.FC_PYTHON ?? 'python3';
  const args = [exportScriptPath(), '--checkpoint', ckpt, '--out', out, '--input-shape', `${c},${h},${w}`];
  if (opts.modelClass) args.push('--model-class', opts.modelClass, '--module-path', opts.modulePath ?? dirname(ckpt));
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-20000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.timeoutSeconds ?? 600) * 1000);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === 'ENOENT'
          ? new BadInputError(
              `Python interpreter '${python}' not found; PyTorch checkpoints are exported to ONNX by the Python that has torch (set it, or export to ONNX yourself)`,
            )
          : e,
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr: err });
    });
  });
  if (code !== 0 || !existsSync(out)) {
    const line =
      stderr
        .split('\n')
        .filter((l) => l.startsWith('export_torch:'))
        .pop() ??
      stderr.trim().split('\n').pop() ??
      '';
    const why = code === null ? 'the export was stopped (timeout)' : line.replace(/^export_torch: /, '') || `exit code ${code}`;
    const hint = /No module named 'torch'/.test(why)
      ? ` (give the interpreter that has torch: --python PATH, or the setting featureComplexity.pythonPath)`
      : '';
    throw new BadInputError(`${checkpoint}: PyTorch export to ONNX with '${python}' failed: ${why}${hint}`);
  }
  return out;
}
