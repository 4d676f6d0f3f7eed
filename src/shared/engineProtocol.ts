/**
 * The one place where the extension host and the engine child process agree on messages.
 * Every request and notification is named once here, with its payload types.
 * Transport: vscode-jsonrpc over the Node IPC channel of a forked child process.
 */
import { NotificationType, ProgressType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { TaskComplexityOutput } from './files/calibration';
import type { PredictReport, PredictTarget } from './files/prediction';
import type { BackendChoice, BackendName, Budget, ReliabilityMethod } from './vocabulary';
import type { ReliabilitySettings } from './files/analysisSchema';

export type { BackendChoice, BackendName, Budget, PredictReport, PredictTarget, ReliabilityMethod, ReliabilitySettings, TaskComplexityOutput };

export interface BackendStatus {
  name: BackendName;
  /** True when the backend initialised on this machine. */
  available: boolean;
  /** Package and version that provides it, or why it did not load. */
  detail: string;
}

export interface Capabilities {
  engineVersion: string;
  nodeVersion: string;
  platform: string;
  backends: BackendStatus[];
  /** What `auto` picks on this machine. */
  autoBackend: BackendName;
  /** Threads a training step uses on the CPU backends by default (os.availableParallelism()). */
  threads?: number;
}

export interface AnalyzeParams {
  checkpoint: string;
  data: string;
  layer?: string;
  orders?: number[];
  budget?: Budget;
  backend?: BackendChoice;
  seed?: number;
  width?: number;
  /** Threads a training step is split over on the CPU backends (default: the machine's cores). */
  threads?: number;
  exemplars?: string[];
  /**
   * How the reliability stage gets its shared disentanglers (METHOD.md §3): 'joint' (default)
   * trains one Φ⁽ˡ⁾ per order jointly with K linear heads; 'target-phi' reuses the target's own
   * Φ⁽ˡ⁾ with closed-form heads (fast, no extra training).
   */
  reliabilityMethod?: ReliabilityMethod;
  /** 'teacher' (default): the disentanglers follow the trunk's sampling grid (geometry.ts); 'same': every conv pads 'same', the design before the grid was read. */
  geometry?: 'teacher' | 'same';
  shapley?: boolean;
  substitution?: boolean;
  /** Python with torch, to export a PyTorch checkpoint to ONNX (default: $FC_PYTHON or python3). */
  python?: string;
  /** `module:Class` of a PyTorch state dict or pickled model (imported from the checkpoint's folder). */
  modelClass?: string;
  /** Where the result file goes; the engine writes it atomically. */
  out: string;
  /** Echoed in every progress notification of this request. */
  progressToken: string;
}

export interface AnalyzeResponse {
  resultFile: string;
  /** False when the run was cancelled: the file then holds the orders that finished. */
  complete: boolean;
}

export interface LayerInfo {
  name: string;
  className: string;
  outputShape: (number | null)[];
}

export interface ListLayersParams {
  checkpoint: string;
  /** The dataset, when known: its image size fills symbolic ONNX inputs and sizes a PyTorch export. */
  data?: string;
  /** Python with torch, for a PyTorch checkpoint (as in AnalyzeParams). */
  python?: string;
  /** `module:Class` of a PyTorch state dict or pickled model (as in AnalyzeParams). */
  modelClass?: string;
}

export interface ListLayersResponse {
  layers: LayerInfo[];
  defaultLayer: string;
}

export interface PredictParams {
  /** Result files of the analysed models the regressor is fitted on. */
  results: string[];
  /** A result file to predict with a regressor that never saw it (it is kept out of the fit). */
  for?: string;
  target?: PredictTarget;
  repeats?: number;
  seed?: number;
  /** Orders whose reliable/unreliable shares form the vector; default: the 4 lowest common ones. */
  orders?: number[];
  /** Fit only the largest group of analyses with the same settings (the group of `for`, when given). */
  consistentOnly?: boolean;
}

export interface TaskComplexityParams {
  tasks?: number[];
  orders?: number[];
  budget?: Budget;
  backend?: BackendChoice;
  seed?: number;
  width?: number;
  /** Threads a training step is split over on the CPU backends (default: the machine's cores). */
  threads?: number;
  /** Where the calibration's output goes; the engine writes it atomically. */
  out: string;
  progressToken: string;
}

export interface ProgressParams {
  progressToken: string;
  /** Human-readable stage name, e.g. "teacher features", "order 8". */
  stage: string;
  /** Overall fraction done, 0..1. */
  fraction: number;
  order?: number;
  /** Position of `order` among the orders of the run, from 1, and how many there are (analyses only). */
  orderIndex?: number;
  orderCount?: number;
  epoch?: number;
  loss?: number;
}

export interface LogParams {
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Engine version and which TensorFlow.js backends load here. */
export const capabilitiesRequest = new RequestType0<Capabilities, void>('engine/capabilities');
/** Layers of a checkpoint with output shapes, and the default target layer. */
export const listLayersRequest = new RequestType<ListLayersParams, ListLayersResponse, void>('engine/listLayers');
/** One analysis; cancellable; progress arrives on `progressType` under the request's progressToken. */
export const analyzeRequest = new RequestType<AnalyzeParams, AnalyzeResponse, void>('engine/analyze');
/** Regression of test accuracy (or loss) on reliability shares over stored analyses, with a PCA map (METHOD.md §5). */
export const predictRequest = new RequestType<PredictParams, PredictReport, void>('engine/predict');
/** Task-complexity calibration (METHOD.md §6); cancellable; progress on `progressType` under its progressToken. */
export const taskComplexityRequest = new RequestType<TaskComplexityParams, TaskComplexityOutput, void>('engine/taskComplexity');
/** Ends the engine process at once; used by tests and by the restart path. */
export const shutdownRequest = new RequestType0<void, void>('engine/shutdown');

/** Progress of a long request: jsonrpc's `$/progress` with the request's progressToken as its token (each value repeats it). */
export const progressType = new ProgressType<ProgressParams>();
export const logNotification = new NotificationType<LogParams>('engine/log');

/** Error codes the engine uses in ResponseError so the host can word its messages. */
export const enum EngineErrorCode {
  BadInput = -32001,
  Cancelled = -32800,
  Internal = -32603,
}
