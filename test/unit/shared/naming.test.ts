import assert from 'node:assert/strict';
import test from 'node:test';
import { calibrationFileName, checkpointName, checkpointStem, resultFileName, timeInFileName } from '../../../src/shared/naming';

test('checkpoint names: a model.json by its folder, other files by their name, on either separator', () => {
  assert.equal(checkpointName('/w/models/cnn/model.json'), 'cnn');
  assert.equal(checkpointName('C:\\w\\models\\cnn\\model.json'), 'cnn');
  assert.equal(checkpointName('/w/small_cnn.onnx'), 'small_cnn.onnx');
  assert.equal(checkpointStem('/w/small_cnn.onnx'), 'small_cnn');
  assert.equal(checkpointStem('/w/my.model/model.json'), 'my.model');
});

test('result and calibration files carry a UTC time that reads back, as do the names the extension wrote before', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  assert.equal(resultFileName('/w/cnn/model.json', now), 'cnn-20260102T030405Z.json');
  assert.equal(calibrationFileName(now), 'task-complexity-20260102T030405Z.json');
  assert.equal(timeInFileName(resultFileName('/w/a.h5', now)), Date.parse('2026-01-02T03:04:05Z'));
  assert.equal(timeInFileName('task-complexity-2026-01-02T03-04-05-678Z.json'), now.getTime());
  assert.equal(timeInFileName('notes.json'), undefined);
});
