/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzip: read, write, and load a folder
 * with the four standard files into NHWC float images in [0, 1].
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BadInputError } from '../util/errors';
import type { Dataset, Split } from './types';

/** IDX type codes (third byte of the magic number) this reader understands. */
const UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  /** Unsigned bytes, row-major over `dims`. */
  data: Uint8Array;
}

function isGzip(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Parses one IDX file's bytes; `name` only words the errors. */
export function parseIdx(raw: Buffer, name: string): IdxArray {
  let buf = raw;
  if (isGzip(raw)) {
    try {
      buf = gunzipSync(raw);
    } catch (e) {
      throw new BadInputError(`${name}: corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (buf.length < 4) throw new BadInputError(`${name}: not an IDX file (only ${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new BadInputError(`${name}: wrong magic number 0x${buf.readUInt32BE(0).toString(16).padStart(8, '0')} (an IDX file starts with 0x0000)`);
  }
  const type = buf[2];
  const rank = buf[3];
  if (type !== UBYTE) throw new BadInputError(`${name}: IDX element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  if (rank < 1 || rank > 4) throw new BadInputError(`${name}: IDX rank ${rank} is not supported`);
  const header = 4 + 4 * rank;
  if (buf.length < header) throw new BadInputError(`${name}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length < header + count) {
    throw new BadInputError(`${name}: truncated data: header promises ${dims.join('×')} = ${count} bytes, file has ${buf.length - header}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + header, count) };
}

export function readIdx(path: string): IdxArray {
  if (!existsSync(path)) throw new BadInputError(`missing file ${path}`);
  return parseIdx(readFileSync(path), path);
}

/** Encodes unsigned bytes as IDX; gzip when `gzip` is true. */
export function encodeIdx(arr: IdxArray, gzip = false): Buffer {
  const header = Buffer.alloc(4 + 4 * arr.dims.length);
  header[2] = UBYTE;
  header[3] = arr.dims.length;
  arr.dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const out = Buffer.concat([header, Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength)]);
  return gzip ? gzipSync(out, { level: 9 }) : out;
}

export function writeIdx(path: string, arr: IdxArray, gzip = path.endsWith('.gz')): void {
  writeFileSync(path, encodeIdx(arr, gzip));
}

const PREFIX = { train: 'train', test: 't10k' } as const;

/** The file for `kind` of `split` in `dir`: raw or `.gz`, whichever exists. */
function idxPath(dir: string, split: 'train' | 'test', kind: 'images' | 'labels'): string {
  const base = join(dir, `${PREFIX[split]}-${kind}-idx${kind === 'images' ? 3 : 1}-ubyte`);
  for (const p of [base, base + '.gz']) if (existsSync(p)) return p;
  throw new BadInputError(
    `missing file ${base}[.gz] (an MNIST-style folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, raw or .gz)`,
  );
}

function loadSplit(dir: string, split: 'train' | 'test'): Split {
  const imgPath = idxPath(dir, split, 'images');
  const lblPath = idxPath(dir, split, 'labels');
  const img = readIdx(imgPath);
  const lbl = readIdx(lblPath);
  if (img.dims.length !== 3 && img.dims.length !== 4)
    throw new BadInputError(`${imgPath}: images must have 3 or 4 dimensions (N×H×W[×C]), got ${img.dims.length}`);
  if (lbl.dims.length !== 1) throw new BadInputError(`${lblPath}: labels must have 1 dimension, got ${lbl.dims.length}`);
  const [count, height, width] = img.dims;
  const channels = img.dims.length === 4 ? img.dims[3] : 1;
  if (lbl.dims[0] !== count) throw new BadInputError(`${split} split: ${count} images but ${lbl.dims[0]} labels (${imgPath}, ${lblPath})`);
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  return { images, labels: Int32Array.from(lbl.data), count, height, width, channels };
}

/** Loads an MNIST-style folder: NHWC float32 images scaled from bytes to [0, 1]. */
export function loadIdxFolder(dir: string): Dataset {
  if (!existsSync(dir)) throw new BadInputError(`dataset folder ${dir} does not exist`);
  const train = loadSplit(dir, 'train');
  const test = loadSplit(dir, 'test');
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    throw new BadInputError(
      `${dir}: train images are ${train.height}×${train.width}×${train.channels} but test images are ${test.height}×${test.width}×${test.channels}`,
    );
  }
  let maxLabel = 0;
  for (const s of [train, test]) for (const l of s.labels) maxLabel = Math.max(maxLabel, l);
  return { path: dir, format: 'idx', train, test, numClasses: maxLabel + 1, normalization: 'pixel / 255 (bytes scaled to [0, 1])' };
}
