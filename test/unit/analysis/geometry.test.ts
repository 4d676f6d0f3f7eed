/**
 * The trunk's grid, measured by the probe, in each padding convention: TF `same` (pads (0, 1) with
 * stride 2 on an even map), PyTorch `padding=1` (explicit ZeroPadding2D(1) + `valid`), `valid`,
 * and a pooling path.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../../../src/analysis/tf/backend';
import { axisFromWindows, planAxis, planWindow, probeGeometry } from '../../../src/analysis/pipeline/geometry';
import { convTrunk, expected, type Convention } from './geometryCases';
import { join } from 'node:path';
import { loadTeacher } from '../../../src/analysis/teacher/teacher';

before(async () => {
  await useBackend('cpu');
});

for (const convention of Object.keys(expected) as Convention[]) {
  for (const relu of [false, true]) {
    test(`probe: ${convention} trunk${relu ? ' with ReLUs' : ', linear'} reads the grid ${JSON.stringify(expected[convention])}`, async () => {
      const m = convTrunk(convention, relu);
      try {
        const probe = await probeGeometry(async (x) => tf.tidy(() => m.predict(x) as tf.Tensor4D), [28, 28, 1]);
        assert.ok(probe.geometry, 'reason' in probe ? probe.reason : '');
        assert.deepEqual(probe.geometry.height, expected[convention]);
        assert.deepEqual(probe.geometry.width, expected[convention]);
      } finally {
        m.dispose();
      }
    });
  }
}

test('windows that follow no grid are refused with the reason', () => {
  assert.deepEqual(
    axisFromWindows(
      [
        [0, 2],
        [1, 3],
        [2, 4],
        [3, 5],
      ],
      8,
    ),
    { stride: 1, offset: 0, field: 3 },
  );
  assert.match(axisFromWindows([[0, 7]], 8) as string, /single position/);
  assert.match(
    axisFromWindows(
      [
        [0, 2],
        [1, 4],
        [3, 5],
        [5, 7],
      ],
      8,
    ) as string,
    /output/,
  );
  assert.match(
    axisFromWindows(
      [
        [0, 2],
        [-1, -1],
      ],
      8,
    ) as string,
    /do not depend/,
  );
});

test('the plan reproduces the usual conventions layer for layer', () => {
  const tfSame = planAxis(expected['tf-same'], 28, 7);
  assert.deepEqual(tfSame.strides, [1, 2, 2]);
  assert.deepEqual(
    [tfSame.inputPad, tfSame.pads[1], tfSame.pads[2]],
    [
      [1, 1],
      [0, 1],
      [0, 1],
    ],
  );
  assert.deepEqual(tfSame.sizes, [28, 28, 14, 7]);
  const torch = planAxis(expected.torch, 28, 7);
  assert.deepEqual([torch.inputPad[0], torch.pads[1][0], torch.pads[2][0]], [1, 1, 1]);
  const valid = planAxis(expected.valid, 28, 5);
  assert.deepEqual([valid.inputPad[0], valid.pads[1][0], valid.pads[2][0]], [0, 0, 0]);
});

test('every plan centres its window on the grid and covers the field, for strides 1–8 and offsets across the field', () => {
  for (const stride of [1, 2, 3, 4, 8]) {
    for (const field of [1, 2, 3, 5, 9, 12, 18, 31]) {
      for (let offset = -2; offset <= field + 2; offset++) {
        const g = { stride, offset, field };
        const out = 5;
        const inSize = stride * out + 6;
        const plan = planAxis(g, inSize, out);
        assert.equal(
          plan.strides.reduce((a, b) => a * b, 1),
          stride,
        );
        for (let i = 0; i < out; i++) {
          const [a, b] = planWindow(plan, i);
          const [ta, tb] = [stride * i - offset, stride * i - offset + field - 1];
          assert.ok(a <= ta && b >= tb, `${JSON.stringify(g)}: output ${i} reads ${a}–${b}, the teacher ${ta}–${tb}`);
          assert.equal(a + b, ta + tb, `${JSON.stringify(g)}: centres of output ${i}`);
        }
      }
    }
  }
});

test('probe through the loaders: the PyTorch-exported ONNX fixture (padding=1) and the Keras fixture (same) have their own grids', async () => {
  const F = join(__dirname, '..', '..', 'fixtures', 'formats');
  for (const [file, want] of [
    // conv1 3×3 pad 1, conv2 3×3 stride 2 pad (1, 1): output i reads pixels 2i−2 … 2i+2.
    ['cnn.onnx', { stride: 2, offset: 2, field: 5 }],
    // The same convs padded 'same': stride 2 on an even map pads (0, 1), so pixels 2i−1 … 2i+3.
    ['keras_cnn.h5', { stride: 2, offset: 1, field: 5 }],
  ] as const) {
    const t = await loadTeacher(join(F, file), undefined, { inputShape: [8, 8, 3] });
    try {
      const probe = await probeGeometry((x) => t.runTrunk(x), t.inputShape);
      assert.ok(probe.geometry, `${file}: ${'reason' in probe ? probe.reason : ''}`);
      assert.deepEqual(probe.geometry.height, want, file);
      assert.deepEqual(probe.geometry.width, want, file);
    } finally {
      await t.dispose();
    }
  }
});
