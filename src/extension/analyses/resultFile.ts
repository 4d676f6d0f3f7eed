/** Reads a result file from disk for a panel (the parsing itself is shared: src/shared/files/analysis.ts). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { checkpointName } from '../../shared/naming';
import type { ZooManifest } from '../../shared/files/zoo';
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

/**
 * A zoo row's result is named by its key (`zoos/<zoo>/results/<key>.json`): its panel is titled
 * by the row's checkpoint and the zoo instead, from the zoo's manifest.
 */
function zooResultTitle(file: string): string | undefined {
  const m = /[\\/]zoos[\\/]([^\\/]+)[\\/]results[\\/]([0-9a-f]+)\.json$/.exec(file);
  if (!m) return undefined;
  try {
    const zoo = JSON.parse(readFileSync(path.join(path.dirname(path.dirname(file)), 'zoo.json'), 'utf8')) as ZooManifest;
    const row = zoo.rows.find((r) => r.key === m[2]);
    return row && `${checkpointName(row.checkpoint)} (zoo ${m[1]})`;
  } catch {
    return undefined;
  }
}

/** A result file's name in a panel's title: a zoo row's checkpoint and zoo, else the file's own name. */
export function resultTitle(file: string): string {
  return zooResultTitle(file) ?? path.basename(file, '.json');
}
