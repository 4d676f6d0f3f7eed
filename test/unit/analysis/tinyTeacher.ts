/** The tiny teacher the analysis and stage tests share: 8×8 grey images, 3 classes. */
import * as tfl from '@tensorflow/tfjs-layers';

export const H = 8;

/** Target feature linear in the input (one conv named `feature`, no activation), a softmax head `out` on it. */
export function linearTeacher(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [H, H, 1],
      filters: 3,
      kernelSize: 3,
      padding: 'same',
      name: 'feature',
      kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }),
    }),
  );
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }));
  return m;
}
