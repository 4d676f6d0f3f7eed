/**
 * Effectiveness of each component (METHOD.md §2): how much training loss it removes per unit
 * of its own strength, α_effective⁽ˡ⁾ = φ_train(c⁽ˡ⁾) / sqrt(Var[c⁽ˡ⁾]).
 */

export interface EffectivenessEntry {
  order: number;
  phiTrain: number;
  /** null when the component has no variance (the ratio is undefined). */
  alpha: number | null;
}

/**
 * `phiTrain[i]` and `variance[i]` belong to `orders[i]`; further entries (the residue Δf, which is
 * a player of the game but has no order) are ignored. `variance` is Var[c] = E‖c − E c‖², summed
 * over the feature dimensions, on the split whose loss defined φ_train (the training split).
 */
export function effectiveness(orders: readonly number[], phiTrain: ArrayLike<number>, variance: ArrayLike<number>): EffectivenessEntry[] {
  if (phiTrain.length < orders.length || variance.length < orders.length) {
    throw new RangeError(`${orders.length} orders but ${phiTrain.length} Shapley values and ${variance.length} variances`);
  }
  return orders.map((order, i) => {
    const v = variance[i];
    if (v < 0) throw new RangeError(`negative variance ${v} for order ${order}`);
    return { order, phiTrain: phiTrain[i], alpha: ratio(phiTrain[i], Math.sqrt(v)) };
  });
}

/** a / b, or null where that is not a finite number (JSON has no NaN). */
export function ratio(a: number, b: number): number | null {
  const r = a / b;
  return Number.isFinite(r) ? r : null;
}
