/**
 * Writes a file so that a reader (the host's file watcher, a panel, another process) sees the old
 * content or the new one, never half of it: a temp file in the same folder, then a rename.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** `value` as indented JSON with a final newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown, replacer?: (key: string, value: unknown) => unknown): void {
  writeFileAtomic(path, JSON.stringify(value, replacer, 2) + '\n');
}
