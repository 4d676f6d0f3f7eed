/**
 * TF.js checkpoint files on disk (model.json + weight shards): finding, reading and writing them
 * with no network and no tfjs-node, and the checkpoint's content hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tf } from '../tf/backend';
import { BadInputError } from '../util/errors';
import { writeFileAtomic } from '../util/atomicWrite';

/** `model.json` for a checkpoint given as the file itself or as the folder that holds it. */
export function modelJsonPath(checkpoint: string): string {
  const p = resolve(checkpoint);
  if (!existsSync(p)) throw new BadInputError(`checkpoint ${checkpoint} does not exist`);
  if (statSync(p).isDirectory()) {
    const m = join(p, 'model.json');
    if (!existsSync(m)) throw new BadInputError(`checkpoint folder ${checkpoint} has no model.json`);
    return m;
  }
  return p;
}

interface ModelJsonFile {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  trainingConfig?: unknown;
}

function readModelJson(path: string, kind: 'layers' | 'graph' = 'layers'): ModelJsonFile {
  let json: ModelJsonFile;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as ModelJsonFile;
  } catch (e) {
    throw new BadInputError(`${path}: not a readable JSON file (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof json !== 'object' || json === null || !json.modelTopology) {
    throw new BadInputError(`${path}: not a TF.js LayersModel (no modelTopology)`);
  }
  const topo = json.modelTopology as { class_name?: string; model_config?: unknown; node?: unknown };
  if (kind === 'graph') {
    if (json.format !== 'graph-model' || !Array.isArray(topo.node))
      throw new BadInputError(`${path}: not a TF.js graph model (no format: graph-model with a node list)`);
  } else if (!topo.class_name && !topo.model_config) {
    throw new BadInputError(`${path}: modelTopology is not a Keras/TF.js layers topology (a graph model is not supported here)`);
  }
  return json;
}

/**
 * The checkpoint's content hash: sha256 over model.json and its weight shards in manifest
 * order for TF.js, over the file itself for every other format.
 */
export function checkpointHash(checkpoint: string): string {
  const path = modelJsonPath(checkpoint);
  const h = createHash('sha256');
  h.update(readFileSync(path));
  if (!path.toLowerCase().endsWith('.json')) return h.digest('hex');
  let json: ModelJsonFile;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as ModelJsonFile;
  } catch (e) {
    throw new BadInputError(`${path}: not a readable JSON file (${e instanceof Error ? e.message : String(e)})`);
  }
  for (const group of json.weightsManifest ?? []) {
    for (const shard of group.paths) {
      const sp = join(dirname(path), shard);
      if (existsSync(sp)) h.update(readFileSync(sp));
    }
  }
  return h.digest('hex');
}

/** An IOHandler that reads model.json (a layers or a graph model) and its shards from the file system. */
export function fileLoadHandler(path: string, kind: 'layers' | 'graph' = 'layers'): tf.io.IOHandler {
  return {
    load: async () => {
      const json = readModelJson(path, kind);
      return tf.io.getModelArtifactsForJSON(json as tf.io.ModelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) {
            const sp = join(dirname(path), shard);
            if (!existsSync(sp)) throw new BadInputError(`${path}: missing weight shard ${shard}`);
            const b = readFileSync(sp);
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          }
        }
        const joined = tf.io.CompositeArrayBuffer.join(buffers);
        const need = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPer(s.dtype), 0);
        if (joined.byteLength < need) {
          throw new BadInputError(`${path}: weight shards hold ${joined.byteLength} bytes, the manifest needs ${need} (truncated or wrong shard)`);
        }
        return [specs, joined];
      });
    },
  };
}

function bytesPer(dtype: string): number {
  return dtype === 'float16' ? 2 : dtype === 'bool' || dtype === 'uint8' ? 1 : 4;
}

/** An IOHandler that writes model.json + weights.bin into `dir` (each atomically). */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts) => {
      mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData as ArrayBuffer | ArrayBuffer[]) : new ArrayBuffer(0);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
      };
      writeFileAtomic(join(dir, 'weights.bin'), Buffer.from(weightData));
      writeFileAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
    },
  };
}
