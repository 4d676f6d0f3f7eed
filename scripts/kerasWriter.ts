/**
 * A Keras 2 `.h5` writer for fixtures and tests (no TensorFlow/Keras on this machine): a TF.js
 * layers model written with h5wasm's HDF5 writer in Keras's layout (model_config +
 * model_weights/<layer>/<weight>), which the engine's Keras loader then reads as a user's file.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { h5wasm } from '../src/analysis/teacher/keras';

export function layerWeights(model: tfl.LayersModel): Map<string, { name: string; data: Float32Array; shape: number[] }[]> {
  const out = new Map<string, { name: string; data: Float32Array; shape: number[] }[]>();
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    out.set(
      layer.name,
      layer.weights.map((w) => ({ name: w.originalName, data: w.read().dataSync() as Float32Array, shape: w.shape as number[] })),
    );
  }
  return out;
}

export async function writeKeras2(model: tfl.LayersModel, path: string): Promise<void> {
  const h5 = await h5wasm();
  const f = new h5.File(path, 'w');
  const topology = model.toJSON(null, false) as { class_name: string; config: unknown };
  f.create_attribute('keras_version', '2.15.0');
  f.create_attribute('backend', 'tensorflow');
  f.create_attribute(
    'model_config',
    JSON.stringify({ class_name: topology.class_name === 'Sequential' ? 'Sequential' : 'Functional', config: topology.config }),
  );
  const mw = f.create_group('model_weights');
  mw.create_attribute(
    'layer_names',
    model.layers.map((l) => l.name),
  );
  mw.create_attribute('backend', 'tensorflow');
  mw.create_attribute('keras_version', '2.15.0');
  const weights = layerWeights(model);
  for (const layer of model.layers) {
    const g = mw.create_group(layer.name);
    const ws = weights.get(layer.name) ?? [];
    // Keras 2 names weights "<layer>/<var>:0" and stores them under that path.
    const names = ws.map((w) => `${w.name}:0`);
    g.create_attribute('weight_names', names.length > 0 ? names : ['']);
    if (ws.length === 0) continue;
    const sub = g.create_group(layer.name);
    ws.forEach((w, i) => sub.create_dataset({ name: names[i].split('/').pop() as string, data: w.data, shape: w.shape, dtype: '<f' }));
  }
  f.close();
}
