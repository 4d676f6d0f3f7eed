import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BadInputError } from '../../../src/analysis/util/errors';
import { encodeIdx, loadIdxFolder, parseIdx, readIdx, writeIdx } from '../../../src/analysis/data/idx';

function writeFolder(dir: string, n: number, nTest: number, gz: boolean): void {
  const img = (k: number) => ({ dims: [k, 3, 2], data: Uint8Array.from({ length: k * 6 }, (_, i) => (i * 37) % 256) });
  const lbl = (k: number) => ({ dims: [k], data: Uint8Array.from({ length: k }, (_, i) => i % 4) });
  const ext = gz ? '.gz' : '';
  writeIdx(join(dir, `train-images-idx3-ubyte${ext}`), img(n));
  writeIdx(join(dir, `train-labels-idx1-ubyte${ext}`), lbl(n));
  writeIdx(join(dir, `t10k-images-idx3-ubyte${ext}`), img(nTest));
  writeIdx(join(dir, `t10k-labels-idx1-ubyte${ext}`), lbl(nTest));
}

test('IDX round trip, raw and gzip', () => {
  const arr = { dims: [2, 2, 3], data: Uint8Array.from([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]) };
  for (const gz of [false, true]) {
    const back = parseIdx(encodeIdx(arr, gz), 'x');
    assert.deepEqual(back.dims, arr.dims);
    assert.deepEqual(Array.from(back.data), Array.from(arr.data));
  }
});

test('IDX folder loads as NHWC floats in [0, 1], raw or gzip', () => {
  for (const gz of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'fc-idx-'));
    try {
      writeFolder(dir, 5, 3, gz);
      const ds = loadIdxFolder(dir);
      assert.equal(ds.train.count, 5);
      assert.equal(ds.test.count, 3);
      assert.deepEqual([ds.train.height, ds.train.width, ds.train.channels], [3, 2, 1]);
      assert.equal(ds.train.images.length, 5 * 6);
      assert.equal(ds.numClasses, 4);
      assert.ok(Math.abs(ds.train.images[1] - 37 / 255) < 1e-7);
      assert.deepEqual(Array.from(ds.test.labels), [0, 1, 2]);
      assert.match(ds.normalization, /255/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('the shipped demo subset loads', () => {
  const ds = loadIdxFolder(join(__dirname, '..', '..', '..', 'media', 'demo', 'fashion-mnist'));
  assert.equal(ds.train.count, 2000);
  assert.equal(ds.test.count, 1000);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.train.height, 28);
});

test('IDX: bad files give BadInputError with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fc-idx-'));
  const bad = (re: RegExp) => (e: unknown) => e instanceof BadInputError && re.test(e.message);
  try {
    assert.throws(() => readIdx(join(dir, 'nothing')), bad(/missing file/));
    assert.throws(() => loadIdxFolder(dir), bad(/missing file .*train-images-idx3-ubyte/));
    writeFileSync(join(dir, 'magic'), Buffer.from([1, 2, 8, 1, 0, 0, 0, 1, 7]));
    assert.throws(() => readIdx(join(dir, 'magic')), bad(/wrong magic/));
    const good = encodeIdx({ dims: [4, 2, 2], data: new Uint8Array(16) });
    writeFileSync(join(dir, 'trunc'), good.subarray(0, good.length - 3));
    assert.throws(() => readIdx(join(dir, 'trunc')), bad(/truncated data/));
    writeFileSync(join(dir, 'trunc.gz'), gzipSync(good).subarray(0, 20));
    assert.throws(() => readIdx(join(dir, 'trunc.gz')), bad(/corrupt gzip|truncated/));
    writeFileSync(join(dir, 'float'), Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
    assert.throws(() => readIdx(join(dir, 'float')), bad(/not supported/));
    writeFolder(dir, 5, 3, false);
    writeIdx(join(dir, 'train-labels-idx1-ubyte'), { dims: [4], data: new Uint8Array(4) });
    assert.throws(() => loadIdxFolder(dir), bad(/5 images but 4 labels/));
    assert.ok(readFileSync(join(dir, 'train-images-idx3-ubyte')).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
