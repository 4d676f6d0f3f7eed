import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointMatchesDefinition, findModelDefinitions } from '../../../src/extension/analyses/modelDefinitions';
import { formatSummary, summarize } from '../../../src/shared/summary';

test('finds PyTorch and Keras model classes, and ignores other classes', () => {
  const src = [
    'import torch.nn as nn',
    'class Config:',
    '    pass',
    'class SmallCNN(nn.Module):',
    '    def __init__(self):',
    '        self.body = nn.Sequential(nn.Conv2d(1, 8, 3))',
    'class Head(torch.nn.Module):',
    '    pass',
    'class KerasNet(keras.Model):',
    '    pass',
    'model = keras.Sequential([layers.Dense(10)])',
    'torch_seq = nn.Sequential(nn.Linear(3, 4))',
    'functional = tf.keras.Model(inputs=x, outputs=y)',
    'opt = torch.optim.Adam(params)',
  ].join('\n');
  const defs = findModelDefinitions(src, 'python');
  assert.deepEqual(
    defs.map((d) => [d.name, d.line, d.kind]),
    [
      ['SmallCNN', 3, 'torch-module'],
      ['Head', 6, 'torch-module'],
      ['KerasNet', 8, 'keras-model'],
      ['model', 10, 'keras-sequential'],
      ['torch_seq', 11, 'torch-sequential'],
      ['functional', 12, 'keras-functional'],
    ],
  );
});

test('finds tf.sequential and tf.model in TypeScript and JavaScript', () => {
  const src = [
    "import * as tf from '@tensorflow/tfjs';",
    'const teacher = tf.sequential();',
    'export const m2 = tf.model({inputs, outputs});',
    'const t = tf.tensor([1]);',
  ].join('\n');
  assert.deepEqual(
    findModelDefinitions(src, 'typescript').map((d) => [d.name, d.line, d.kind]),
    [
      ['teacher', 1, 'tfjs-sequential'],
      ['m2', 2, 'tfjs-model'],
    ],
  );
  assert.equal(findModelDefinitions(src, 'javascript').length, 2);
  assert.equal(findModelDefinitions(src, 'markdown').length, 0);
});

test('links checkpoints to definitions by name, ignoring case, separators and epoch suffixes', () => {
  assert.ok(checkpointMatchesDefinition('SmallCNN', '/w/checkpoints/small_cnn.pt'));
  assert.ok(checkpointMatchesDefinition('SmallCNN', '/w/small-cnn/model.json'));
  assert.ok(checkpointMatchesDefinition('SmallCNN', '/w/smallcnn_epoch10.h5'));
  assert.ok(checkpointMatchesDefinition('teacher', '/w/teacher/model.json'));
  assert.ok(!checkpointMatchesDefinition('SmallCNN', '/w/big_cnn.pt'));
  assert.ok(!checkpointMatchesDefinition('Net', '/w/resnet.onnx'));
});

test('summary splits ρ into low, mid and high orders and formats one line', () => {
  const s = summarize({
    orders: [0, 2, 4, 8, 14, 20, 26, 32],
    components: [
      { order: 0, rho: 0.4 },
      { order: 2, rho: 0.1 },
      { order: 4, rho: 0.05 },
      { order: 8, rho: 0.1 },
      { order: 14, rho: 0.05 },
      { order: 20, rho: 0.1 },
    ],
    residue: { rho: 0.2 },
    teacher: { testAccuracy: 0.881 },
  });
  assert.ok(Math.abs(s.low - 0.55) < 1e-12 && Math.abs(s.mid - 0.15) < 1e-12 && Math.abs(s.high - 0.1) < 1e-12);
  assert.equal(formatSummary(s), 'low 55% · mid 15% · high 10% · residue 20% · test acc 88.1% · 6/8 orders');
});
