/**
 * The engine's side of the result file (ARCHITECTURE.md, `schemaVersion: 1`): every file written
 * or read is checked with ajv against its one schema (src/shared/files/analysisSchema.ts, whose
 * type the engine fills), and written atomically.
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { BadInputError } from '../util/errors';
import { ResultFileSchema, type ResultFile } from '../../shared/files/analysisSchema';
import { writeJsonAtomic } from '../util/atomicWrite';

export type { ResultFile };

const ajv = new Ajv({ allErrors: true, strict: false });
const validateFn = ajv.compile(ResultFileSchema);

/** Null when `value` is a valid result file, else the schema errors as one line each. */
export function validateResult(value: unknown): string[] | null {
  if (validateFn(value)) return null;
  return (validateFn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Writes `result` to `path` through a temp file and a rename, after validating it. */
export function writeResult(path: string, result: ResultFile): void {
  const errors = validateResult(result);
  if (errors) throw new Error(`internal: the result does not match its schema: ${errors.join('; ')}`);
  writeJsonAtomic(path, result);
}

export function readResult(path: string): ResultFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BadInputError(`${path}: not a readable result file (${e instanceof Error ? e.message : String(e)})`);
  }
  const errors = validateResult(value);
  if (errors) throw new BadInputError(`${path}: not a valid result file (${errors[0]})`);
  return value as ResultFile;
}
