/** Opens a dataset from a path, in whichever format it holds (the loaders are beside this file; the types in types.ts). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { BadInputError } from '../util/errors';
import { tf } from '../tf/backend';
import { cifarFolder, loadCifar } from './cifar';
import { loadIdxFolder } from './idx';
import { isImageFolder, loadImageFolder, type ImageFolderOptions } from './imageFolder';
import { loadNpyFolder, loadNpz } from './npy';
import type { Dataset, Split } from './types';

export type { Dataset, Split };

const IDX_FILE = /^(train|t10k)-(images|labels)-idx[13]-ubyte(\.gz)?$/;

/**
 * Opens `--data PATH`; the format is told from what the path holds: an `.npz`, or a folder of
 * IDX files, CIFAR binary batches, `x_train.npy`…, or `train/<class>/` + `test/<class>/` images.
 */
export function loadDataset(path: string, opts: ImageFolderOptions = {}): Dataset {
  if (!existsSync(path)) throw new BadInputError(`dataset ${path} does not exist`);
  if (!statSync(path).isDirectory()) {
    const ext = extname(path).toLowerCase();
    if (ext === '.npz') return loadNpz(path);
    if (ext === '.npy')
      throw new BadInputError(`dataset ${path}: give the folder that holds x_train.npy, y_train.npy, x_test.npy, y_test.npy (or one .npz with those arrays)`);
    throw new BadInputError(`dataset ${path}: expected a folder (IDX, CIFAR binary, image folder, .npy arrays) or an .npz`);
  }
  const names = readdirSync(path);
  if (names.some((n) => IDX_FILE.test(n))) return loadIdxFolder(path);
  if (cifarFolder(path)) return loadCifar(path);
  if (names.includes('x_train.npy')) return loadNpyFolder(path);
  if (isImageFolder(path)) return loadImageFolder(path, opts);
  const npz = names.filter((n) => n.endsWith('.npz'));
  if (npz.length === 1) return loadNpz(join(path, npz[0]));
  throw new BadInputError(
    `dataset ${path}: not a dataset folder this engine reads: expected MNIST-style IDX files (train-images-idx3-ubyte…), ` +
      `CIFAR-10 binary batches (data_batch_1.bin…, test_batch.bin), x_train.npy/y_train.npy/x_test.npy/y_test.npy, ` +
      `or an image folder (train/<class>/*.png|jpg, test/<class>/…)`,
  );
}

/** The samples at `indices` as an NHWC tensor (caller disposes). */
export function gatherImages(split: Split, indices: ArrayLike<number>): tf.Tensor4D {
  const size = split.height * split.width * split.channels;
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) out.set(split.images.subarray(indices[i] * size, (indices[i] + 1) * size), i * size);
  return tf.tensor4d(out, [indices.length, split.height, split.width, split.channels]);
}

/** A subset of `split` (copies). */
export function subsetSplit(split: Split, indices: ArrayLike<number>): Split {
  const size = split.height * split.width * split.channels;
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    images.set(split.images.subarray(indices[i] * size, (indices[i] + 1) * size), i * size);
    labels[i] = split.labels[indices[i]];
  }
  return { ...split, images, labels, count: indices.length };
}
