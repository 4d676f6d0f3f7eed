/**
 * Over-fitting of each component (METHOD.md §2): the increase of the test–train loss gap per
 * unit of training-loss decrease that the component brings, α_overfit⁽ˡ⁾ = φ_gap(c⁽ˡ⁾) / φ_train(c⁽ˡ⁾).
 */
import { ratio } from './effectiveness';

export interface OverfittingEntry {
  order: number;
  phiGap: number;
  /** null when φ_train is 0 (the ratio is undefined). */
  alpha: number | null;
}

/** `phiGap[i]` and `phiTrain[i]` belong to `orders[i]`; trailing players (the residue) are ignored. */
export function overfitting(orders: readonly number[], phiGap: ArrayLike<number>, phiTrain: ArrayLike<number>): OverfittingEntry[] {
  if (phiGap.length < orders.length || phiTrain.length < orders.length) {
    throw new RangeError(`${orders.length} orders but ${phiGap.length} gap and ${phiTrain.length} train Shapley values`);
  }
  return orders.map((order, i) => ({ order, phiGap: phiGap[i], alpha: ratio(phiGap[i], phiTrain[i]) }));
}
