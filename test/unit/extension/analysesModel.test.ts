import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  analysisDescription,
  type AnalysisHead,
  calibrationDescription,
  type CalibrationHead,
  childNodes,
  classifyStored,
  createdAtOf,
  predictionDescription,
  type PredictionHead,
  rootNodes,
  type StoredFile,
} from '../../../src/extension/analyses/analysesModel';

const fixtures = join(__dirname, '..', '..', 'fixtures');
const json = (...p: string[]) => JSON.parse(readFileSync(join(fixtures, ...p), 'utf8')) as Record<string, unknown>;
const CALIBRATION = 'task-complexity-2026-11-26T04-13-00-000Z.json';

/** A prediction report as `feature-complexity predict --out` writes it (the fields the tree reads, and a few more). */
function report(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    target: 'accuracy',
    featureOrders: [0, 2, 4, 8],
    featureNames: ['reliable(0)', 'unreliable(0)'],
    models: [
      { path: '/r/a.json', label: 'a' },
      { path: '/r/b.json', label: 'b' },
      { path: '/r/c.json', label: 'c' },
    ],
    targetSpread: { min: 0.69, max: 0.86, mean: 0.79, std: 0.05 },
    fit: { intercept: 0.9, coefficients: [0.1, -0.2] },
    r2Fit: 0.52,
    crossValidation: { repeats: 1000, trainSize: 2, testSize: 1, seed: 0, maeTest: 0.0344, maeTestStd: 0.0081, maeTrain: 0.0247, r2Test: 0.16 },
    pca: { mean: [], components: [], explainedVarianceRatio: [], plane: {} },
    ...extra,
  };
}

test('files of the results folder: analyses, calibrations and predictions are told apart, anything else is not listed', () => {
  const analysis = classifyStored('fixture-running-planned.json', json('results', 'fixture-running-planned.json'));
  assert.equal(analysis?.kind, 'analysis');
  const a = analysis!.head as AnalysisHead;
  assert.deepEqual([a.complete, a.finishedOrders, a.plannedOrders, a.budget, a.targetLayer], [false, 3, 8, 'standard', 'conv3']);
  // An older partial file does not say how many orders were planned.
  assert.equal((classifyStored('r.json', json('results', 'fixture-running.json'))!.head as AnalysisHead).plannedOrders, undefined);

  const calibration = classifyStored(CALIBRATION, json('views', 'task-complexity-quick.json'));
  assert.equal(calibration?.kind, 'calibration');
  const saved = json('views', 'task-complexity-quick.json') as { tasks: { k: number; centreOfMass: number }[] };
  assert.deepEqual(
    (calibration!.head as CalibrationHead).centres,
    saved.tasks.map((t) => ({ k: t.k, centre: t.centreOfMass })),
  );

  const prediction = classifyStored('prediction.json', report());
  assert.equal(prediction?.kind, 'prediction');
  assert.deepEqual([(prediction!.head as PredictionHead).models, (prediction!.head as PredictionHead).maeTest], [3, 0.0344]);

  assert.equal(classifyStored('links.json', { links: [] }), undefined);
  assert.equal(classifyStored('task-complexity-x.json', { tasks: [] }), undefined, 'a calibration without tasks');
  assert.equal(classifyStored('p.json', report({ crossValidation: { repeats: 10 } })), undefined, 'a report without its error');
  assert.equal(classifyStored('r.json', { ...json('results', 'fixture-running.json'), components: 'none' }), undefined);
});

test('row lines: incomplete analyses say N of M orders, calibrations their centre of mass per k, predictions their MAE', () => {
  const planned = classifyStored('p.json', json('results', 'fixture-running-planned.json'))!.head as AnalysisHead;
  assert.equal(analysisDescription(planned), 'incomplete: 3 of 8 orders · standard conv3 · low 73% · mid 0% · high 0% · residue 27% · test acc 90.5%');
  const older = classifyStored('r.json', json('results', 'fixture-running.json'))!.head as AnalysisHead;
  assert.match(analysisDescription(older), /^incomplete: 3 orders · standard conv3 · low /);
  const complete = classifyStored('c.json', json('results', 'fixture-complete.json'))!.head as AnalysisHead;
  assert.doesNotMatch(analysisDescription(complete), /incomplete|orders/);

  const calibration = classifyStored(CALIBRATION, json('views', 'task-complexity-quick.json'))!.head as CalibrationHead;
  assert.equal(calibrationDescription(calibration), 'k=0: 1.78 · k=2: 3.04 · k=8: 3.20 · k=26: 3.72 · k=80: 2.41');

  const fitOnly = classifyStored('p.json', report())!.head as PredictionHead;
  assert.equal(predictionDescription(fitOnly), 'MAE 3.44 pts ± 0.81 pts · 3 models');
  const one = classifyStored(
    'p.json',
    report({ target: 'loss', prediction: { path: '/r/d.json', label: 'cnn-d3', features: [], predicted: 0.61234, actual: 0.5, pca: [] } }),
  )!.head as PredictionHead;
  assert.equal(predictionDescription(one), 'MAE 0.0344 ± 0.0081 · 3 models · cnn-d3 predicted 0.6123 (actual 0.5000)');
});

test('the tree: checkpoints with their analyses newest first, then one group of calibrations and one of predictions', () => {
  const head = (name: string) => classifyStored(name, json('results', name))!.head as AnalysisHead;
  const file = <H>(uri: string, createdAt: number, h: H): StoredFile & H => ({ uri, fileName: uri, createdAt, ...h });
  const older = file('a-old.json', 1, head('fixture-complete.json'));
  const newer = file('a-new.json', 5, head('fixture-running-planned.json'));
  const other = file('b.json', 3, { ...head('fixture-complete.json'), checkpoint: '/models/b.onnx' });
  const cal = classifyStored(CALIBRATION, json('views', 'task-complexity-quick.json'))!.head as CalibrationHead;
  const calibrations = [file('cal-1.json', 1, cal), file('cal-2.json', 2, cal)];
  const predictions = [file('prediction.json', 4, classifyStored('prediction.json', report())!.head as PredictionHead)];

  const roots = rootNodes([older, other, newer], calibrations, predictions);
  assert.deepEqual(
    roots.map((n) => (n.kind === 'checkpoint' ? n.checkpoint : n.kind === 'group' ? n.group : n.kind)),
    ['/home/user/models/fashion-cnn/model.json', '/models/b.onnx', 'calibrations', 'predictions'],
  );
  assert.deepEqual(
    childNodes(roots[0]).map((n) => n.kind === 'analysis' && n.analysis.uri),
    ['a-new.json', 'a-old.json'],
  );
  assert.deepEqual(
    childNodes(roots[2]).map((n) => n.kind === 'calibration' && n.calibration.uri),
    ['cal-2.json', 'cal-1.json'],
  );
  assert.deepEqual(
    childNodes(roots[3]).map((n) => n.kind === 'prediction' && n.prediction.uri),
    ['prediction.json'],
  );
  assert.deepEqual(childNodes(childNodes(roots[3])[0]), []);

  // No calibrations or predictions: no empty groups.
  assert.deepEqual(
    rootNodes([older], [], []).map((n) => n.kind),
    ['checkpoint'],
  );
  assert.deepEqual(
    rootNodes([], calibrations, []).map((n) => n.kind),
    ['group'],
  );
});

test("when a stored file was made: its createdAt, else the time in a calibration file's name", () => {
  assert.equal(createdAtOf('r.json', { createdAt: '2026-11-26T02:41:17.512Z' }), Date.parse('2026-11-26T02:41:17.512Z'));
  assert.equal(createdAtOf(CALIBRATION, json('views', 'task-complexity-quick.json')), Date.parse('2026-11-26T04:13:00.000Z'));
  assert.equal(createdAtOf('prediction.json', report()), undefined);
  assert.equal(createdAtOf('r.json', { createdAt: 'yesterday' }), undefined);
});
