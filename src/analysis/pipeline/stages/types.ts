/** What an optional stage of an analysis receives and returns (the stages run in the order of STAGES in index.ts). */
import type { AnalyzeParams } from '../../../shared/engineProtocol';
import type { BudgetSpec } from '../budget';
import type { Dataset } from '../../data/dataset';
import type { Geometry } from '../geometry';
import type { ResultFile } from '../result';
import type { Teacher } from '../../teacher/teacher';
import type { FeatureSet, Hooks, TrainedOrder } from '../train';

/** Everything an optional stage may use; the nets stay alive until every stage has run. */
export interface AnalysisContext {
  params: AnalyzeParams;
  teacher: Teacher;
  dataset: Dataset;
  /** Samples the disentanglers trained on, with f(x) cached. */
  trainPool: FeatureSet;
  /** Training samples significance is evaluated on (a prefix of the pool). */
  trainEval: FeatureSet;
  testEval: FeatureSet;
  orders: TrainedOrder[];
  /** Φ⁽ˡ⁾ on trainEval / testEval for each finished order, flat n × dim. */
  phiTrain: Float32Array[];
  phiTest: Float32Array[];
  seed: number;
  width: number;
  budget: BudgetSpec;
  hooks: Hooks;
  /** The teacher trunk's grid the disentanglers follow (absent: 'same' padding, see geometryNote in the result). */
  geometry?: Geometry;
}

/** A stage run after significance when `enabled(params)`; its fields are merged into the result. */
export interface AnalysisStage {
  name: string;
  enabled(params: AnalyzeParams): boolean;
  run(ctx: AnalysisContext): Promise<Partial<ResultFile>>;
}
