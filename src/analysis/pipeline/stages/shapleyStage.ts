/**
 * `--shapley` (METHOD.md §2): Shapley values of the components of every order and of the residue
 * Δf in the head's task loss on the train and test eval samples; effectiveness and over-fitting
 * of each order from them. All 2ⁿ coalitions are evaluated (n = orders + 1 ≤ 12), in big batches
 * of coalitions per head call; above 12 players, permutation sampling with standard errors.
 */
import type { AnalysisContext } from './types';
import { effectiveness } from '../../metrics/effectiveness';
import { overfitting } from '../../metrics/overfitting';
import { componentShapley, headLossEvaluator, playerMeans, type Coalition, type CoalitionEvaluator } from '../../metrics/shapley';
import { sampleVariance } from '../../metrics/reliability';
import { tf } from '../../tf/backend';
import type { ResultFile } from '../result';
import { componentTensors, guarded, labelsOf, stageOptions, stageProgress, throwIfCancelled } from './common';
import { logitHead } from './head';

/** Coalitions per evaluator call: small enough that progress and cancellation are seen often. */
const COALITIONS_PER_CALL = 64;

export async function runShapley(ctx: AnalysisContext): Promise<Partial<ResultFile>> {
  const baseline = stageOptions(ctx).shapleyBaseline ?? 'mean';
  const orders = ctx.orders.map((o) => o.order);
  const names = [...orders.map((o) => `c(${o})`), 'Δf'];
  const trainPlayers = componentTensors(ctx, 'train', true);
  const testPlayers = componentTensors(ctx, 'test', true);
  // One stand-in per player for both splits: the training mean, so the test split's own statistics never enter its loss.
  const stand = baseline === 'mean' ? playerMeans(trainPlayers) : undefined;
  const head = logitHead(ctx.teacher);
  const common = { head, baseline: stand ?? baseline };
  const train = headLossEvaluator({ ...common, players: trainPlayers, labels: labelsOf(ctx.trainEval) });
  const test = headLossEvaluator({ ...common, players: testPlayers, labels: labelsOf(ctx.testEval) });
  const total = 2 ** names.length * 2;
  let done = 0;
  const watched =
    (ev: CoalitionEvaluator): CoalitionEvaluator =>
    async (coalitions: Coalition[]) => {
      throwIfCancelled(ctx);
      const v = await ev(coalitions);
      done += coalitions.length;
      stageProgress(ctx, 'shapley', done / total);
      return v;
    };
  try {
    const res = await componentShapley({ names, train: watched(train), test: watched(test), baseline, seed: ctx.seed, coalitionsPerCall: COALITIONS_PER_CALL });
    const variances: number[] = [];
    for (const c of trainPlayers.slice(0, orders.length)) variances.push(await sampleVariance(c));
    const phiTrain = res.players.map((p) => p.phiTrain);
    const phiGap = res.players.map((p) => p.phiGap);
    return {
      shapley: { ...res, baseline },
      effectiveness: effectiveness(orders, phiTrain, variances),
      overfitting: overfitting(orders, phiGap, phiTrain),
    };
  } finally {
    train.dispose();
    test.dispose();
    if (stand) tf.dispose(stand);
    tf.dispose([...trainPlayers, ...testPlayers]);
  }
}

export const shapleyStage = guarded({ name: 'shapley', enabled: (p) => p.shapley === true, run: runShapley });
