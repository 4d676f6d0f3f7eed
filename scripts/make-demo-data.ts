// Makes the demo's Fashion-MNIST subset in media/demo/fashion-mnist/ from the full dataset
// (Debian's dataset-fashion-mnist): the first N/10 samples of each class, in the original order.
// Usage: node --import tsx scripts/make-demo-data.ts [SOURCE_DIR] [TRAIN_N] [TEST_N]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readIdx, writeIdx } from '../src/analysis/data/idx';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const trainN = Number(process.argv[3] ?? 2000);
const testN = Number(process.argv[4] ?? 1000);
const outDir = join(__dirname, '..', 'media', 'demo', 'fashion-mnist');
mkdirSync(outDir, { recursive: true });

function subset(prefix: string, n: number): void {
  const images = readIdx(join(source, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(source, `${prefix}-labels-idx1-ubyte.gz`));
  const classes = 10;
  const perClass = n / classes;
  const taken = new Array<number>(classes).fill(0);
  const picked: number[] = [];
  for (let i = 0; i < labels.dims[0] && picked.length < n; i++) {
    const c = labels.data[i];
    if (taken[c] < perClass) {
      taken[c]++;
      picked.push(i);
    }
  }
  const size = images.dims[1] * images.dims[2];
  const img = new Uint8Array(picked.length * size);
  const lbl = new Uint8Array(picked.length);
  picked.forEach((src, k) => {
    img.set(images.data.subarray(src * size, (src + 1) * size), k * size);
    lbl[k] = labels.data[src];
  });
  writeIdx(join(outDir, `${prefix}-images-idx3-ubyte.gz`), { dims: [picked.length, images.dims[1], images.dims[2]], data: img });
  writeIdx(join(outDir, `${prefix}-labels-idx1-ubyte.gz`), { dims: [picked.length], data: lbl });
  process.stdout.write(`${prefix}: ${picked.length} samples\n`);
}

subset('train', trainN);
subset('t10k', testN);
