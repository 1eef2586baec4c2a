import { quantileSorted } from "./describe";
import { binomialLowerTail } from "./distributions";

// Distribution-free confidence intervals for quantiles of a sample, from order statistics:
// the number B of observations below the true q-quantile ξ is Binomial(n, q), so
// P(X₍ₗ₎ ≤ ξ ≤ X₍ᵤ₎) = P(l ≤ B ≤ u − 1) whatever the distribution (Hahn & Meeker, Statistical
// Intervals, 1991, §5.2; the interval Kayenta-style judges need for latency percentiles).

export interface QuantileInterval {
  estimate: number;
  lower: number;
  upper: number;
  /** The coverage the chosen ranks actually give (≥ the level asked for). */
  coverage: number;
}

/**
 * A distribution-free interval for the q-quantile from an ascending sample, with coverage ≥
 * `level`: ranks l (largest with P(B ≤ l − 1) ≤ (1 − level)/2) and u (smallest with
 * P(B ≤ u − 1) ≥ 1 − (1 − level)/2). Null when the sample is too small for such ranks to exist
 * (e.g. a p95 at 97.5 % needs about 72 values).
 */
export function quantileInterval(sorted: readonly number[], q: number, level: number): QuantileInterval | null {
  const n = sorted.length;
  if (!(q > 0 && q < 1)) throw new RangeError(`q must be in (0, 1), got ${q}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  if (n === 0) return null;
  const tail = (1 - level) / 2;
  const cdf = (k: number) => binomialLowerTail(k, n, q); // P(B ≤ k)
  // Search outwards from the mode; the ranks lie within a few sd of n·q.
  const mode = Math.floor(n * q);
  let l = Math.min(n, mode + 1);
  while (l >= 1 && cdf(l - 1) > tail) l--;
  if (l < 1) return null;
  let u = Math.max(1, mode);
  while (u <= n && cdf(u - 1) < 1 - tail) u++;
  if (u > n) return null;
  return { estimate: quantileSorted(sorted, q), lower: sorted[l - 1]!, upper: sorted[u - 1]!, coverage: cdf(u - 1) - cdf(l - 1) };
}
