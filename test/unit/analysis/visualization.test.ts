import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelMap, mostActivatedChannel, round, visualization } from '../../../src/analysis/metrics/visualization';

test('most activated channel: largest mean over samples and positions', () => {
  // 2 samples × 2 positions × 3 channels; channel 2 wins on the mean, not on the single largest value.
  const f = Float32Array.from([0, 9, 1, 0, -9, 1, 0, 0, 1, 0, 0, 1]);
  assert.equal(mostActivatedChannel(f, 2, 3), 2);
  assert.throws(() => mostActivatedChannel(Float32Array.from([1, 2]), 1, 3), RangeError);
});

test('channel maps are H×W rows of the chosen channel, rounded to 4 decimals', () => {
  // One sample, 2×3 positions, 2 channels: value = 10·y + x + channel / 3.
  const shape: [number, number, number] = [2, 3, 2];
  const data = new Float32Array(12);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) for (let c = 0; c < 2; c++) data[(y * 3 + x) * 2 + c] = 10 * y + x + c / 3;
  assert.deepEqual(channelMap(data, 0, shape, 1), [
    [0.3333, 1.3333, 2.3333],
    [10.3333, 11.3333, 12.3333],
  ]);
  assert.equal(round(-0.00001), 0);
  assert.ok(Object.is(round(-0.00001), 0), 'no negative zero in the file');
});

test('visualisation: components are differences of consecutive Φ, summing to the last Φ', () => {
  const shape: [number, number, number] = [2, 2, 1];
  const n = 5;
  const f = Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i) + 2);
  const phi0 = Float32Array.from(f, (v) => 0.5 * v);
  const phi2 = Float32Array.from(f, (v, i) => 0.9 * v + 0.01 * i);
  const v = visualization({
    orders: [0, 2],
    features: f,
    phis: [phi0, phi2],
    featureShape: shape,
    indices: [7, 8, 9, 10, 11],
    labels: [1, 2, 3, 4, 5],
    samples: 3,
  });
  assert.equal(v.channel, 0);
  assert.equal(v.samples.length, 3);
  assert.deepEqual(
    v.samples.map((s) => [s.index, s.label]),
    [
      [7, 1],
      [8, 2],
      [9, 3],
    ],
  );
  const s = v.samples[1];
  assert.deepEqual(s.f, channelMap(f, 1, shape, 0));
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 2; x++) {
      assert.equal(s.components['0'][y][x], s.phi['0'][y][x]);
      assert.ok(Math.abs(s.components['0'][y][x] + s.components['2'][y][x] - s.phi['2'][y][x]) <= 1e-4 + 1e-12);
      assert.ok(Math.abs(s.components['2'][y][x] - (phi2[4 + y * 2 + x] - phi0[4 + y * 2 + x])) < 1e-4);
    }
  }
});
