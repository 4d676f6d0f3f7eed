/**
 * Substitution (METHOD.md §4, paper Exp. 4): the head is fed Φ⁽ˡ⁾(x) instead of the target
 * feature f(x); its test accuracy and loss say how much of the task the components up to order
 * l carry.
 */
import { tf } from '../tf/backend';

export interface SubstitutionEntry {
  order: number;
  testAccuracy: number;
  testLoss: number;
}

/**
 * Accuracy and mean cross-entropy of `head` on `feature` ([N, ...featureShape]) against `labels`.
 * `head` returns logits (or log-probabilities); samples go through in batches of `batch`.
 */
export async function headScore(
  feature: tf.Tensor,
  labels: ArrayLike<number>,
  head: (f: tf.Tensor) => Promise<tf.Tensor>,
  batch = 512,
): Promise<{ accuracy: number; loss: number }> {
  const n = feature.shape[0];
  if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} samples`);
  if (n === 0) throw new RangeError('no samples to score');
  let correct = 0;
  let loss = 0;
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    const part = tf.slice(feature, s, b);
    const logits = await head(part);
    const y = tf.tensor1d(
      Int32Array.from({ length: b }, (_, i) => labels[s + i]),
      'int32',
    );
    const [ce, hits] = tf.tidy(() => {
      const logp = tf.logSoftmax(logits as tf.Tensor2D);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(y, logp.shape[1])), 1);
      return [tf.neg(tf.sum(picked)), tf.sum(tf.cast(tf.equal(tf.argMax(logp, 1), y), 'float32'))];
    });
    loss += (await ce.data())[0];
    correct += (await hits.data())[0];
    tf.dispose([part, logits, y, ce, hits]);
  }
  return { accuracy: correct / n, loss: loss / n };
}

/** One entry per order: the head's test accuracy and loss on Φ⁽ˡ⁾(x). */
export async function substitution(
  orders: readonly number[],
  phis: (k: number) => tf.Tensor,
  labels: ArrayLike<number>,
  head: (f: tf.Tensor) => Promise<tf.Tensor>,
  onOrder?: (k: number) => void,
): Promise<SubstitutionEntry[]> {
  const out: SubstitutionEntry[] = [];
  for (let k = 0; k < orders.length; k++) {
    const phi = phis(k);
    try {
      const s = await headScore(phi, labels, head);
      out.push({ order: orders[k], testAccuracy: s.accuracy, testLoss: s.loss });
    } finally {
      phi.dispose();
    }
    onOrder?.(k);
  }
  return out;
}
