/** The words of a progress event, for the notification and the status bar. Pure, so unit tests read it. */
import type { ProgressParams } from '../../shared/engineProtocol';

type ProgressEvent = Omit<ProgressParams, 'progressToken'>;

/** The stage, with the order's place in the run when the engine says it: "order 8 (4 of 8)". */
export function stageText(p: ProgressEvent): string {
  return p.orderIndex !== undefined && p.orderCount !== undefined ? `${p.stage} (${p.orderIndex} of ${p.orderCount})` : p.stage;
}

/** e.g. "order 8 (4 of 8) · epoch 12 · loss 3.10e-2 (45%)". */
export function progressMessage(p: ProgressEvent): string {
  const parts = [stageText(p)];
  if (p.epoch !== undefined) parts.push(`epoch ${p.epoch}`);
  if (p.loss !== undefined) parts.push(`loss ${p.loss.toExponential(2)}`);
  return `${parts.join(' · ')} (${Math.round(p.fraction * 100)}%)`;
}
