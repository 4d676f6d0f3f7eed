/** The teacher's head as the metrics need it: logits (log-probabilities for a softmax head). */
import { tf } from '../backend';
import type { Teacher } from '../teacher';

/**
 * head(feature) as log-probabilities when the model ends in a softmax, raw logits otherwise:
 * logSoftmax of either gives the same cross-entropy as the teacher's own loss (taskLoss clips
 * probabilities at 1e-7 the same way).
 */
export function logitHead(teacher: Teacher): (feature: tf.Tensor) => Promise<tf.Tensor> {
  return async (feature) => {
    const out = await teacher.runHead(feature as tf.Tensor4D);
    if (!teacher.probabilities) return out;
    const logp = tf.tidy(() => tf.log(tf.clipByValue(out, 1e-7, 1)));
    out.dispose();
    return logp;
  };
}
