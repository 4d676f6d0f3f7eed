/**
 * The engine handlers behind the prediction and calibration views, called directly, and the
 * prediction request once through a forked engine as the extension host sends it.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import { BadInputError, CancelledError } from '../../../src/analysis/util/errors';
import { predictFromResults, readPredictSource } from '../../../src/analysis/experiments/predict';
import { EngineErrorCode, predictRequest, type ProgressParams } from '../../../src/shared/engineProtocol';
import { handlePredict, handleTaskComplexity } from '../../../src/analysis/rpc/viewRequests';
import { calibrationSeries, parseTaskComplexity } from '../../../src/shared/files/calibration';
import { syntheticZoo } from '../../fixtures/views/synthetic';

function writeZoo(m: number, seed: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'fc-zoo-'));
  return syntheticZoo(m, seed).map((z, i) => {
    const file = join(dir, `model-${i}.json`);
    writeFileSync(file, JSON.stringify(z.result));
    return file;
  });
}

test('engine/predict: the report of predict.ts for the files, the chosen one kept out, no NaN on the wire', () => {
  const files = writeZoo(16, 3);
  const report = handlePredict({ results: files, for: files[5], repeats: 50, seed: 2 });
  const inputs = files.map((path) => ({ path, result: readPredictSource(path) }));
  const direct = predictFromResults(inputs, { repeats: 50, seed: 2 }, inputs[5]);
  assert.equal(report.models.length, 15);
  assert.ok(!report.models.some((m) => m.path === files[5]));
  assert.equal(report.prediction?.path, files[5]);
  assert.equal(report.prediction?.predicted, direct.prediction?.predicted);
  assert.equal(report.crossValidation.maeTest, direct.crossValidation.maeTest);
  assert.deepEqual(report.featureOrders, [0, 2, 4, 8]);
  // A model that no split held out has NaN from the engine; JSON carries it as null.
  for (const [i, m] of report.models.entries()) {
    if (Number.isFinite(direct.models[i].heldOut)) assert.equal(m.heldOut, direct.models[i].heldOut);
    else assert.equal(m.heldOut, null);
  }
  assert.doesNotMatch(JSON.stringify(report), /NaN/);
});

test('engine/predict: too few analyses with reliability is a BadInputError with the reason', () => {
  const files = writeZoo(6, 4);
  assert.throws(
    () => handlePredict({ results: files }),
    (e: unknown) => e instanceof BadInputError && /6 models are too few to fit 8 features/.test(e.message),
  );
});

test('engine/taskComplexity: a cancelled calibration is a CancelledError, and its progress carries the request token', async () => {
  const seen: ProgressParams[] = [];
  let polls = 0;
  await assert.rejects(
    handleTaskComplexity(
      {
        tasks: [0],
        orders: [0, 2],
        budget: 'quick',
        backend: 'wasm',
        width: 4,
        out: join(mkdtempSync(join(tmpdir(), 'fc-tc-')), 'tc.json'),
        progressToken: 'tok-1',
      },
      (p) => seen.push(p),
      // Cancelled after the first few checks, i.e. while the first target DNN trains.
      () => ++polls > 3,
    ),
    CancelledError,
  );
  assert.ok(seen.length > 0 && seen.every((p) => p.progressToken === 'tok-1'), JSON.stringify(seen.slice(0, 3)));
});

test('engine/taskComplexity: a small calibration writes the file the view reads, with progress up to done', { timeout: 240_000 }, async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'fc-tc-')), 'task-complexity-test.json');
  const seen: ProgressParams[] = [];
  const res = await handleTaskComplexity(
    { tasks: [0], orders: [0, 2], budget: 'quick', backend: 'wasm', width: 4, seed: 1, out, progressToken: 'tok-2' },
    (p) => seen.push(p),
    () => false,
  );
  const saved = parseTaskComplexity(JSON.parse(readFileSync(out, 'utf8')));
  assert.deepEqual(saved, JSON.parse(JSON.stringify(res)));
  const [s] = calibrationSeries(saved);
  assert.equal(s.k, 0);
  assert.equal(s.rho.length, 3, 'two orders and the residue');
  assert.ok(
    s.rho.every((r) => r !== undefined && r >= 0 && r <= 1.5),
    JSON.stringify(s.rho),
  );
  assert.ok(seen.every((p) => p.progressToken === 'tok-2'));
  assert.equal(seen[seen.length - 1].fraction, 1);
});

test('engine/predict through a forked engine: a report, or the BadInputError code and message', async () => {
  const child = fork(join(__dirname, '..', '../../src/analysis/main.ts'), ['--rpc'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  connection.listen();
  try {
    const files = writeZoo(12, 5);
    const report = await connection.sendRequest(predictRequest, { results: files, repeats: 20 });
    assert.equal(report.models.length, 12);
    assert.equal(report.crossValidation.repeats, 20);
    await assert.rejects(
      connection.sendRequest(predictRequest, { results: files.slice(0, 4) }),
      (e: unknown) => e instanceof ResponseError && e.code === EngineErrorCode.BadInput && /too few/.test(e.message),
    );
  } finally {
    connection.dispose();
    child.kill('SIGKILL');
  }
});
