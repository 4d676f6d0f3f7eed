/**
 * `--exemplars A,B` (METHOD.md §3): reliability of each order's component, with the target and
 * the exemplars as the K networks.
 *
 * Method (recorded in the result as `reliabilityMethod`): the shared disentangler of order l is
 * the target's own trained Φ⁽ˡ⁾ (no second disentangler per order), and the K heads A_k and back
 * maps B_k are fitted in closed form (least squares) on the training eval samples, then the
 * cycle runs T rounds. Why: the joint fit Σ_k MSE(A_k Φ(x), f_k(x)) would train a second set of
 * disentanglers, doubling the analysis's cost on a CPU; with Φ fixed, the least-squares heads
 * are the exact minimiser of that loss over A, and the cycle then keeps what every network can
 * linearly reconstruct from the others. The cost: Φ was shaped by the target alone, so it may
 * carry directions an exemplar-aware Φ would not; those are exactly what the cycle removes.
 */
import { registerAnalysisStage, type AnalysisContext } from '../analyze';
import { tf } from '../backend';
import { DEFAULT_CYCLE_ROUNDS, reliabilityForOrder, reliabilitySplit, sampleVariance } from '../metrics/reliability';
import type { ResultFile } from '../result';
import { loadExemplar, mapBatchesAsync, type Teacher } from '../teacher';
import { componentTensors, featureShape4, featureTensor, guarded, phiTensor, stageOptions, stageProgress, throwIfCancelled } from './common';

export const RELIABILITY_METHOD = "target's Φ⁽ˡ⁾ shared; closed-form least-squares heads A_k and back maps B_k";

/** Loads every exemplar (each refused with a BadInputError naming its file) and computes its feature on the training eval samples. */
export async function exemplarFeatures(ctx: AnalysisContext, paths: string[]): Promise<{ features: tf.Tensor4D[]; names: string[] }> {
  const features: tf.Tensor4D[] = [];
  const names: string[] = [];
  try {
    for (const path of paths) {
      throwIfCancelled(ctx);
      const ex: Teacher = await loadExemplar(path, ctx.teacher, { python: ctx.params.python, modelClass: ctx.params.modelClass });
      try {
        const { data } = await mapBatchesAsync(ctx.trainEval.split, ctx.trainEval.indices, 256, (x) => ex.runTrunk(x));
        const [h, w, c] = ex.featureShape;
        features.push(tf.tensor4d(data, [ctx.trainEval.indices.length, h, w, c]));
        names.push(`exemplar ${path} (layer '${ex.targetLayer}')`);
      } finally {
        await ex.dispose();
      }
    }
  } catch (e) {
    tf.dispose(features);
    throw e;
  }
  return { features, names };
}

export async function runReliability(ctx: AnalysisContext): Promise<Partial<ResultFile>> {
  const paths = ctx.params.exemplars ?? [];
  const rounds = stageOptions(ctx).reliabilityRounds ?? DEFAULT_CYCLE_ROUNDS;
  stageProgress(ctx, 'reliability: exemplar features', 0);
  const { features: exFeatures, names } = await exemplarFeatures(ctx, paths);
  const f = featureTensor(ctx, 'train');
  const fks = [f, ...exFeatures];
  const reliable: tf.Tensor[] = [];
  const components = componentTensors(ctx, 'train', false);
  try {
    const orders = ctx.orders.map((o) => o.order);
    for (let k = 0; k < orders.length; k++) {
      throwIfCancelled(ctx);
      const h = phiTensor(ctx, 'train', k);
      try {
        const r = await reliabilityForOrder(h, fks, { rounds, names: [`the target ${ctx.teacher.checkpoint}`, ...names] });
        reliable.push(r.reliable);
      } finally {
        h.dispose();
      }
      stageProgress(ctx, 'reliability', (k + 1) / orders.length);
    }
    const featureVariance = await sampleVariance(f);
    const entries = await reliabilitySplit({ orders, components, reliableFeatures: reliable, featureVariance });
    return { reliability: entries, reliabilityMethod: `${RELIABILITY_METHOD}; K = ${fks.length}, T = ${rounds}, ${featureShape4(ctx.trainEval)[0]} training samples` };
  } finally {
    tf.dispose([...fks, ...reliable, ...components]);
  }
}

export const reliabilityStage = guarded({ name: 'reliability', enabled: (p) => (p.exemplars?.length ?? 0) > 0, run: runReliability });
registerAnalysisStage(reliabilityStage);
