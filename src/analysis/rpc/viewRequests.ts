/**
 * The child-process handlers behind the extension's prediction and calibration views:
 * `predictRequest` (METHOD.md §5, through predict.ts) and `taskComplexityRequest` (METHOD.md §6,
 * through taskComplexity.ts), as plain functions: rpc/handlers.ts wires them, tests call them directly.
 */
import { CancelledError } from '../util/errors';
import { predictFromResults, readPredictSource, type PredictReport } from '../experiments/predict';
import { type PredictParams, type ProgressParams, type TaskComplexityOutput, type TaskComplexityParams } from '../../shared/engineProtocol';
import { runTaskComplexity } from '../experiments/taskComplexity';

/** JSON has no NaN: a model never held out gets null on the wire, which the view reads as "none". */
const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export function handlePredict(params: PredictParams): PredictReport {
  const inputs = params.results.map((path) => ({ path, result: readPredictSource(path) }));
  const forInput = params.for ? { path: params.for, result: readPredictSource(params.for) } : undefined;
  const report = predictFromResults(
    inputs,
    { target: params.target, repeats: params.repeats, seed: params.seed, orders: params.orders, consistentOnly: params.consistentOnly },
    forInput,
  );
  return JSON.parse(JSON.stringify(report, finiteOrNull)) as PredictReport;
}

export async function handleTaskComplexity(
  params: TaskComplexityParams,
  progress: (p: ProgressParams) => void,
  isCancelled: () => boolean,
): Promise<TaskComplexityOutput> {
  try {
    return await runTaskComplexity(
      { tasks: params.tasks, orders: params.orders, budget: params.budget, backend: params.backend, seed: params.seed, width: params.width, out: params.out },
      { progress: (p) => progress({ progressToken: params.progressToken, ...p }), isCancelled },
    );
  } catch (e) {
    // The calibration keeps nothing partial, so a cancelled run is a cancellation whatever it threw.
    if (isCancelled()) throw new CancelledError('the calibration was cancelled');
    throw e;
  }
}
