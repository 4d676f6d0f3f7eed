/**
 * NumPy datasets: an `.npz` (zip) or a folder of `.npy` files holding `x_train, y_train,
 * x_test, y_test`. Images may be N×H×W, N×H×W×C (NHWC) or N×C×H×W (NCHW, told by a channel
 * axis of 1 or 3 in front of a larger last axis); they become NHWC floats. Integer pixels are
 * scaled to [0, 1]; float pixels are kept as stored. A `.npy` is read only up to the sample cap
 * (from its file, in place), so a huge array does not have to fit in memory.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { BadInputError } from '../util/errors';
import type { Dataset, Split } from './types';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** The most samples of one split read into memory (a split is held as float32). */
export const MAX_SPLIT_FLOATS = 2 ** 29;

export interface NpyHeader {
  dtype: string;
  littleEndian: boolean;
  bytes: number;
  shape: number[];
  fortranOrder: boolean;
  /** Offset of the data from the start of the file. */
  dataOffset: number;
}

const DTYPES: Record<string, number> = { u1: 1, i1: 1, b1: 1, u2: 2, i2: 2, f2: 2, u4: 4, i4: 4, f4: 4, u8: 8, i8: 8, f8: 8 };

/** Parses the header of an `.npy` (format versions 1–3). */
export function parseNpyHeader(buf: Uint8Array, name: string): NpyHeader {
  if (buf.length < 10 || !Buffer.from(buf.subarray(0, 6)).equals(MAGIC))
    throw new BadInputError(`${name}: not an .npy file (wrong magic; NumPy files start with \\x93NUMPY)`);
  const major = buf[6];
  if (major < 1 || major > 3) throw new BadInputError(`${name}: .npy format version ${major}.${buf[7]} is not supported`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) throw new BadInputError(`${name}: truncated .npy header`);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (buf.length < start + hlen) throw new BadInputError(`${name}: truncated .npy header (needs ${hlen} bytes)`);
  const text = Buffer.from(buf.subarray(start, start + hlen)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([<>|=])([a-z])(\d+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shapeM) throw new BadInputError(`${name}: unreadable .npy header '${text.trim().slice(0, 80)}'`);
  const dtype = descr[2] + descr[3];
  if (!(dtype in DTYPES)) throw new BadInputError(`${name}: dtype '${descr[0]}' is not supported (unsigned/signed integers, bool and floats are)`);
  const shape = shapeM[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new BadInputError(`${name}: bad shape (${shapeM[1]}) in the .npy header`);
  return { dtype, littleEndian: descr[1] !== '>', bytes: DTYPES[dtype], shape, fortranOrder: fortran[1] === 'True', dataOffset: start + hlen };
}

/** Decodes `count` elements of `h.dtype` from `raw` into float64 values. */
function decodeValues(raw: Uint8Array, h: NpyHeader, count: number): Float64Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(count);
  const le = h.littleEndian;
  const b = h.bytes;
  for (let i = 0; i < count; i++) {
    const o = i * b;
    switch (h.dtype) {
      case 'u1':
      case 'b1':
        out[i] = raw[o];
        break;
      case 'i1':
        out[i] = dv.getInt8(o);
        break;
      case 'u2':
        out[i] = dv.getUint16(o, le);
        break;
      case 'i2':
        out[i] = dv.getInt16(o, le);
        break;
      case 'f2':
        out[i] = half(dv.getUint16(o, le));
        break;
      case 'u4':
        out[i] = dv.getUint32(o, le);
        break;
      case 'i4':
        out[i] = dv.getInt32(o, le);
        break;
      case 'f4':
        out[i] = dv.getFloat32(o, le);
        break;
      case 'u8':
        out[i] = Number(dv.getBigUint64(o, le));
        break;
      case 'i8':
        out[i] = Number(dv.getBigInt64(o, le));
        break;
      case 'f8':
        out[i] = dv.getFloat64(o, le);
        break;
    }
  }
  return out;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface NpyArray {
  header: NpyHeader;
  /** Elements of the first `rows` rows. */
  values: Float64Array;
  /** Rows read (≤ shape[0]); fewer than the file holds when capped. */
  rows: number;
}

function rowSize(h: NpyHeader): number {
  return h.shape.slice(1).reduce((a, b) => a * b, 1);
}

function checkLayout(h: NpyHeader, name: string): void {
  if (h.fortranOrder) throw new BadInputError(`${name}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray`);
  if (h.shape.length === 0) throw new BadInputError(`${name}: a scalar, not an array of samples`);
}

/** Parses a whole `.npy` held in memory (an `.npz` member), up to `maxRows` rows. */
export function parseNpy(buf: Uint8Array, name: string, maxRows = Infinity): NpyArray {
  const h = parseNpyHeader(buf, name);
  checkLayout(h, name);
  const rows = Math.min(h.shape[0], maxRows);
  const count = rows * rowSize(h);
  const need = h.dataOffset + h.shape[0] * rowSize(h) * h.bytes;
  if (buf.length < need)
    throw new BadInputError(
      `${name}: truncated data: shape (${h.shape.join(', ')}) needs ${need - h.dataOffset} bytes, the file holds ${buf.length - h.dataOffset}`,
    );
  return { header: h, values: decodeValues(buf.subarray(h.dataOffset, h.dataOffset + count * h.bytes), h, count), rows };
}

/** Reads a `.npy` file's first `maxRows` rows from disk without loading the rest. */
export function readNpy(path: string, maxRows: number | ((h: NpyHeader) => number) = Infinity): NpyArray {
  if (!existsSync(path)) throw new BadInputError(`missing file ${path}`);
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 65536 + 12));
    readSync(fd, head, 0, head.length, 0);
    const h = parseNpyHeader(head, path);
    checkLayout(h, path);
    const need = h.dataOffset + h.shape[0] * rowSize(h) * h.bytes;
    if (size < need)
      throw new BadInputError(
        `${path}: truncated data: shape (${h.shape.join(', ')}) needs ${need - h.dataOffset} bytes, the file holds ${size - h.dataOffset}`,
      );
    const rows = Math.min(h.shape[0], typeof maxRows === 'function' ? maxRows(h) : maxRows);
    const raw = Buffer.alloc(rows * rowSize(h) * h.bytes);
    readSync(fd, raw, 0, raw.length, h.dataOffset);
    return { header: h, values: decodeValues(raw, h, raw.length / h.bytes), rows };
  } finally {
    closeSync(fd);
  }
}

const KEYS = ['x_train', 'y_train', 'x_test', 'y_test'] as const;
type Key = (typeof KEYS)[number];

/** Rows that fit the float budget of one split, from an image array's shape. */
function rowCap(shape: number[]): number {
  const per = Math.max(
    1,
    shape.slice(1).reduce((a, b) => a * b, 1),
  );
  return Math.max(1, Math.floor(MAX_SPLIT_FLOATS / per));
}

/** An .npz is read whole and its arrays unpacked in memory: larger ones are refused. */
export const MAX_NPZ_BYTES = 2 ** 31 - 1;

/** Loads an `.npz` with x_train, y_train, x_test, y_test. */
export function loadNpz(path: string): Dataset {
  const size = statSync(path).size;
  if (size > MAX_NPZ_BYTES)
    throw new BadInputError(
      `${path}: ${(size / 2 ** 30).toFixed(1)} GiB is more than an .npz this engine unpacks in memory (2 GiB); save the arrays as a folder of .npy files, which are read in place`,
    );
  const buf = readFileSync(path);
  let files: Record<string, Uint8Array>;
  const oversize: string[] = [];
  try {
    files = unzipSync(buf, {
      filter: (f) => {
        if (!KEYS.some((k) => f.name === `${k}.npy`)) return false;
        if (f.originalSize > MAX_NPZ_BYTES) oversize.push(`${f.name} (${(f.originalSize / 2 ** 30).toFixed(1)} GiB)`);
        return f.originalSize <= MAX_NPZ_BYTES;
      },
    });
  } catch (e) {
    throw new BadInputError(`${path}: not a readable .npz (zip: ${e instanceof Error ? e.message : String(e)})`);
  }
  if (oversize.length > 0)
    throw new BadInputError(`${path}: ${oversize.join(', ')} unpack to more than 2 GiB; save the arrays as a folder of .npy files, which are read in place`);
  const arrays = {} as Record<Key, NpyArray>;
  for (const k of KEYS) {
    const member = files[`${k}.npy`];
    if (!member)
      throw new BadInputError(
        `${path}: no array '${k}' (an .npz dataset holds x_train, y_train, x_test, y_test; found ${Object.keys(files).join(', ') || 'none of them'})`,
      );
    const cap = k.startsWith('x') ? rowCap(parseNpyHeader(member, `${path}:${k}`).shape) : Infinity;
    arrays[k] = parseNpy(member, `${path}:${k}`, cap);
  }
  return assemble(path, 'npz', arrays);
}

/** Loads a folder of x_train.npy, y_train.npy, x_test.npy, y_test.npy. */
export function loadNpyFolder(dir: string): Dataset {
  const arrays = {} as Record<Key, NpyArray>;
  for (const k of KEYS) {
    const p = join(dir, `${k}.npy`);
    if (!existsSync(p)) throw new BadInputError(`missing file ${p} (a NumPy dataset folder holds x_train.npy, y_train.npy, x_test.npy, y_test.npy)`);
    arrays[k] = readNpy(p, k.startsWith('x') ? (h) => rowCap(h.shape) : Infinity);
  }
  return assemble(dir, 'npy', arrays);
}

/** Images N×H×W[×C] or N×C×H×W → NHWC split; labels N or one-hot N×K. */
function toSplit(x: NpyArray, y: NpyArray, where: string, which: string): { split: Split; layout: 'NHWC' | 'NCHW'; integer: boolean } {
  const s = x.header.shape;
  let layout: 'NHWC' | 'NCHW' = 'NHWC';
  let [n, h, w, c] = [s[0], s[1], s[2], 1];
  if (s.length === 4) {
    if ([1, 3].includes(s[1]) && ![1, 3, 4].includes(s[3])) {
      layout = 'NCHW';
      [c, h, w] = [s[1], s[2], s[3]];
    } else c = s[3];
  } else if (s.length !== 3) throw new BadInputError(`${where}: x_${which} has shape (${s.join(', ')}); images N×H×W, N×H×W×C or N×C×H×W are needed`);
  if (h < 1 || w < 1 || c < 1) throw new BadInputError(`${where}: x_${which} has an empty image shape (${s.join(', ')})`);
  const ys = y.header.shape;
  if (ys[0] !== n) throw new BadInputError(`${where}: ${n} images in x_${which} but ${ys[0]} labels in y_${which}`);
  n = x.rows;
  const labels = new Int32Array(n);
  if (ys.length === 2 && ys[1] > 1) {
    const k = ys[1];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (y.values[i * k + j] > y.values[i * k + best]) best = j;
      labels[i] = best;
    }
  } else if (ys.length === 1 || (ys.length === 2 && ys[1] === 1)) {
    for (let i = 0; i < n; i++) {
      const v = y.values[i];
      if (!Number.isInteger(v) || v < 0) throw new BadInputError(`${where}: y_${which}[${i}] = ${v} is not a class index (non-negative integer)`);
      labels[i] = v;
    }
  } else throw new BadInputError(`${where}: y_${which} has shape (${ys.join(', ')}); class indices (N) or one-hot rows (N×K) are needed`);
  const integer = !x.header.dtype.startsWith('f');
  const size = h * w * c;
  const images = new Float32Array(n * size);
  const v = x.values;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new BadInputError(`${where}: x_${which} holds ${v[i]} at sample ${Math.floor(i / size)}; images must be finite`);
  }
  const scale = integer ? 1 / 255 : 1;
  if (layout === 'NHWC') for (let i = 0; i < n * size; i++) images[i] = v[i] * scale;
  else {
    for (let b = 0; b < n; b++)
      for (let ch = 0; ch < c; ch++)
        for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w; xx++) images[((b * h + yy) * w + xx) * c + ch] = v[((b * c + ch) * h + yy) * w + xx] * scale;
  }
  return { split: { images, labels, count: n, height: h, width: w, channels: c }, layout, integer };
}

function assemble(path: string, format: 'npz' | 'npy', a: Record<Key, NpyArray>): Dataset {
  const tr = toSplit(a.x_train, a.y_train, path, 'train');
  const te = toSplit(a.x_test, a.y_test, path, 'test');
  const [train, test] = [tr.split, te.split];
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    throw new BadInputError(
      `${path}: train images are ${train.height}×${train.width}×${train.channels} but test images are ${test.height}×${test.width}×${test.channels}`,
    );
  }
  let maxLabel = 0;
  for (const s of [train, test]) for (const l of s.labels) maxLabel = Math.max(maxLabel, l);
  const notes: string[] = [];
  if (tr.layout === 'NCHW') notes.push('images stored N×C×H×W; transposed to N×H×W×C');
  if (a.x_train.rows < a.x_train.header.shape[0]) notes.push(`x_train capped at its first ${a.x_train.rows} of ${a.x_train.header.shape[0]} samples (memory)`);
  return {
    path,
    format,
    train,
    test,
    numClasses: maxLabel + 1,
    normalization: tr.integer ? `pixel / 255 (integer ${a.x_train.header.dtype} scaled to [0, 1])` : `float ${a.x_train.header.dtype} pixels used as stored`,
    notes,
  };
}
