import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressMessage, stageText } from '../../../src/extension/engine/progressText';

test('the progress notification names the order, its place among the planned ones, the epoch and the loss', () => {
  const p = { stage: 'order 8', fraction: 0.4512, order: 8, orderIndex: 4, orderCount: 8, epoch: 12, loss: 0.031 };
  assert.equal(progressMessage(p), 'order 8 (4 of 8) · epoch 12 · loss 3.10e-2 (45%)');
  assert.equal(stageText(p), 'order 8 (4 of 8)');
  // Stages without an order (and engines that do not say the place) read as before.
  assert.equal(progressMessage({ stage: 'teacher features', fraction: 0.01 }), 'teacher features (1%)');
  assert.equal(progressMessage({ stage: 'order 2', fraction: 0.5, order: 2, epoch: 3 }), 'order 2 · epoch 3 (50%)');
});
