/** An in-memory dataset of images (NHWC, float32) and integer labels, split into train and test. */

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
  /** 'idx', 'npz', 'npy', 'cifar10', 'images', ... */
  format: string;
  train: Split;
  test: Split;
  numClasses: number;
  /** How raw pixels became the floats in `images`; recorded in the result file. */
  normalization: string;
  /** What the loader changed on the way in (layout, caps), recorded in the result file. */
  notes?: string[];
}
