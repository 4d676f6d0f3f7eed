/**
 * A training thread of parallel.ts: a replica of the disentangler on its own backend. Each step
 * message brings the current weights and this thread's slice of the batch; the reply is the
 * slice's mean loss and its gradient for every variable, flat, in the net's variable order (the
 * per-position offset last).
 */
import { parentPort } from 'node:worker_threads';
import { tf, useBackend } from '../tf/backend';
import { Disentangler, squaredError } from './disentangler';
import type { FromWorker, ToWorker } from './parallel';
import { headsLoss } from '../metrics/reliability';
import { predictStandardised, standardInput, standardTarget } from './standardize';
import { sumMoments } from './closedForm';

const port = parentPort;
if (!port) throw new Error('trainWorker runs as a worker thread');

let net: Disentangler | undefined;
let offset: tf.Variable | undefined;
/** The joint loss's heads A_k (reliabilityTrain.ts), after the offset in the variable order. */
let heads: tf.Variable<tf.Rank.R2>[] = [];
/** This thread's share of the samples of the order-0 net's least squares (parallel.ts shareSolve). */
let solveData: Extract<ToWorker, { type: 'solveData' }> | undefined;

function reply(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

/** Sets the replica's variables (the offset last, unless left out) from one flat array; returns them in that order. */
function setWeights(current: Disentangler, weights: Float32Array, withOffset = true): tf.Variable[] {
  const vars = withOffset ? [...current.variables, ...(offset ? [offset] : []), ...heads] : current.variables;
  let at = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(weights.subarray(at, at + v.size), v.shape));
      at += v.size;
    }
  });
  return vars;
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init':
      await useBackend(m.backend);
      reply({ type: 'ready' });
      return;
    case 'net':
      net?.dispose();
      offset?.dispose();
      tf.dispose(heads);
      offset = undefined;
      solveData = undefined;
      // The initial weights do not matter: every step sets them.
      net = Disentangler.create(m.spec, 0);
      if (m.offsetShape) offset = tf.variable(tf.zeros(m.offsetShape), true);
      heads = (m.headShapes ?? []).map((s) => tf.variable(tf.zeros(s), true) as tf.Variable<tf.Rank.R2>);
      reply({ type: 'ready' });
      return;
    case 'forward': {
      if (!net) throw new Error('forward before net');
      setWeights(net, m.weights, false);
      const x = tf.tensor4d(m.x, m.xShape as [number, number, number, number]);
      const y = net.apply(x);
      try {
        // Copied, not transferred: on the cpu backend data() is the tensor's own storage.
        reply({ type: 'forward', y: (await y.data()) as Float32Array });
      } finally {
        tf.dispose([x, y]);
      }
      return;
    }
    case 'predict': {
      if (!net) throw new Error('predict before net');
      setWeights(net, m.weights, false);
      const y = await predictStandardised(net, m.x, m.xShape as [number, number, number, number], m.std, m.unscale, m.batch);
      reply({ type: 'forward', y }, [y.buffer as ArrayBuffer]);
      return;
    }
    case 'solveData':
      solveData = m;
      reply({ type: 'ready' });
      return;
    case 'moments': {
      const chain = net?.linearChain();
      if (!net || !chain || !solveData) throw new Error('moments before an order-0 net and its samples');
      setWeights(net, m.weights, false);
      const { x, xShape, y, yShape, std, batch } = solveData;
      const [n, ...inShape] = xShape as [number, number, number, number];
      const outShape = yShape.slice(1) as [number, number, number];
      const inSize = x.length / n;
      const outSize = y.length / n;
      const sums = await sumMoments(
        chain[m.index],
        async (visit) => {
          for (let s = 0; s < n; s += batch) {
            const k = Math.min(batch, n - s);
            const xs = tf.tidy(() => standardInput(tf.tensor4d(x.subarray(s * inSize, (s + k) * inSize), [k, ...inShape]), std));
            const ys = tf.tidy(() => standardTarget(tf.tensor4d(y.subarray(s * outSize, (s + k) * outSize), [k, ...outShape]), std));
            try {
              await visit(xs, ys);
            } finally {
              tf.dispose([xs, ys]);
            }
          }
        },
        m.withTargets,
      );
      reply({ type: 'moments', sums }, sums ? [sums.xx, sums.xy, sums.sx, sums.sy, sums.px, sums.py].map((a) => a.buffer as ArrayBuffer) : []);
      return;
    }
    case 'step': {
      if (!net) throw new Error('step before net');
      const current = net;
      const vars = setWeights(current, m.weights);
      const x = tf.tensor4d(m.x, m.xShape as [number, number, number, number]);
      const y = tf.tensor4d(m.y, m.yShape as [number, number, number, number]);
      const loss = (): tf.Scalar =>
        heads.length
          ? headsLoss(
              current.apply(x),
              heads,
              tf.split(
                y,
                heads.map((h) => h.shape[1]),
                3,
              ),
            )
          : squaredError(current, x, y, offset);
      const { value, grads } = tf.variableGrads(loss, vars);
      try {
        const flat = new Float32Array(m.weights.length);
        let off = 0;
        for (const v of vars) {
          flat.set((await grads[v.name].data()) as Float32Array, off);
          off += v.size;
        }
        reply({ type: 'step', loss: (await value.data())[0], grads: flat }, [flat.buffer]);
      } finally {
        tf.dispose([x, y, value, ...Object.values(grads)]);
      }
      return;
    }
  }
}

// Messages are handled one at a time, in order.
let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m).catch((e: unknown) => reply({ type: 'error', message: e instanceof Error ? e.message : String(e) })));
});
