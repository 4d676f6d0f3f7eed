/** `--substitution` (METHOD.md §4): the head on Φ⁽ˡ⁾(x) of the test eval samples, per order. */
import type { AnalysisContext } from './types';
import { substitution } from '../../metrics/substitution';
import type { ResultFile } from '../result';
import { guarded, labelsOf, phiTensor, stageProgress, throwIfCancelled } from './common';
import { logitHead } from './head';

export async function runSubstitution(ctx: AnalysisContext): Promise<Partial<ResultFile>> {
  const orders = ctx.orders.map((o) => o.order);
  const entries = await substitution(
    orders,
    (k) => {
      throwIfCancelled(ctx);
      return phiTensor(ctx, 'test', k);
    },
    labelsOf(ctx.testEval),
    logitHead(ctx.teacher),
    (k) => stageProgress(ctx, 'substitution', (k + 1) / orders.length),
  );
  return { substitution: entries };
}

export const substitutionStage = guarded({ name: 'substitution', enabled: (p) => p.substitution === true, run: runSubstitution });
