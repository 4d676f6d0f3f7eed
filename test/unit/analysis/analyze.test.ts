import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { analyzeRequest, EngineErrorCode, listLayersRequest, progressType, type ProgressParams } from '../../../src/shared/engineProtocol';
import { analyze, defaultResultPath, parseOrders } from '../../../src/analysis/pipeline/analyze';
import { Rng } from '../../../src/analysis/util/random';
import { writeIdx } from '../../../src/analysis/data/idx';
import { BadInputError } from '../../../src/analysis/util/errors';
import { validateResult } from '../../../src/analysis/pipeline/result';
import { saveLayersModel } from '../../../src/analysis/teacher/teacher';
import { H, linearTeacher } from './tinyTeacher';

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
  const m = linearTeacher();
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
    const places = new Set<string>();
    const out = join(root, 'out', 'r.json');
    const before = tf.memory().numTensors;
    const res = await analyze(
      { checkpoint: model, data, orders: [0, 2], width: 8, budget: 'quick', backend: 'wasm', seed: 1, out, progressToken: 't' },
      {
        progress: (p) => {
          progress.push(p.fraction);
          const { orderIndex, orderCount } = p as ProgressParams;
          if (p.order !== undefined) places.add(`${p.order}: ${orderIndex} of ${orderCount}`);
        },
      },
    );
    assert.equal(res.complete, true);
    assert.equal(res.resultFile, out);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(validateResult(file), null);
    assert.equal(file.targetLayer, 'feature');
    assert.deepEqual(file.orders, [0, 2]);
    assert.deepEqual(file.plannedOrders, [0, 2]);
    // Every training event says which of the planned orders it is.
    assert.deepEqual([...places], ['0: 1 of 2', '2: 2 of 2']);
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
    const again = await analyze({
      checkpoint: model,
      data,
      orders: [0, 2],
      width: 8,
      budget: 'quick',
      backend: 'wasm',
      seed: 1,
      out: join(root, 'r2.json'),
      progressToken: 't',
    });
    assert.equal(again.result.components[0].rho, file.components[0].rho);

    // Cancelled after the first order: the file keeps order 0 and says it is incomplete.
    let finished = 0;
    const partial = await analyze(
      { checkpoint: model, data, orders: [0, 2], width: 8, budget: 'quick', backend: 'wasm', seed: 1, out: join(root, 'p.json'), progressToken: 't' },
      {
        progress: (p) => {
          if (p.order === 2) finished++;
        },
        isCancelled: () => finished > 0,
      },
    );
    assert.equal(partial.complete, false);
    const pf = JSON.parse(readFileSync(join(root, 'p.json'), 'utf8'));
    assert.equal(validateResult(pf), null);
    assert.equal(pf.complete, false);
    assert.deepEqual(pf.orders, [0]);
    // The partial file says how many orders were planned: 1 of 2 finished.
    assert.deepEqual(pf.plannedOrders, [0, 2]);
    assert.equal(pf.components.length, 1);

    await assert.rejects(
      analyze({ checkpoint: model, data, layer: 'nope', budget: 'quick', backend: 'wasm', out: join(root, 'x.json'), progressToken: 't' }),
      (e: unknown) => e instanceof BadInputError && /feature, flat, out/.test(e.message),
    );
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

test('CLI: layers prints the table; bad arguments exit 2 with one line', async () => {
  const { spawnSync } = await import('node:child_process');
  const root = mkdtempSync(join(tmpdir(), 'fc-cli-'));
  const main = join(__dirname, '..', '..', '..', 'src', 'analysis', 'main.ts');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', cwd: join(__dirname, '..', '..', '..') });
  try {
    await useBackend('wasm');
    await writeLinearTeacher(join(root, 'model'));
    const layers = run('layers', join(root, 'model'), '--backend', 'cpu');
    assert.equal(layers.status, 0, layers.stderr);
    assert.match(layers.stdout, /feature\s+Conv2D\s+\[N, 8, 8, 3\]\s+<- default target layer/);
    const cases: [string[], RegExp][] = [
      [['analyze', join(root, 'model')], /needs --data/],
      [['analyze', join(root, 'model'), '--data', root, '--budget', 'huge'], /--budget must be one of/],
      [['analyze', join(root, 'model'), '--data', root, '--orders', '2,1'], /orders must increase/],
      [['layers', join(root, 'missing')], /does not exist/],
    ];
    for (const [args, re] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('feature-complexity'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], re);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('engine process: listLayers, analyze with progress, cancel keeps the finished order', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fc-rpc-'));
  const child = fork(join(__dirname, '..', '..', '..', 'src', 'analysis', 'main.ts'), ['--rpc'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: join(__dirname, '..', '..', '..'),
  });
  const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  conn.listen();
  try {
    const data = join(root, 'data');
    mkdirSync(data);
    writeData(data, 240, 60);
    await useBackend('wasm');
    await writeLinearTeacher(join(root, 'model'));
    const listed = await conn.sendRequest(listLayersRequest, { checkpoint: join(root, 'model') });
    assert.equal(listed.defaultLayer, 'feature');
    assert.deepEqual(
      listed.layers.map((l) => l.name),
      ['feature', 'flat', 'out'],
    );
    await assert.rejects(
      conn.sendRequest(listLayersRequest, { checkpoint: join(root, 'nothing') }),
      (e: { code?: number }) => e.code === EngineErrorCode.BadInput,
    );

    const seen: ProgressParams[] = [];
    const cts = new CancellationTokenSource();
    conn.onProgress(progressType, 'tok', (p) => {
      seen.push(p);
      if (p.order === 2) cts.cancel();
    });
    const out = join(root, 'rpc.json');
    const res = await conn.sendRequest(
      analyzeRequest,
      { checkpoint: join(root, 'model'), data, orders: [0, 2], width: 8, budget: 'quick', backend: 'wasm', seed: 2, out, progressToken: 'tok' },
      cts.token,
    );
    assert.equal(res.complete, false);
    assert.equal(res.resultFile, out);
    assert.ok(seen.length > 0 && seen.every((p) => p.progressToken === 'tok'));
    const file = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(file.orders, [0]);
    assert.deepEqual(file.plannedOrders, [0, 2]);
    assert.equal(file.complete, false);
    // The notifications carry the order's place in the run.
    const training = seen.filter((p) => p.order !== undefined);
    assert.ok(training.length > 0);
    for (const p of training) assert.deepEqual([p.orderIndex, p.orderCount], [p.order === 0 ? 1 : 2, 2], `${p.stage} epoch ${p.epoch}`);
  } finally {
    conn.dispose();
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
