/**
 * What every checkpoint format gives the engine: a teacher that runs as functions on NHWC
 * tfjs tensors, whatever runs it underneath (tfjs layers, the tfjs graph executor,
 * onnxruntime). The disentangler works in NHWC; loaders of NCHW checkpoints transpose at
 * this boundary, so no code past it needs to know the checkpoint's layout.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import type { LayerInfo } from '../../shared/engineProtocol';

export type CheckpointFormat = 'tfjs-layers' | 'tfjs-graph' | 'keras-h5' | 'keras' | 'onnx' | 'pytorch';
export type Layout = 'NHWC' | 'NCHW';

export interface TeacherRuntime {
  format: CheckpointFormat;
  /** The layout the checkpoint's own input takes (the engine always hands it NHWC). */
  layout: Layout;
  /** Input shape without the batch, NHWC: [H, W, C]. */
  inputShape: number[];
  /** Target feature shape without the batch, NHWC: [H, W, C]. */
  featureShape: number[];
  targetLayer: string;
  layers: LayerInfo[];
  /** True when the outputs are probabilities (a final softmax), false for logits. */
  probabilities: boolean;
  /** Images [N, H, W, C] → target feature [N, H', W', C'] (caller disposes). */
  runTrunk(x: tf.Tensor4D): Promise<tf.Tensor4D>;
  /** A (possibly modified) target feature [N, H', W', C'] → outputs [N, classes]. */
  runHead(feature: tf.Tensor4D): Promise<tf.Tensor2D>;
  /** Images → outputs, through the whole network. */
  runModel(x: tf.Tensor4D): Promise<tf.Tensor2D>;
  /** Frees sessions and weights. */
  dispose(): Promise<void>;
}

/** Checkpoints larger than this are refused before anything reads them. */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

/** Reads the first `n` bytes of a file (fewer when it is shorter). */
export function headBytes(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function checkSize(path: string, what: string, max = MAX_CHECKPOINT_BYTES): number {
  const size = statSync(path).size;
  if (size === 0) throw new BadInputError(`${path}: empty file (not ${what})`);
  if (size > max)
    throw new BadInputError(`${path}: ${(size / 2 ** 30).toFixed(1)} GiB is larger than the ${(max / 2 ** 30).toFixed(1)} GiB this engine reads as ${what}`);
  return size;
}

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/**
 * The format of a checkpoint, told from its name and first bytes: a folder or `.json` is
 * TF.js (layers or graph model, by its `format` field), `.h5`/`.hdf5` Keras 2, `.keras` Keras 3,
 * `.onnx` ONNX, `.pt`/`.pth`/`.pts` PyTorch (needs Python to export).
 */
export function detectCheckpointFormat(checkpoint: string): CheckpointFormat {
  if (!existsSync(checkpoint)) throw new BadInputError(`checkpoint ${checkpoint} does not exist`);
  let path = checkpoint;
  if (statSync(path).isDirectory()) {
    path = join(checkpoint, 'model.json');
    if (!existsSync(path)) throw new BadInputError(`checkpoint folder ${checkpoint} has no model.json`);
  }
  const ext = extname(path).toLowerCase();
  const head = headBytes(path, 512);
  if (ext === '.json') {
    const text = head.toString('utf8');
    const m = /"format"\s*:\s*"([^"]+)"/.exec(text);
    if (m && m[1] === 'graph-model') return 'tfjs-graph';
    // The field may come after a large topology: look at the whole file only when needed.
    if (!m && statSync(path).size > head.length) return /"format"\s*:\s*"graph-model"/.test(readText(path)) ? 'tfjs-graph' : 'tfjs-layers';
    return 'tfjs-layers';
  }
  if (ext === '.h5' || ext === '.hdf5') {
    if (!head.subarray(0, 8).equals(HDF5_MAGIC))
      throw new BadInputError(`${path}: not an HDF5 file (wrong magic bytes ${hex(head.subarray(0, 8))}); a Keras .h5 checkpoint starts with \\x89HDF`);
    return 'keras-h5';
  }
  if (ext === '.keras') {
    if (!head.subarray(0, 4).equals(ZIP_MAGIC))
      throw new BadInputError(
        `${path}: not a zip archive (wrong magic bytes ${hex(head.subarray(0, 4))}); a .keras checkpoint is a zip of config.json and model.weights.h5`,
      );
    return 'keras';
  }
  if (ext === '.onnx') return 'onnx';
  if (ext === '.pt' || ext === '.pth' || ext === '.pts' || (ext === '.bin' && basename(path).startsWith('pytorch_model'))) return 'pytorch';
  throw new BadInputError(`${path}: unknown checkpoint type '${ext || basename(path)}' (expected a TF.js model.json, .h5, .keras, .onnx, .pt or .pth)`);
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function hex(b: Buffer): string {
  return b.length === 0 ? '(none)' : [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** NCHW float data → NHWC, on plain arrays (used where no tensor is at hand). */
export function nchwToNhwc(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x];
      }
    }
  }
  return out;
}

/** First non-finite value in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
