/**
 * The result file of one analysis (ARCHITECTURE.md "Result file", schemaVersion 1): the type the
 * engine writes (`ResultFile`; its JSON schema and atomic writer are in src/analysis/pipeline/result.ts),
 * and `parseResult`, which reads it into the shape the panels show. Required parts missing →
 * ResultFormatError with one clear sentence; optional sections missing or malformed → left out
 * with a warning, so a partial file written by a running or cancelled analysis still shows what
 * it has. `AnalysisResult` is the panels' view of a `ResultFile`: everything optional in the file
 * stays optional there, and older spellings (`checkpoint.hash`, a dataset given as a plain path)
 * are read too.
 */

// The file as the engine writes it: one definition, its schema and type (analysisSchema.ts).
export type { AxisGeometry, Geometry, ReliabilitySettings, ResultComponent, ResultFile, ResultVisualization } from './analysisSchema';
import type { ResultComponent, ResultFile } from './analysisSchema';

// ── the panel's tolerant reading ───────────────────────────────────────────────

type Row<K extends keyof ResultFile> = NonNullable<ResultFile[K]> extends (infer T)[] ? T : never;

export type ComponentResult = ResultComponent;
export type ResidueResult = ResultFile['residue'];
export type TeacherResult = ResultFile['teacher'];
export type ReliabilityResult = Row<'reliability'>;
export type EffectivenessResult = Row<'effectiveness'>;
export type OverfittingResult = Row<'overfitting'>;
export type SubstitutionResult = Row<'substitution'>;
/** The baseline may be missing in files written before it was recorded. */
export type ShapleyResult = Omit<NonNullable<ResultFile['shapley']>, 'baseline'> & { baseline?: string };

export type DatasetInfo = Partial<Pick<ResultFile['dataset'], 'format' | 'normalization' | 'trainSamples' | 'testSamples' | 'numClasses'>>;

/**
 * The panel's view of a ResultFile: the same fields, with the dataset split into a label and its
 * details, names kept as strings so a newer engine's backend or budget still shows, and
 * `shapley.baseline` optional.
 */
export interface AnalysisResult extends Omit<ResultFile, 'kind' | 'checkpoint' | 'dataset' | 'backend' | 'budget' | 'shapley'> {
  checkpoint: { path: string; sha256: string; format?: string };
  /** The dataset's path (or name), for display. */
  dataset: string;
  datasetInfo?: DatasetInfo;
  backend: string;
  budget: string;
  shapley?: ShapleyResult;
}

export interface LoadedResult {
  result: AnalysisResult;
  /** Optional parts that were present but unreadable, in words. */
  warnings: string[];
}

export class ResultFormatError extends Error {
  override name = 'ResultFormatError';
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function need<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new ResultFormatError(`Not a readable feature-complexity result: ${what}.`);
  return value;
}

function num(o: Obj, key: string, where: string): number {
  const v = o[key];
  return need(isNum(v), v as number, `${where}.${key} is missing or not a finite number`);
}

function optNum(o: Obj, key: string): number | undefined {
  return isNum(o[key]) ? (o[key] as number) : undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isNum(v)) return String(v);
  return undefined;
}

/** The dataset may be recorded as a path or as an object describing it; show its path or name. */
function datasetLabel(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isObj(v)) return str(v.path) ?? str(v.name) ?? str(v.kind) ?? JSON.stringify(v);
  return 'unknown';
}

/**
 * The reliability stage's settings as run; left out with a warning when malformed. The panel's
 * Settings tab and the comparison's settings check read them.
 */
function reliabilitySettingsOf(v: unknown, warnings: string[]): AnalysisResult['reliabilitySettings'] {
  if (v === undefined) return undefined;
  const o = isObj(v) ? v : {};
  const ok =
    (o.method === 'joint' || o.method === 'target-phi') &&
    isNum(o.networks) &&
    isNum(o.rounds) &&
    isNum(o.samples) &&
    Array.isArray(o.exemplars) &&
    o.exemplars.every((e) => typeof e === 'string');
  if (!ok) {
    warnings.push('"reliabilitySettings" is malformed; the reliability settings are not shown.');
    return undefined;
  }
  return v as AnalysisResult['reliabilitySettings'];
}

/** Reads an optional per-order array; entries that lack a required number are dropped with a warning. */
function optRows<T>(raw: Obj, key: string, fields: readonly string[], warnings: string[], build: (o: Obj) => T): T[] | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    warnings.push(`"${key}" is not a list and is ignored.`);
    return undefined;
  }
  const rows: T[] = [];
  let dropped = 0;
  for (const e of v) {
    if (isObj(e) && fields.every((f) => isNum(e[f]))) rows.push(build(e));
    else dropped++;
  }
  if (dropped) warnings.push(`${dropped} entr${dropped === 1 ? 'y' : 'ies'} of "${key}" lack ${fields.join(', ')} and are ignored.`);
  return rows;
}

function timingOf(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isObj(v)) return out;
  for (const [k, t] of Object.entries(v)) if (isNum(t)) out[k] = t;
  return out;
}

function datasetInfoOf(v: unknown): DatasetInfo | undefined {
  if (!isObj(v)) return undefined;
  return {
    format: str(v.format),
    normalization: str(v.normalization),
    trainSamples: optNum(v, 'trainSamples'),
    testSamples: optNum(v, 'testSamples'),
    numClasses: optNum(v, 'numClasses'),
  };
}

function shapleyOf(v: unknown, warnings: string[]): ShapleyResult | undefined {
  if (v === undefined || v === null) return undefined;
  const ok =
    isObj(v) &&
    Array.isArray(v.players) &&
    v.players.every((p) => isObj(p) && typeof p.name === 'string' && isNum(p.phiTrain) && isNum(p.phiGap)) &&
    isObj(v.train) &&
    isNum(v.train.lossEmpty) &&
    isNum(v.train.lossFull) &&
    isObj(v.test) &&
    isNum(v.test.lossEmpty) &&
    isNum(v.test.lossFull);
  if (!ok) {
    warnings.push('"shapley" does not have players, train and test losses and is ignored.');
    return undefined;
  }
  const s = v as unknown as ShapleyResult;
  return {
    baseline: str((v as Obj).baseline),
    players: s.players.map((p) => ({ name: p.name, phiTrain: p.phiTrain, phiGap: p.phiGap })),
    train: { lossEmpty: s.train.lossEmpty, lossFull: s.train.lossFull },
    test: { lossEmpty: s.test.lossEmpty, lossFull: s.test.lossFull },
  };
}

/** Validates a parsed result file; see the module comment for what is required. */
export function parseResult(raw: unknown): LoadedResult {
  need(isObj(raw), raw, 'the file is not a JSON object');
  const r = raw as Obj;
  if (r.schemaVersion !== 1) {
    throw new ResultFormatError(
      isNum(r.schemaVersion)
        ? `This result has schemaVersion ${r.schemaVersion}; this version of the extension reads schemaVersion 1.`
        : 'Not a readable feature-complexity result: schemaVersion is missing.',
    );
  }
  const warnings: string[] = [];

  const cp = r.checkpoint;
  const checkpoint = isObj(cp)
    ? { path: str(cp.path) ?? 'unknown', sha256: str(cp.sha256) ?? str(cp.hash) ?? '', format: str(cp.format) }
    : { path: str(cp) ?? 'unknown', sha256: '' };

  need(Array.isArray(r.components), null, '"components" is missing');
  const components: ComponentResult[] = (r.components as unknown[]).map((c, i) => {
    need(isObj(c), null, `components[${i}] is not an object`);
    const o = c as Obj;
    const where = `components[${i}]`;
    const lossCurve = Array.isArray(o.lossCurve) ? (o.lossCurve as unknown[]).filter(isNum) : undefined;
    return {
      order: num(o, 'order', where),
      rho: num(o, 'rho', where),
      variance: num(o, 'variance', where),
      rhoTest: optNum(o, 'rhoTest'),
      varianceTest: optNum(o, 'varianceTest'),
      lossCurve,
      epochs: optNum(o, 'epochs'),
      converged: typeof o.converged === 'boolean' ? o.converged : undefined,
      fit: optNum(o, 'fit'),
      ...(o.solver === 'closed-form' ? { solver: 'closed-form' as const } : {}),
      ...(o.restored === true ? { restored: true } : {}),
      lrDecays: optNum(o, 'lrDecays'),
      seconds: optNum(o, 'seconds'),
    };
  });
  components.sort((a, b) => a.order - b.order);

  need(isObj(r.residue), null, '"residue" is missing');
  const res = r.residue as Obj;
  const residue: ResidueResult = {
    rho: num(res, 'rho', 'residue'),
    variance: num(res, 'variance', 'residue'),
    rhoTest: optNum(res, 'rhoTest'),
    varianceTest: optNum(res, 'varianceTest'),
  };

  need(isObj(r.teacher), null, '"teacher" is missing');
  const t = r.teacher as Obj;
  const teacher: TeacherResult = {
    trainAccuracy: num(t, 'trainAccuracy', 'teacher'),
    testAccuracy: num(t, 'testAccuracy', 'teacher'),
    trainLoss: num(t, 'trainLoss', 'teacher'),
    testLoss: num(t, 'testLoss', 'teacher'),
  };

  // A file without an orders list still names the orders it finished.
  const orders = Array.isArray(r.orders) && r.orders.every(isNum) ? [...(r.orders as number[])] : components.map((c) => c.order);

  const result: AnalysisResult = {
    schemaVersion: 1,
    engineVersion: str(r.engineVersion),
    createdAt: str(r.createdAt),
    checkpoint,
    targetLayer: str(r.targetLayer) ?? 'unknown',
    dataset: datasetLabel(r.dataset),
    datasetInfo: datasetInfoOf(r.dataset),
    backend: str(r.backend) ?? 'unknown',
    ...(isNum(r.threads) && Number.isInteger(r.threads) && r.threads >= 1 ? { threads: r.threads } : {}),
    ...(typeof r.backendDetail === 'string' ? { backendDetail: r.backendDetail } : {}),
    seed: isNum(r.seed) ? r.seed : 0,
    budget: str(r.budget) ?? 'unknown',
    width: optNum(r, 'width'),
    ...(Array.isArray(r.featureShape) && r.featureShape.every(isNum) ? { featureShape: [...(r.featureShape as number[])] } : {}),
    orders,
    ...(Array.isArray(r.plannedOrders) && r.plannedOrders.every(isNum) ? { plannedOrders: [...(r.plannedOrders as number[])] } : {}),
    components,
    residue,
    featureVariance: isNum(r.featureVariance) ? r.featureVariance : NaN,
    featureVarianceTest: optNum(r, 'featureVarianceTest'),
    teacher,
    reliability: optRows(r, 'reliability', ['order', 'reliableRho', 'reliableVariance', 'unreliableVariance'], warnings, (o) => ({
      order: o.order as number,
      reliableRho: o.reliableRho as number,
      reliableVariance: o.reliableVariance as number,
      unreliableVariance: o.unreliableVariance as number,
    })),
    reliabilityTest: optRows(r, 'reliabilityTest', ['order', 'reliableRho', 'reliableVariance', 'unreliableVariance'], warnings, (o) => ({
      order: o.order as number,
      reliableRho: o.reliableRho as number,
      reliableVariance: o.reliableVariance as number,
      unreliableVariance: o.unreliableVariance as number,
    })),
    geometryNote: str(r.geometryNote),
    reliabilityMethod: str(r.reliabilityMethod),
    reliabilitySettings: reliabilitySettingsOf(r.reliabilitySettings, warnings),
    // α is null where the ratio is undefined (a component with no variance, or φ_train = 0); φ still shows.
    effectiveness: optRows(r, 'effectiveness', ['order', 'phiTrain'], warnings, (o) => ({
      order: o.order as number,
      phiTrain: o.phiTrain as number,
      alpha: isNum(o.alpha) ? o.alpha : null,
    })),
    overfitting: optRows(r, 'overfitting', ['order', 'phiGap'], warnings, (o) => ({
      order: o.order as number,
      phiGap: o.phiGap as number,
      alpha: isNum(o.alpha) ? o.alpha : null,
    })),
    shapley: shapleyOf(r.shapley, warnings),
    substitution: optRows(r, 'substitution', ['order', 'testAccuracy', 'testLoss'], warnings, (o) => ({
      order: o.order as number,
      testAccuracy: o.testAccuracy as number,
      testLoss: o.testLoss as number,
    })),
    timing: timingOf(r.timing),
    // Files that do not say are judged by whether every order finished.
    complete: typeof r.complete === 'boolean' ? r.complete : components.length >= orders.length,
  };
  if (!isNum(r.featureVariance)) warnings.push('"featureVariance" is missing.');
  return { result, warnings };
}
