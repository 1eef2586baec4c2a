// Adjusted p-values across the metrics (or variants) of one experiment, so that "significant"
// means adjusted p < α. Both return values in the input order, capped at 1, and match R's
// p.adjust(method = "holm" / "BH").

function checkPValues(pValues: readonly number[]): void {
  for (const p of pValues) if (!(p >= 0 && p <= 1)) throw new RangeError(`p-values must be in [0, 1], got ${p}`);
}

/** Indices of `pValues` sorted by increasing p (stable). */
function ascendingOrder(pValues: readonly number[]): number[] {
  return pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]! || a - b);
}

/**
 * Holm's step-down adjustment, controlling the family-wise error rate (Holm 1979, "A simple
 * sequentially rejective multiple test procedure"): with p₍₁₎ ≤ … ≤ p₍ₘ₎,
 *   p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  checkPValues(pValues);
  const m = pValues.length;
  const adjusted = new Array<number>(m);
  let running = 0;
  ascendingOrder(pValues).forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]!));
    adjusted[index] = running;
  });
  return adjusted;
}

/**
 * Benjamini–Hochberg step-up adjustment, controlling the false discovery rate (Benjamini &
 * Hochberg 1995, JRSS B 57(1)): p̃₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎/j).
 */
export function benjaminiHochbergAdjust(pValues: readonly number[]): number[] {
  checkPValues(pValues);
  const m = pValues.length;
  const adjusted = new Array<number>(m);
  const order = ascendingOrder(pValues);
  let running = 1;
  for (let rank = m - 1; rank >= 0; rank--) {
    const index = order[rank]!;
    running = Math.min(running, (m * pValues[index]!) / (rank + 1));
    // m·p/m can round a hair below p; the adjusted value is never below the raw one.
    adjusted[index] = Math.max(running, pValues[index]!);
  }
  return adjusted;
}

export type Correction = "holm" | "benjamini-hochberg";

/** Adjust p-values with Holm (family-wise error) or Benjamini–Hochberg (false discovery rate). */
export function adjustPValues(pValues: readonly number[], correction: Correction): number[] {
  return correction === "holm" ? holmAdjust(pValues) : benjaminiHochbergAdjust(pValues);
}
