/**
 * An image folder: `train/<class>/*.png|jpg|jpeg` and `test/<class>/…`, class = sub-folder
 * name (sorted; the test split's classes must be among the training ones). Decoded with pure-JS
 * decoders (pngjs, jpeg-js). Every image must have the same size. Grayscale when every pixel
 * of every image has R = G = B, RGB otherwise (alpha is dropped).
 * A split with more than `maxPerSplit` files is subsampled (seeded, evenly over classes) before
 * anything is decoded, and the dataset says so in its notes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { BadInputError } from '../util/errors';
import type { Dataset, Split } from './types';
import { Rng } from '../util/random';

const EXTS = new Set(['.png', '.jpg', '.jpeg']);
export const DEFAULT_MAX_PER_SPLIT = 20000;
/** Larger images are refused: the disentangler works at the teacher's input size. */
const MAX_SIDE = 1024;

export function isImageFolder(dir: string): boolean {
  return ['train', 'test'].every((s) => existsSync(join(dir, s)) && statSync(join(dir, s)).isDirectory());
}

function classDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

interface Decoded {
  rgba: Uint8Array;
  width: number;
  height: number;
}

/** An encoded image larger than this is refused before it is read. */
const MAX_FILE_BYTES = 64 * 2 ** 20;

function decode(path: string): Decoded {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES)
    throw new BadInputError(`${path}: ${(size / 2 ** 20).toFixed(0)} MB is larger than the ${MAX_FILE_BYTES / 2 ** 20} MB an image file may have here`);
  const buf = readFileSync(path);
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(buf);
      return { rgba: png.data, width: png.width, height: png.height };
    }
    const img = jpeg.decode(buf, { useTArray: true, maxResolutionInMP: 16, maxMemoryUsageInMB: 256 });
    return { rgba: img.data, width: img.width, height: img.height };
  } catch (e) {
    throw new BadInputError(`${path}: cannot decode the ${ext.slice(1).toUpperCase()} image (${e instanceof Error ? e.message : String(e)})`);
  }
}

interface Listed {
  files: string[];
  labels: number[];
  total: number;
}

function listSplit(root: string, split: string, classes: string[], maxPerSplit: number, seed: number): Listed {
  const dir = join(root, split);
  const perClass = classes.map((c) => {
    const cd = join(dir, c);
    if (!existsSync(cd)) return [];
    return readdirSync(cd)
      .filter((f) => EXTS.has(extname(f).toLowerCase()))
      .sort()
      .map((f) => join(cd, f));
  });
  const total = perClass.reduce((n, f) => n + f.length, 0);
  if (total === 0) throw new BadInputError(`${dir}: no .png or .jpg images in its class folders (${classes.join(', ')})`);
  const rng = new Rng(seed);
  const files: string[] = [];
  const labels: number[] = [];
  perClass.forEach((list, k) => {
    let keep = list;
    if (total > maxPerSplit) {
      const want = Math.max(1, Math.round((list.length / total) * maxPerSplit));
      const idx = list.map((_, i) => i);
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      keep = idx
        .slice(0, want)
        .sort((a, b) => a - b)
        .map((i) => list[i]);
    }
    for (const f of keep) {
      files.push(f);
      labels.push(k);
    }
  });
  return { files, labels, total };
}

export interface ImageFolderOptions {
  maxPerSplit?: number;
  seed?: number;
}

export function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Dataset {
  const maxPerSplit = opts.maxPerSplit ?? DEFAULT_MAX_PER_SPLIT;
  const classes = classDirs(join(root, 'train'));
  if (classes.length < 2)
    throw new BadInputError(`${join(root, 'train')}: ${classes.length} class folder(s); an image folder holds train/<class>/… with at least two classes`);
  const extra = classDirs(join(root, 'test')).filter((c) => !classes.includes(c));
  if (extra.length > 0)
    throw new BadInputError(`${join(root, 'test')}: class folder(s) ${extra.join(', ')} have no training images (train has ${classes.join(', ')})`);
  const lists = {
    train: listSplit(root, 'train', classes, maxPerSplit, opts.seed ?? 0),
    test: listSplit(root, 'test', classes, maxPerSplit, (opts.seed ?? 0) + 1),
  };

  let size: { width: number; height: number; from: string } | undefined;
  let gray = true;
  const decoded: Record<'train' | 'test', Decoded[]> = { train: [], test: [] };
  for (const s of ['train', 'test'] as const) {
    for (const f of lists[s].files) {
      const d = decode(f);
      if (d.width > MAX_SIDE || d.height > MAX_SIDE)
        throw new BadInputError(
          `${f}: ${d.width}×${d.height} pixels; images up to ${MAX_SIDE}×${MAX_SIDE} are read (resize the dataset to the model's input size)`,
        );
      if (!size) size = { width: d.width, height: d.height, from: f };
      else if (d.width !== size.width || d.height !== size.height) {
        throw new BadInputError(
          `${f}: ${d.width}×${d.height} pixels, but ${size.from} is ${size.width}×${size.height}; every image must have the model's input size`,
        );
      }
      if (gray)
        for (let p = 0; p < d.rgba.length; p += 4)
          if (d.rgba[p] !== d.rgba[p + 1] || d.rgba[p] !== d.rgba[p + 2]) {
            gray = false;
            break;
          }
      decoded[s].push(d);
    }
  }
  const { width, height } = size as { width: number; height: number };
  const channels = gray ? 1 : 3;
  const toSplit = (s: 'train' | 'test'): Split => {
    const n = decoded[s].length;
    const images = new Float32Array(n * height * width * channels);
    decoded[s].forEach((d, i) => {
      for (let p = 0; p < width * height; p++) for (let c = 0; c < channels; c++) images[(i * width * height + p) * channels + c] = d.rgba[p * 4 + c] / 255;
    });
    return { images, labels: Int32Array.from(lists[s].labels), count: n, height, width, channels };
  };
  const notes: string[] = [`classes (label order): ${classes.join(', ')}`];
  for (const s of ['train', 'test'] as const) {
    if (lists[s].files.length < lists[s].total)
      notes.push(`${s}: ${lists[s].files.length} of ${lists[s].total} images read (seeded subsample per class; the cap is ${maxPerSplit} per split)`);
  }
  return {
    path: root,
    format: 'images',
    train: toSplit('train'),
    test: toSplit('test'),
    numClasses: classes.length,
    normalization: 'pixel / 255 (8-bit channels scaled to [0, 1])',
    notes,
  };
}
