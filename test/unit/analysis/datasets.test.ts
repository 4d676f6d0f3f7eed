/**
 * Dataset loaders: NumPy (.npz, .npy folder, NCHW, one-hot, floats), CIFAR binary batches and
 * image folders, each against the values it was written from, and their errors.
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { loadDataset } from '../../../src/analysis/data/dataset';
import { loadImageFolder } from '../../../src/analysis/data/imageFolder';
import { parseNpy } from '../../../src/analysis/data/npy';
import { BadInputError } from '../../../src/analysis/util/errors';

const F = join(__dirname, '..', '..', 'fixtures', 'formats');
const isBad = (re: RegExp) => (e: unknown) => e instanceof BadInputError && re.test(e.message);

/** An .npy (format 1.0) of `values` with NumPy's header layout. */
function npy(descr: string, shape: number[], bytes: Buffer): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]);
}
const f32 = (a: number[]) => Buffer.from(new Float32Array(a).buffer);
const u8 = (a: number[]) => Buffer.from(Uint8Array.from(a));

test('npz and npy folder: the same arrays, bytes scaled to [0, 1]', () => {
  const z = loadDataset(join(F, 'data.npz'));
  const d = loadDataset(join(F, 'data-npy'));
  assert.equal(z.format, 'npz');
  assert.equal(d.format, 'npy');
  for (const ds of [z, d]) {
    assert.equal(ds.train.count, 96);
    assert.equal(ds.test.count, 48);
    assert.deepEqual([ds.train.height, ds.train.width, ds.train.channels], [8, 8, 3]);
    assert.equal(ds.numClasses, 4);
    assert.match(ds.normalization, /\/ 255/);
  }
  assert.deepEqual(Array.from(z.train.images.subarray(0, 50)), Array.from(d.train.images.subarray(0, 50)));
  assert.deepEqual(Array.from(z.test.labels), Array.from(d.test.labels));
  // x_train.npy is uint8: the loader's floats are bytes / 255.
  const raw = parseNpy(readFileSync(join(F, 'data-npy', 'x_train.npy')), 'x');
  assert.equal(raw.header.dtype, 'u1');
  assert.ok(Math.abs(d.train.images[7] - raw.values[7] / 255) < 1e-7);
});

test('npz: NCHW floats are transposed, one-hot labels decoded; bad arrays named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-npz-'));
  try {
    // 2 images, 3 channels, 2×2: value = 100·c + 10·y + x.
    const nchw: number[] = [];
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) nchw.push(n * 1000 + 100 * c + 10 * y + x);
    const files = {
      'x_train.npy': npy('<f4', [2, 3, 2, 2], f32(nchw)),
      'y_train.npy': npy('<f4', [2, 3], f32([0, 0, 1, 0, 1, 0])),
      'x_test.npy': npy('<f4', [2, 3, 2, 2], f32(nchw)),
      'y_test.npy': npy('|u1', [2], u8([2, 1])),
    };
    const write = (name: string, f: Record<string, Buffer>) => {
      writeFileSync(join(dir, name), zipSync(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new Uint8Array(v)]))));
      return join(dir, name);
    };
    const ds = loadDataset(write('ok.npz', files));
    assert.deepEqual([ds.train.height, ds.train.width, ds.train.channels], [2, 2, 3]);
    // NHWC: pixel (y=1, x=0) of image 1 holds channels 1010, 1110, 1210.
    assert.deepEqual(Array.from(ds.train.images.subarray((4 + 2) * 3, (4 + 2) * 3 + 3)), [1010, 1110, 1210]);
    assert.deepEqual(Array.from(ds.train.labels), [2, 1]);
    assert.match(ds.normalization, /as stored/);
    assert.ok(ds.notes?.some((n) => /N×C×H×W/.test(n)));

    const withNaN = [...nchw];
    withNaN[5] = NaN;
    assert.throws(() => loadDataset(write('nan.npz', { ...files, 'x_train.npy': npy('<f4', [2, 3, 2, 2], f32(withNaN)) })), isBad(/x_train holds NaN/));
    assert.throws(() => loadDataset(write('count.npz', { ...files, 'y_test.npy': npy('|u1', [3], u8([0, 1, 2])) })), isBad(/2 images in x_test but 3 labels/));
    assert.throws(() => loadDataset(write('neg.npz', { ...files, 'y_test.npy': npy('<f4', [2], f32([0.5, 1])) })), isBad(/not a class index/));
    const missing: Record<string, Buffer> = { ...files };
    delete missing['y_test.npy'];
    assert.throws(() => loadDataset(write('missing.npz', missing)), isBad(/no array 'y_test'/));
    const trunc = npy('<f4', [2, 3, 2, 2], f32(nchw)).subarray(0, 140);
    assert.throws(() => loadDataset(write('trunc.npz', { ...files, 'x_train.npy': trunc })), isBad(/truncated data/));
    assert.throws(() => loadDataset(write('magic.npz', { ...files, 'x_train.npy': Buffer.from('PK not numpy at all') })), isBad(/not an \.npy file/));
    writeFileSync(join(dir, 'bad.npz'), strToU8('not a zip'));
    assert.throws(() => loadDataset(join(dir, 'bad.npz')), isBad(/bad\.npz: not a readable \.npz/));
    assert.throws(() => loadDataset(join(F, 'data-npy', 'x_train.npy')), isBad(/give the folder/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cifar: binary batches decode to NHWC with their labels', () => {
  const ref = JSON.parse(readFileSync(join(F, 'keras_ref.json'), 'utf8')).cifar as { labels: number[]; firstPixels: number[] };
  const ds = loadDataset(join(F, 'cifar'));
  assert.equal(ds.format, 'cifar10');
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.train.count, 10);
  assert.equal(ds.test.count, 4);
  assert.deepEqual(Array.from(ds.train.labels), ref.labels.slice(0, 10));
  assert.deepEqual(Array.from(ds.test.labels), ref.labels.slice(10));
  const [r, g, b, r1] = ref.firstPixels;
  assert.deepEqual(
    Array.from(ds.train.images.subarray(0, 4)).map((v) => Math.round(v * 255)),
    [r, g, b, r1],
  );
  assert.ok(ds.notes?.some((n) => /batches 3, 4, 5 absent/.test(n)));

  const dir = mkdtempSync(join(tmpdir(), 'fc-cifar-'));
  try {
    cpSync(join(F, 'cifar'), join(dir, 'cifar-10-batches-bin'), { recursive: true });
    assert.equal(loadDataset(dir).train.count, 10);
    const bin = readFileSync(join(F, 'cifar', 'data_batch_1.bin'));
    writeFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin'), bin.subarray(0, 5000));
    assert.throws(() => loadDataset(dir), isBad(/data_batch_1\.bin: 5000 bytes is not a whole number of CIFAR-10 records/));
    const bad = Buffer.from(bin);
    bad[0] = 200;
    writeFileSync(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin'), bad);
    assert.throws(() => loadDataset(dir), isBad(/label 200/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image folder: PNG exact, JPEG close, classes from folder names; size mismatches and caps', () => {
  const npz = loadDataset(join(F, 'data.npz'));
  const ds = loadDataset(join(F, 'images'));
  assert.equal(ds.format, 'images');
  assert.equal(ds.numClasses, 4);
  assert.equal(ds.train.count, 12);
  assert.equal(ds.test.count, 8);
  assert.equal(ds.train.channels, 3);
  // The files are named by their index in data.npz: PNGs must match exactly, JPEGs closely.
  for (const split of ['train', 'test'] as const) {
    let row = 0;
    for (let k = 0; k < 4; k++) {
      const dir = join(F, 'images', split, `class_${k}`);
      for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
        const src = Number(f.split('.')[0]);
        assert.equal(ds[split].labels[row], k);
        assert.equal(npz[split].labels[src], k);
        let err = 0;
        for (let i = 0; i < 192; i++) err = Math.max(err, Math.abs(ds[split].images[row * 192 + i] - npz[split].images[src * 192 + i]));
        if (f.endsWith('.png')) assert.ok(err < 1e-6, `${f}: PNG pixels differ by ${err}`);
        else assert.ok(err < 0.2, `${f}: JPEG pixels differ by ${err}`);
        row++;
      }
    }
    assert.equal(row, ds[split].count);
  }

  const dir = mkdtempSync(join(tmpdir(), 'fc-images-'));
  try {
    cpSync(join(F, 'images'), dir, { recursive: true });
    const capped = loadImageFolder(dir, { maxPerSplit: 6 });
    assert.ok(capped.train.count <= 8 && capped.train.count >= 4, `capped train has ${capped.train.count}`);
    assert.ok(capped.notes?.some((n) => /of 12 images read/.test(n)));
    const png = new PNG({ width: 9, height: 8 });
    writeFileSync(join(dir, 'train', 'class_0', 'odd.png'), PNG.sync.write(png));
    assert.throws(() => loadDataset(dir), isBad(/odd\.png: 9×8 pixels, but .* is 8×8/));
    writeFileSync(join(dir, 'train', 'class_0', 'odd.png'), 'not a png');
    assert.throws(() => loadDataset(dir), isBad(/odd\.png: cannot decode the PNG image/));
    rmSync(join(dir, 'train', 'class_0', 'odd.png'));
    mkdirSync(join(dir, 'test', 'class_9'));
    assert.throws(() => loadDataset(dir), isBad(/class_9 have no training images/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dataset dispatch: an unknown folder lists what is expected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-data-'));
  try {
    writeFileSync(join(dir, 'readme.txt'), 'hello');
    assert.throws(() => loadDataset(dir), isBad(/IDX files.*CIFAR-10.*x_train\.npy.*image folder/));
    assert.throws(() => loadDataset(join(dir, 'readme.txt')), isBad(/expected a folder/));
    assert.throws(() => loadDataset(join(dir, 'nothing')), isBad(/does not exist/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
