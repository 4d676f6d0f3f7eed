/** An in-memory dataset of images (NHWC, float32) and integer labels, split into train and test. */
import { existsSync, statSync } from 'node:fs';
import { BadInputError } from '../errors';
import { tf } from '../backend';
import { loadIdxFolder } from './idx';

export interface Split {
  /** count × height × width × channels, row-major (NHWC). */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface Dataset {
  path: string;
  format: 'idx';
  train: Split;
  test: Split;
  numClasses: number;
  /** How raw pixels became the floats in `images`; recorded in the result file. */
  normalization: string;
}

/** Opens `--data PATH`; the format is told from what the path holds. */
export function loadDataset(path: string): Dataset {
  if (!existsSync(path)) throw new BadInputError(`dataset ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new BadInputError(`dataset ${path}: expected a folder of MNIST-style IDX files`);
  return loadIdxFolder(path);
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
