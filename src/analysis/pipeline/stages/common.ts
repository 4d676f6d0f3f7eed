/**
 * What the optional stages share: the components of the eval samples as tensors, and the
 * wrapper that keeps a failing stage from losing the finished orders (its error goes into the
 * result's `errors` instead of ending the analysis).
 */
import { tf } from '../../tf/backend';
import { CancelledError } from '../../util/errors';
import type { AnalysisContext, AnalysisStage } from './types';
import type { ResultFile } from '../result';
import type { FeatureSet } from '../train';

export type SplitName = 'train' | 'test';

/** Extra request fields the stages read; callers in TypeScript may set them on AnalyzeParams. */
export interface StageOptions {
  /** How a component missing from a Shapley coalition is replaced: 'mean' (default) or 'zero'. */
  shapleyBaseline?: 'mean' | 'zero';
  /** Cycle rounds T of the reliability analysis (default 10). */
  reliabilityRounds?: number;
  /** Samples shown by the visualisation (default 4). */
  visualizationSamples?: number;
}

export function stageOptions(ctx: AnalysisContext): StageOptions {
  return ctx.params as StageOptions;
}

export function featureShape4(set: FeatureSet, n = set.indices.length): [number, number, number, number] {
  const [h, w, c] = set.featureShape;
  return [n, h, w, c];
}

function splitOf(ctx: AnalysisContext, split: SplitName): { set: FeatureSet; phis: Float32Array[] } {
  return split === 'train' ? { set: ctx.trainEval, phis: ctx.phiTrain } : { set: ctx.testEval, phis: ctx.phiTest };
}

/** f(x) on the eval samples of `split`, [n, H, W, C]. */
export function featureTensor(ctx: AnalysisContext, split: SplitName): tf.Tensor4D {
  const { set } = splitOf(ctx, split);
  return tf.tensor4d(set.features, featureShape4(set));
}

/** Φ⁽ˡ⁾(x) of order index k on the eval samples of `split`, [n, H, W, C]. */
export function phiTensor(ctx: AnalysisContext, split: SplitName, k: number): tf.Tensor4D {
  const { set, phis } = splitOf(ctx, split);
  return tf.tensor4d(phis[k], featureShape4(set));
}

/** c⁽ˡ⁾ per order (Φ⁽ˡ⁾ − Φ⁽ˡ'⁾, the first order's Φ itself), then Δf = f − Φ⁽ᴸ⁾ when `withResidue`. */
export function componentTensors(ctx: AnalysisContext, split: SplitName, withResidue: boolean): tf.Tensor4D[] {
  const { phis } = splitOf(ctx, split);
  const out: tf.Tensor4D[] = [];
  let prev: tf.Tensor4D | undefined;
  for (let k = 0; k < phis.length; k++) {
    const phi = phiTensor(ctx, split, k);
    out.push(prev ? tf.sub(phi, prev) : tf.clone(phi));
    prev?.dispose();
    prev = phi;
  }
  if (withResidue) {
    const f = featureTensor(ctx, split);
    out.push(prev ? tf.sub(f, prev) : tf.clone(f));
    f.dispose();
  }
  prev?.dispose();
  return out;
}

/** Labels of the eval samples of `split`. */
export function labelsOf(set: FeatureSet): Int32Array {
  return Int32Array.from(set.indices, (i) => set.split.labels[i]);
}

export function throwIfCancelled(ctx: AnalysisContext): void {
  if (ctx.hooks.isCancelled?.()) throw new CancelledError();
}

/** Progress within a stage: `fraction` of the stage maps into the 0.96–0.99 band of the run. */
export function stageProgress(ctx: AnalysisContext, stage: string, fraction: number): void {
  ctx.hooks.progress?.({ stage, fraction: 0.96 + 0.03 * Math.min(1, Math.max(0, fraction)) });
}

const failures = new WeakMap<AnalysisContext, { stage: string; message: string }[]>();

/**
 * The stage as registered: an error becomes an `errors` entry of the result (all of this
 * analysis's failures so far, since each stage's fields replace the previous ones), and a
 * cancellation marks the result incomplete; either way the pipeline goes on to write the file.
 */
export function guarded(stage: AnalysisStage): AnalysisStage {
  return {
    name: stage.name,
    enabled: (p) => stage.enabled(p),
    run: async (ctx): Promise<Partial<ResultFile>> => {
      try {
        return await stage.run(ctx);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        const list = failures.get(ctx) ?? [];
        list.push({ stage: stage.name, message: e instanceof CancelledError ? `cancelled: ${message}` : message });
        failures.set(ctx, list);
        ctx.hooks.progress?.({ stage: `${stage.name} failed: ${message}`, fraction: 0.96 });
        return e instanceof CancelledError ? { complete: false, errors: [...list] } : { errors: [...list] };
      }
    },
  };
}
