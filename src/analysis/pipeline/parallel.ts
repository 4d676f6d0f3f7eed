/**
 * Data-parallel training steps on the CPU (issue #15). The wasm backend computes on one thread; a
 * step of T threads splits its batch into T slices: the calling thread computes the gradient of
 * its slice while T − 1 worker threads (trainWorker.ts, each a replica of the disentangler on its
 * own wasm backend) compute theirs. The gradients are averaged, weighted by slice size, so the
 * step is the one-thread step's gradient up to float summation order, and one Adam update runs
 * on the calling thread, which sends the new weights with the next step.
 *
 * The thread count is process-wide, like the backend: setThreads from the `--threads` flag or the
 * `featureComplexity.threads` setting; the default is os.availableParallelism(). Only the CPU
 * backends (wasm, cpu) take threads: tfjs-node has its own, and a GPU backend one device.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../shared/engineProtocol';
import { tf } from '../tf/backend';
import type { Disentangler, DisentanglerSpec } from './disentangler';
import type { Standardizer } from './standardize';
import type { MomentSums } from './closedForm';

/** Messages to a worker (trainWorker.ts). */
export type ToWorker =
  | { type: 'init'; backend: BackendName }
  | { type: 'net'; spec: DisentanglerSpec; offsetShape?: number[]; headShapes?: [number, number][] }
  | { type: 'step'; weights: Float32Array; x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[] }
  | { type: 'forward'; weights: Float32Array; x: Float32Array; xShape: number[] }
  | { type: 'predict'; weights: Float32Array; x: Float32Array; xShape: number[]; std: Standardizer; unscale: boolean; batch: number }
  | { type: 'solveData'; x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[]; std: Standardizer; batch: number }
  | { type: 'moments'; weights: Float32Array; index: number; withTargets: boolean };

/** Replies of a worker. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'step'; loss: number; grads: Float32Array }
  | { type: 'forward'; y: Float32Array }
  | { type: 'moments'; sums: MomentSums | undefined }
  | { type: 'error'; message: string };

let configured: number | undefined;

/** The CPU backends a step can be split on. */
export function threadable(backend: string): boolean {
  return backend === 'wasm' || backend === 'cpu';
}

/** Threads training steps use from now on (undefined: the machine's cores). */
export function setThreads(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new Error(`threads must be a positive integer, got ${n}`);
  configured = n;
}

/** The threads a training step on `backend` uses: the configured count (default the machine's cores), 1 off the CPU backends. */
export function threadsFor(backend: string = tf.getBackend()): number {
  if (!threadable(backend)) return 1;
  return configured ?? availableParallelism();
}

/** The worker: its bundle beside the engine's in dist/, or the TypeScript source through tsx's require hook (tests). */
function startWorker(): Worker {
  const built = join(__dirname, 'trainWorker.js');
  if (existsSync(built)) return new Worker(built);
  const source = join(__dirname, 'trainWorker.ts');
  return new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(source)});`, { eval: true });
}

class Replica {
  private readonly worker: Worker;
  private pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor() {
    this.worker = startWorker();
    this.worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (m.type === 'error') p.reject(new Error(`training thread: ${m.message}`));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      this.failure = e;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    this.worker.on('error', (e) => fail(new Error(`training thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`training thread exited (code ${code})`)));
  }

  request(m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('training thread is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(m, transfer);
    });
  }

  async close(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error('training thread closed'));
    this.worker.removeAllListeners('exit');
    this.worker.removeAllListeners('error');
    this.worker.on('error', () => undefined);
    await this.worker.terminate();
  }
}

/** A row-major slice [from, to) of a batch along its first axis, as a flat copy. */
function rowsOf(data: Float32Array, rowSize: number, from: number, to: number): Float32Array {
  return data.slice(from * rowSize, to * rowSize);
}

/** Every worker's reply, once all have answered (none is left working), or the first failure. */
async function settle(replies: Promise<FromWorker>[]): Promise<FromWorker[]> {
  const done = await Promise.allSettled(replies);
  const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
  if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  return done.map((d) => (d as PromiseFulfilledResult<FromWorker>).value);
}

/** Worker i's output rows [cut(i + 1), cut(i + 2)), each `outRow` long, into `out`. */
function placeOutputs(replies: FromWorker[], cut: (i: number) => number, outRow: number, out: Float32Array, what: string): void {
  replies.forEach((m, i) => {
    const from = cut(i + 1);
    if (m.type !== 'forward' || m.y.length !== (cut(i + 2) - from) * outRow) throw new Error(`training thread gave no output for the ${what}`);
    out.set(m.y, from * outRow);
  });
}

/**
 * T − 1 worker replicas for one net at a time. Open once per training run (`open`), `bind` each
 * net before its steps, `close` at the end.
 */
export class StepPool {
  /** The pool of the training run in progress (forward passes of its bound net use it too). */
  private static active: StepPool | undefined;
  private bound: { net: Disentangler; vars: tf.Variable[]; total: number } | undefined;
  /** The workers holding a share of the least squares' samples (shareSolve). */
  private solvers: Replica[] = [];

  private constructor(
    private readonly replicas: Replica[],
    readonly threads: number,
    /** The workers' backends started (the first bind waits for it). */
    private readonly ready: Promise<unknown>,
  ) {
    // A failed start is reported by bind; until then it must not count as unhandled.
    ready.catch(() => undefined);
  }

  /**
   * A pool of `threads` − 1 workers on `backend`; undefined for one thread (the plain step). The
   * workers start in the background (loading the engine and its backend takes them a moment),
   * so the caller can work meanwhile, e.g. solve the least-squares order; `bind` waits for them.
   */
  static async open(threads: number, backend: BackendName): Promise<StepPool | undefined> {
    if (threads <= 1 || !threadable(backend)) return undefined;
    const replicas = Array.from({ length: threads - 1 }, () => new Replica());
    return new StepPool(replicas, threads, Promise.all(replicas.map((r) => r.request({ type: 'init', backend }))));
  }

  /**
   * Makes every worker a replica of `net` and of what its loss trains with it: the per-position
   * offset of MSE(net(x) + offset, y), or the K linear heads of the reliability stage's joint loss
   * Σ_k MSE(A_k net(x), y_k) (metrics/reliability.ts headsLoss; y is then the y_k concatenated
   * along the channels).
   */
  async bind(net: Disentangler, extra: tf.Variable | { heads: tf.Variable<tf.Rank.R2>[] } | undefined = undefined): Promise<void> {
    await this.ready;
    this.solvers = [];
    const offset = extra instanceof tf.Variable ? extra : undefined;
    const heads = extra && !(extra instanceof tf.Variable) ? extra.heads : [];
    const vars = [...net.variables, ...(offset ? [offset] : []), ...heads];
    this.bound = { net, vars, total: vars.reduce((a, v) => a + v.size, 0) };
    const message: ToWorker = {
      type: 'net',
      spec: net.spec,
      ...(offset ? { offsetShape: offset.shape } : {}),
      ...(heads.length ? { headShapes: heads.map((h) => [h.shape[0], h.shape[1]] as [number, number]) } : {}),
    };
    await Promise.all(this.replicas.map((r) => r.request(message)));
  }

  /**
   * One Adam step of MSE(net(x) + offset, y) over the whole batch, its gradient computed on every
   * thread; returns the batch's loss. The net must be the one last bound.
   */
  async step(optimizer: tf.Optimizer, x: tf.Tensor4D, y: tf.Tensor4D, loss: (x: tf.Tensor4D, y: tf.Tensor4D) => tf.Scalar): Promise<number> {
    const bound = this.bound;
    if (!bound) throw new Error('StepPool.step before bind');
    const n = x.shape[0];
    const parts = Math.min(this.threads, n);
    const cut = (i: number) => Math.round((i * n) / parts);
    const weights = await this.weights();
    const xs = (await x.data()) as Float32Array;
    const ys = (await y.data()) as Float32Array;
    const xRow = x.size / n;
    const yRow = y.size / n;
    const replies = this.replicas.slice(0, parts - 1).map((r, i) => {
      const from = cut(i + 1);
      const to = cut(i + 2);
      const xPart = rowsOf(xs, xRow, from, to);
      const yPart = rowsOf(ys, yRow, from, to);
      return r.request({ type: 'step', weights, x: xPart, xShape: [to - from, ...x.shape.slice(1)], y: yPart, yShape: [to - from, ...y.shape.slice(1)] }, [
        xPart.buffer as ArrayBuffer,
        yPart.buffer as ArrayBuffer,
      ]);
    });
    // This thread's slice, while the workers compute theirs.
    const m0 = cut(1);
    const own = tf.tidy(() => {
      const xa = tf.slice(x, 0, m0);
      const ya = tf.slice(y, 0, m0);
      return tf.variableGrads(() => loss(xa, ya), bound.vars);
    });
    // Σ (slice size / batch) × the slice's mean gradient, summed in one flat array.
    const sum = new Float32Array(bound.total);
    let total = 0;
    try {
      const w0 = m0 / n;
      total = (await own.value.data())[0] * w0;
      let off = 0;
      for (const v of bound.vars) {
        const g = (await own.grads[v.name].data()) as Float32Array;
        for (let i = 0; i < g.length; i++) sum[off + i] = g[i] * w0;
        off += v.size;
      }
    } finally {
      tf.dispose([own.value, ...Object.values(own.grads)]);
    }
    (await settle(replies)).forEach((m, i) => {
      if (m.type !== 'step' || m.grads.length !== bound.total) throw new Error(`training thread gave no gradient for the step`);
      const w = (cut(i + 2) - cut(i + 1)) / n;
      total += m.loss * w;
      const g = m.grads;
      for (let k = 0; k < g.length; k++) sum[k] += g[k] * w;
    });
    const named: tf.NamedTensorMap = {};
    let off = 0;
    for (const v of bound.vars) {
      named[v.name] = tf.tensor(sum.subarray(off, off + v.size), v.shape);
      off += v.size;
    }
    try {
      optimizer.applyGradients(named);
    } finally {
      tf.dispose(Object.values(named));
    }
    return total;
  }

  /**
   * The bound variables' values as they are now, one flat copy for every worker; without the
   * offset for a forward pass (the net alone, and the offset may be gone by then).
   */
  private async weights(withOffset = true): Promise<Float32Array> {
    const bound = this.bound!;
    const vars = withOffset ? bound.vars : bound.net.variables;
    const weights = new Float32Array(vars.reduce((a, v) => a + v.size, 0));
    let at = 0;
    for (const v of vars) {
      weights.set((await v.data()) as Float32Array, at);
      at += v.size;
    }
    return weights;
  }

  /** net(x) for the bound net with its current weights, the batch split over every thread. */
  async forward(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    const bound = this.bound;
    if (!bound) throw new Error('StepPool.forward before bind');
    const n = x.shape[0];
    const parts = Math.min(this.threads, n);
    const cut = (i: number) => Math.round((i * n) / parts);
    const weights = await this.weights(false);
    const xs = (await x.data()) as Float32Array;
    const xRow = x.size / n;
    const replies = this.replicas.slice(0, parts - 1).map((r, i) => {
      const from = cut(i + 1);
      const to = cut(i + 2);
      const xPart = rowsOf(xs, xRow, from, to);
      return r.request({ type: 'forward', weights, x: xPart, xShape: [to - from, ...x.shape.slice(1)] }, [xPart.buffer as ArrayBuffer]);
    });
    const m0 = cut(1);
    const own = tf.tidy(() => bound.net.apply(tf.slice(x, 0, m0)));
    const outRow = own.size / m0;
    const outShape = own.shape.slice(1) as [number, number, number];
    const out = new Float32Array(n * outRow);
    try {
      out.set((await own.data()) as Float32Array, 0);
    } finally {
      own.dispose();
    }
    placeOutputs(await settle(replies), cut, outRow, out, 'forward pass');
    return tf.tensor4d(out, [n, ...outShape]);
  }

  /**
   * The bound net's output on n standardised images (unscaled into f's units by `std` when
   * `unscale`), flat: the images are split into one contiguous part per thread, and every thread
   * standardises and predicts its part in batches of `batch` (one message per thread, where
   * `forward` sends one per batch). `images(from, to)` gives rows [from, to) raw and flat; `own(to)`
   * predicts rows [0, to) on this thread.
   */
  async predict(
    n: number,
    outRow: number,
    inShape: [number, number, number],
    std: Standardizer,
    unscale: boolean,
    batch: number,
    images: (from: number, to: number) => Float32Array,
    own: (to: number) => Promise<Float32Array>,
  ): Promise<Float32Array> {
    if (!this.bound) throw new Error('StepPool.predict before bind');
    const parts = Math.min(this.threads, n);
    const cut = (i: number) => Math.round((i * n) / parts);
    const weights = await this.weights(false);
    const replies = this.replicas.slice(0, parts - 1).map((r, i) => {
      const from = cut(i + 1);
      const to = cut(i + 2);
      const x = images(from, to);
      return r.request({ type: 'predict', weights, x, xShape: [to - from, ...inShape], std, unscale, batch }, [x.buffer as ArrayBuffer]);
    });
    const out = new Float32Array(n * outRow);
    out.set(await own(cut(1)), 0);
    placeOutputs(await settle(replies), cut, outRow, out, 'prediction');
    return out;
  }

  /**
   * Shares the samples the bound order-0 net's least squares is fitted on (closedForm.ts): of
   * rows [0, n), in batches of `batch`, each worker keeps one contiguous part (`rows(from, to)`: raw images and targets,
   * flat) for the passes that `moments` asks for; the caller keeps the first part, whose end this
   * returns.
   */
  async shareSolve(
    n: number,
    inShape: [number, number, number],
    outShape: [number, number, number],
    std: Standardizer,
    batch: number,
    rows: (from: number, to: number) => { x: Float32Array; y: Float32Array },
  ): Promise<number> {
    if (!this.bound) throw new Error('StepPool.shareSolve before bind');
    // Parts end on whole batches: each batch is then the one-thread solve's batch, summed in float32
    // to the same numbers, and only the float64 sums of the parts are added in another order.
    const batches = Math.ceil(n / batch);
    const parts = Math.min(this.threads, batches);
    const cut = (i: number) => Math.min(n, Math.round((i * batches) / parts) * batch);
    this.solvers = this.replicas.slice(0, parts - 1);
    await Promise.all(
      this.solvers.map((r, i) => {
        const from = cut(i + 1);
        const to = cut(i + 2);
        const { x, y } = rows(from, to);
        return r.request({ type: 'solveData', x, xShape: [to - from, ...inShape], y, yShape: [to - from, ...outShape], std, batch }, [
          x.buffer as ArrayBuffer,
          y.buffer as ArrayBuffer,
        ]);
      }),
    );
    return cut(1);
  }

  /** Every worker's moment sums for point `index` of the bound net's linear chain on its share (shareSolve), with the net's current weights. */
  async moments(index: number, withTargets: boolean): Promise<Array<MomentSums | undefined>> {
    const weights = await this.weights(false);
    const replies = await Promise.all(this.solvers.map((r) => r.request({ type: 'moments', weights, index, withTargets })));
    return replies.map((m) => {
      if (m.type !== 'moments') throw new Error('training thread gave no moments for the least squares');
      return m.sums;
    });
  }

  /** Whether `net` is the one bound (a forward pass of it can use the pool). */
  isBound(net: Disentangler): boolean {
    return this.bound?.net === net;
  }

  /** Makes this the pool of the training run in progress (see applyNet). */
  activate(): void {
    StepPool.active = this;
  }

  /** The pool of the training run in progress, if any. */
  static current(): StepPool | undefined {
    return StepPool.active;
  }

  async close(): Promise<void> {
    if (StepPool.active === this) StepPool.active = undefined;
    await Promise.all(this.replicas.map((r) => r.close()));
  }
}

/**
 * net(x), split over the threads of the training run in progress when `net` is the one it has
 * bound and the batch is large enough to share, otherwise on this thread.
 */
export async function applyNet(net: Disentangler, x: tf.Tensor4D): Promise<tf.Tensor4D> {
  const active = StepPool.current();
  if (active && active.isBound(net) && x.shape[0] >= 2 * active.threads) return active.forward(x);
  return net.apply(x);
}
