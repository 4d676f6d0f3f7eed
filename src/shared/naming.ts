/**
 * How checkpoints and result files are named, once for the engine, the host and the panels.
 * Paths are split on both separators, so a Windows path stored in a result file reads the same.
 */

const parts = (path: string): string[] => path.split(/[\\/]/).filter(Boolean);

/** The name a checkpoint is shown by: a TF.js `model.json` by its folder's name, any other file by its file name. */
export function checkpointName(path: string): string {
  const p = parts(path);
  const last = p[p.length - 1] ?? path;
  return last === 'model.json' && p.length > 1 ? p[p.length - 2] : last;
}

/** The checkpoint's name without its extension (a `model.json` folder's name as it is): what its result files are named after. */
export function checkpointStem(path: string): string {
  const name = checkpointName(path);
  return parts(path).pop() === 'model.json' ? name : name.replace(/\.[^.]+$/, '');
}

/** A compact UTC time for file names, e.g. `20261207T142913Z` (sorts as it reads). */
export function fileTimestamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** `<checkpoint stem>-<timestamp>.json`: the file an analysis writes into `.feature-complexity/` (the CLI and the host alike). */
export function resultFileName(checkpoint: string, now = new Date()): string {
  return `${checkpointStem(checkpoint)}-${fileTimestamp(now)}.json`;
}

/** `task-complexity-<timestamp>.json`: the file a task-complexity calibration writes beside the analyses. */
export function calibrationFileName(now = new Date()): string {
  return `task-complexity-${fileTimestamp(now)}.json`;
}

/**
 * The time in a file name written by `fileTimestamp` (`20261207T142913Z`) or by the extension
 * before it used it (`2026-12-07T14-29-13-123Z`); undefined when the name holds neither.
 */
export function timeInFileName(fileName: string): number | undefined {
  const compact = /(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(fileName);
  const dashed = /(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z/.exec(fileName);
  const m = compact ?? dashed;
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7] ?? '000'}Z`);
  return Number.isFinite(t) ? t : undefined;
}
