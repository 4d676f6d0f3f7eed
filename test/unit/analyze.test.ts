import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../src/analysis/backend';
import { analyze, defaultResultPath, parseOrders } from '../../src/analysis/analyze';
import { Rng } from '../../src/analysis/data/rng';
import { writeIdx } from '../../src/analysis/data/idx';
import { BadInputError } from '../../src/analysis/errors';
import { validateResult } from '../../src/analysis/result';
import { saveLayersModel } from '../../src/analysis/teacher';

const H = 8;

/** An IDX folder of random 8×8 images with 3 classes. */
function writeData(dir: string, nTrain: number, nTest: number): void {
  const rng = new Rng(11);
  const img = (n: number) => ({ dims: [n, H, H], data: Uint8Array.from({ length: n * H * H }, () => rng.int(256)) });
  const lbl = (n: number) => ({ dims: [n], data: Uint8Array.from({ length: n }, () => rng.int(3)) });
  writeIdx(join(dir, 'train-images-idx3-ubyte.gz'), img(nTrain));
  writeIdx(join(dir, 'train-labels-idx1-ubyte.gz'), lbl(nTrain));
  writeIdx(join(dir, 't10k-images-idx3-ubyte'), img(nTest));
  writeIdx(join(dir, 't10k-labels-idx1-ubyte'), lbl(nTest));
}

/** A teacher whose target feature is a linear function of the input (one conv, no activation). */
async function writeLinearTeacher(dir: string): Promise<void> {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [H, H, 1], filters: 3, kernelSize: 3, padding: 'same', name: 'feature', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }) }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }));
  await saveLayersModel(m, dir);
  m.dispose();
}

test('analyze: l = 0 recovers a linear teacher; result file validates; partial results; determinism', async () => {
  await useBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'fc-analyze-'));
  try {
    const data = join(root, 'data');
    const model = join(root, 'model');
    mkdirSync(data);
    writeData(data, 240, 60);
    await writeLinearTeacher(model);
    const progress: number[] = [];
    const out = join(root, 'out', 'r.json');
    const before = tf.memory().numTensors;
    const res = await analyze(
      { checkpoint: model, data, orders: [0, 2], width: 4, budget: 'quick', backend: 'wasm', seed: 1, out, progressToken: 't' },
      { progress: (p) => progress.push(p.fraction) },
    );
    assert.equal(res.complete, true);
    assert.equal(res.resultFile, out);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(validateResult(file), null);
    assert.equal(file.targetLayer, 'feature');
    assert.deepEqual(file.orders, [0, 2]);
    const [c0, c2] = file.components;
    assert.ok(c0.rho > 0.95, `ρ⁽⁰⁾ = ${c0.rho} for a linear teacher`);
    assert.ok(c0.rhoTest > 0.95, `test ρ⁽⁰⁾ = ${c0.rhoTest}`);
    assert.ok(c2.rho < 0.05 && file.residue.rho < 0.05, `ρ⁽²⁾ ${c2.rho}, residue ${file.residue.rho}`);
    assert.ok(c0.lossCurve.length >= 1 && c0.lossCurve.every((l: number) => l >= 0));
    assert.ok(file.teacher.testAccuracy >= 0 && file.teacher.testAccuracy <= 1);
    assert.ok(progress.length > 2 && progress[progress.length - 1] === 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1] - 1e-9, 'progress goes forward');
    // Nothing leaks across the run (nets, optimizers, teacher disposed).
    assert.ok(tf.memory().numTensors - before < 5, `${tf.memory().numTensors - before} tensors leaked`);

    // Same seed, same backend: same numbers.
    const again = await analyze({ checkpoint: model, data, orders: [0, 2], width: 4, budget: 'quick', backend: 'wasm', seed: 1, out: join(root, 'r2.json'), progressToken: 't' });
    assert.equal(again.result.components[0].rho, file.components[0].rho);

    // Cancelled after the first order: the file keeps order 0 and says it is incomplete.
    let finished = 0;
    const partial = await analyze(
      { checkpoint: model, data, orders: [0, 2], width: 4, budget: 'quick', backend: 'wasm', seed: 1, out: join(root, 'p.json'), progressToken: 't' },
      { progress: (p) => { if (p.order === 2) finished++; }, isCancelled: () => finished > 0 },
    );
    assert.equal(partial.complete, false);
    const pf = JSON.parse(readFileSync(join(root, 'p.json'), 'utf8'));
    assert.equal(validateResult(pf), null);
    assert.equal(pf.complete, false);
    assert.deepEqual(pf.orders, [0]);

    await assert.rejects(analyze({ checkpoint: model, data, layer: 'nope', budget: 'quick', backend: 'wasm', out: join(root, 'x.json'), progressToken: 't' }), (e: unknown) => e instanceof BadInputError && /feature, flat, out/.test(e.message));
    assert.equal(existsSync(join(root, 'x.json')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('analyze: orders and default result path', () => {
  assert.deepEqual(parseOrders(undefined), [0, 2, 4, 8, 14, 20, 26, 32]);
  assert.deepEqual(parseOrders('0, 3,9'), [0, 3, 9]);
  assert.throws(() => parseOrders('0,x'), BadInputError);
  assert.throws(() => parseOrders('4,2'), BadInputError);
  const p = defaultResultPath('/nowhere/models/cnn/model.json', new Date('2026-01-02T03:04:05.678Z'));
  assert.equal(p, '/nowhere/models/cnn/.feature-complexity/cnn-20260102T030405Z.json');
});
