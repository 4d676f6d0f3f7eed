/** Reads a result file from disk for a panel (the parsing itself is shared: src/shared/files/analysis.ts). */
import { readFile } from 'node:fs/promises';
import { parseResult, ResultFormatError, type LoadedResult } from '../../shared/files/analysis';

/** The file's content as the panels show it; ResultFormatError when it is not a readable result, the fs error when it cannot be read. */
export async function readResultFile(path: string): Promise<LoadedResult> {
  const text = await readFile(path, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ResultFormatError(`The file is not valid JSON (${(e as Error).message}).`);
  }
  return parseResult(raw);
}
