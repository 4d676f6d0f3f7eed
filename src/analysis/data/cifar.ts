/**
 * CIFAR-10 / CIFAR-100 binary version: records of label byte(s) + 3072 pixel bytes (32×32,
 * channel planes R, G, B). CIFAR-10: `data_batch_1.bin` … `data_batch_5.bin` and
 * `test_batch.bin`; CIFAR-100: `train.bin`, `test.bin` with a coarse and a fine label (the
 * fine one is used). The folder may also be the parent of `cifar-10-batches-bin/`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '../util/errors';
import type { Dataset, Split } from './types';

const PIXELS = 32 * 32 * 3;

/** The folder that holds the batch files, or undefined when `dir` is not a CIFAR folder. */
export function cifarFolder(dir: string): { dir: string; variant: 10 | 100 } | undefined {
  for (const d of [dir, join(dir, 'cifar-10-batches-bin'), join(dir, 'cifar-100-binary')]) {
    if (existsSync(join(d, 'test_batch.bin')) || existsSync(join(d, 'data_batch_1.bin'))) return { dir: d, variant: 10 };
    if (existsSync(join(d, 'train.bin')) && existsSync(join(d, 'test.bin'))) return { dir: d, variant: 100 };
  }
  return undefined;
}

function readBatches(paths: string[], variant: 10 | 100): Split {
  const labelBytes = variant === 10 ? 1 : 2;
  const record = labelBytes + PIXELS;
  const bufs = paths.map((p) => {
    const size = statSync(p).size;
    // The real batches are 30 MB each; a much larger file is not one of them.
    if (size > 2 ** 30) throw new BadInputError(`${p}: ${(size / 2 ** 30).toFixed(1)} GiB is not a CIFAR batch (each holds 10000 records, about 30 MB)`);
    if (size === 0 || size % record !== 0) {
      throw new BadInputError(
        `${p}: ${size} bytes is not a whole number of CIFAR-${variant} records (${record} bytes each: ${labelBytes} label byte(s) + 3072 pixels); truncated or not a CIFAR binary batch`,
      );
    }
    return readFileSync(p);
  });
  const count = bufs.reduce((n, b) => n + b.length / record, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  let i = 0;
  bufs.forEach((b, bi) => {
    for (let off = 0; off < b.length; off += record, i++) {
      const label = b[off + labelBytes - 1];
      if (label >= variant)
        throw new BadInputError(
          `${paths[bi]}: record ${off / record} has label ${label}; CIFAR-${variant} labels are 0–${variant - 1} (not a CIFAR-${variant} batch)`,
        );
      labels[i] = label;
      const px = off + labelBytes;
      // Planes R, G, B of 1024 bytes each → interleaved NHWC.
      for (let p = 0; p < 1024; p++) {
        for (let c = 0; c < 3; c++) images[i * PIXELS + p * 3 + c] = b[px + c * 1024 + p] / 255;
      }
    }
  });
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}

export function loadCifar(path: string): Dataset {
  const found = cifarFolder(path);
  if (!found) throw new BadInputError(`${path}: no CIFAR binary batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin)`);
  const { dir, variant } = found;
  let trainFiles: string[];
  let testFiles: string[];
  if (variant === 10) {
    trainFiles = [1, 2, 3, 4, 5].map((k) => join(dir, `data_batch_${k}.bin`)).filter((p) => existsSync(p));
    testFiles = [join(dir, 'test_batch.bin')].filter((p) => existsSync(p));
    if (trainFiles.length === 0) throw new BadInputError(`${dir}: no training batch (data_batch_1.bin … data_batch_5.bin)`);
    if (testFiles.length === 0) throw new BadInputError(`${dir}: no test batch (test_batch.bin)`);
  } else {
    trainFiles = [join(dir, 'train.bin')];
    testFiles = [join(dir, 'test.bin')];
  }
  const train = readBatches(trainFiles, variant);
  const test = readBatches(testFiles, variant);
  const notes: string[] = [];
  const missing = variant === 10 ? [1, 2, 3, 4, 5].filter((k) => !existsSync(join(dir, `data_batch_${k}.bin`))) : [];
  if (missing.length > 0) notes.push(`training batches ${missing.join(', ')} absent; ${train.count} training images from the others`);
  return {
    path,
    format: variant === 10 ? 'cifar10' : 'cifar100',
    train,
    test,
    numClasses: variant,
    normalization: 'pixel / 255 (bytes scaled to [0, 1])',
    notes,
  };
}
