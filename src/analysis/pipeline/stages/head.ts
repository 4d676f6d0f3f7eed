/** The teacher's head as the metrics need it: logits (log-probabilities for a softmax head). */
import { tf } from '../../tf/backend';
import type { Teacher } from '../../teacher/teacher';

/**
 * head(feature) as log-probabilities when the model ends in a softmax, raw logits otherwise:
 * logSoftmax of either gives the same cross-entropy as the teacher's own loss (taskLoss clips
 * probabilities at 1e-7 the same way).
 *
 * A TF.js/Keras head is applied to the whole batch at once: `predict` would cut the Shapley
 * evaluator's large batches into slices of 32, and each slice on wasm copies its whole input
 * (measured on a zoo model: 70 s for 32 coalitions through `runHead`).
 */
export function logitHead(teacher: Teacher): (feature: tf.Tensor) => Promise<tf.Tensor> {
  const layers = teacher.head;
  return async (feature) => {
    const out = layers ? tf.tidy(() => layers.apply(feature, { training: false }) as tf.Tensor) : await teacher.runHead(feature as tf.Tensor4D);
    if (!teacher.probabilities) return out;
    const logp = tf.tidy(() => tf.log(tf.clipByValue(out, 1e-7, 1)));
    out.dispose();
    return logp;
  };
}
