/** Trunks in each padding convention, and the grids they have (geometry.test.ts, closedForm.test.ts). */
import * as tfl from '@tensorflow/tfjs-layers';
import type { Geometry } from '../../../src/analysis/pipeline/geometry';

export type Convention = 'tf-same' | 'torch' | 'valid' | 'pool';

/** A 3-conv trunk on 28×28×1 (3×3 convs, the second and third with stride 2 except for 'pool'), with or without ReLUs. */
export function convTrunk(convention: Convention, relu: boolean, seed = 1): tfl.LayersModel {
  const m = tfl.sequential();
  const act = relu ? 'relu' : 'linear';
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const biasInit = (k: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: seed * 10 + 5 + k });
  const conv = (k: number, strides: number, padding: 'same' | 'valid', first = false) =>
    tfl.layers.conv2d({
      ...(first ? { inputShape: [28, 28, 1] } : {}),
      filters: 8,
      kernelSize: 3,
      strides,
      padding,
      activation: act,
      kernelInitializer: init(k),
      biasInitializer: biasInit(k),
      name: `conv${k}`,
    });
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

export const expected: Record<Convention, Geometry['height']> = {
  // conv1 pads 1; conv2 (0, 1) reads conv1 rows 2i..2i+2 = pixels 2i−1..2i+3; conv3 rows 2j..2j+2 of conv2 → pixels 4i−1..4i+7.
  'tf-same': { stride: 4, offset: 1, field: 9 },
  // Every conv pads (1, 1): conv3 reads conv2 rows 2i−1..2i+1 → pixels 4i−4..4i+4.
  torch: { stride: 4, offset: 4, field: 9 },
  valid: { stride: 4, offset: 0, field: 9 },
  // conv 3 (pad 1), pool 2, conv 3 (pad 1), pool 2, conv 3 (pad 1): field 3 + 1 + 2·2 + 2 + 4·2 = 18, offset 1 + 2 + 4 = 7.
  pool: { stride: 4, offset: 7, field: 18 },
};
