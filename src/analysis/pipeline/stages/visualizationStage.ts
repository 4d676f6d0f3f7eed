/** Visualisation data (METHOD.md §4): always on, it reads only arrays already in memory. */
import type { AnalysisContext } from './types';
import { visualization } from '../../metrics/visualization';
import type { ResultFile } from '../result';
import { guarded, labelsOf, stageOptions, stageProgress } from './common';

export async function runVisualization(ctx: AnalysisContext): Promise<Partial<ResultFile>> {
  const set = ctx.trainEval;
  const v = visualization({
    orders: ctx.orders.map((o) => o.order),
    features: set.features,
    phis: ctx.phiTrain,
    featureShape: set.featureShape,
    indices: set.indices,
    labels: labelsOf(set),
    samples: stageOptions(ctx).visualizationSamples,
  });
  stageProgress(ctx, 'visualization', 1);
  return { visualization: v };
}

export const visualizationStage = guarded({ name: 'visualization', enabled: () => true, run: runVisualization });
