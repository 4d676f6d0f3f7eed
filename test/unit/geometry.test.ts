/**
 * The trunk's grid, measured by the probe, in each padding convention: TF `same` (pads (0, 1) with
 * stride 2 on an even map), PyTorch `padding=1` (explicit ZeroPadding2D(1) + `valid`), `valid`,
 * and a pooling path.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../src/analysis/backend';
import { axisFromWindows, planAxis, planWindow, probeGeometry, type Geometry } from '../../src/analysis/geometry';

before(async () => {
  await useBackend('cpu');
});

export type Convention = 'tf-same' | 'torch' | 'valid' | 'pool';

/** A 3-conv trunk on 28×28×1 (3×3 convs, the second and third with stride 2 except for 'pool'), with or without ReLUs. */
export function convTrunk(convention: Convention, relu: boolean, seed = 1): tfl.LayersModel {
  const m = tfl.sequential();
  const act = relu ? 'relu' : 'linear';
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const biasInit = (k: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: seed * 10 + 5 + k });
  const conv = (k: number, strides: number, padding: 'same' | 'valid', first = false) =>
    tfl.layers.conv2d({ ...(first ? { inputShape: [28, 28, 1] } : {}), filters: 8, kernelSize: 3, strides, padding, activation: act, kernelInitializer: init(k), biasInitializer: biasInit(k), name: `conv${k}` });
  if (convention === 'tf-same' || convention === 'valid') {
    const p = convention === 'tf-same' ? 'same' : 'valid';
    m.add(conv(1, 1, p, true));
    m.add(conv(2, 2, p));
    m.add(conv(3, 2, p));
  } else if (convention === 'torch') {
    m.add(tfl.layers.zeroPadding2d({ inputShape: [28, 28, 1], padding: 1, name: 'pad1' }));
    m.add(conv(1, 1, 'valid'));
    m.add(tfl.layers.zeroPadding2d({ padding: 1, name: 'pad2' }));
    m.add(conv(2, 2, 'valid'));
    m.add(tfl.layers.zeroPadding2d({ padding: 1, name: 'pad3' }));
    m.add(conv(3, 2, 'valid'));
  } else {
    m.add(conv(1, 1, 'same', true));
    m.add(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, name: 'pool1' }));
    m.add(conv(2, 1, 'same'));
    m.add(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, name: 'pool2' }));
    m.add(conv(3, 1, 'same'));
  }
  return m;
}

const expected: Record<Convention, Geometry['height']> = {
  // conv1 pads 1; conv2 (0, 1) reads conv1 rows 2i..2i+2 = pixels 2i−1..2i+3; conv3 rows 2j..2j+2 of conv2 → pixels 4i−1..4i+7.
  'tf-same': { stride: 4, offset: 1, field: 9 },
  // Every conv pads (1, 1): conv3 reads conv2 rows 2i−1..2i+1 → pixels 4i−4..4i+4.
  torch: { stride: 4, offset: 4, field: 9 },
  valid: { stride: 4, offset: 0, field: 9 },
  // conv 3 (pad 1), pool 2, conv 3 (pad 1), pool 2, conv 3 (pad 1): field 3 + 1 + 2·2 + 2 + 4·2 = 18, offset 1 + 2 + 4 = 7.
  pool: { stride: 4, offset: 7, field: 18 },
};

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
  assert.deepEqual(axisFromWindows([[0, 2], [1, 3], [2, 4], [3, 5]], 8), { stride: 1, offset: 0, field: 3 });
  assert.match(axisFromWindows([[0, 7]], 8) as string, /single position/);
  assert.match(axisFromWindows([[0, 2], [1, 4], [3, 5], [5, 7]], 8) as string, /output/);
  assert.match(axisFromWindows([[0, 2], [-1, -1]], 8) as string, /do not depend/);
});

test('the plan reproduces the usual conventions layer for layer', () => {
  const tfSame = planAxis(expected['tf-same'], 28, 7);
  assert.deepEqual(tfSame.strides, [1, 2, 2]);
  assert.deepEqual([tfSame.inputPad, tfSame.pads[1], tfSame.pads[2]], [[1, 1], [0, 1], [0, 1]]);
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
        assert.equal(plan.strides.reduce((a, b) => a * b, 1), stride);
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
