import { normalQuantile, normalTwoSidedPValue } from "./distributions";

// The Mann–Whitney U test (Wilcoxon rank-sum) and the Hodges–Lehmann estimate of the shift between
// two samples with its distribution-free confidence interval: what Kayenta's Mann–Whitney
// classifier compares a canary's metric with (R's wilcox.test(conf.int = TRUE) underneath). Rank
// based, so one slow outlier moves nothing but its own rank.

export interface MannWhitneyResult {
  /** U of the first sample x: the number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ, ties counting ½ (scipy's U1). */
  u: number;
  /** z of U under H0 with the tie-corrected variance and a continuity correction of ½. */
  z: number;
  /** Two-sided p-value from the normal approximation. */
  pValue: number;
  /** σ of U under H0, tie-corrected. */
  sigma: number;
}

/**
 * Mann–Whitney U test of x against y, normal approximation with the tie correction
 * σ² = n₁n₂/12 · ((N + 1) − Σ(t³ − t)/(N(N − 1))) and a continuity correction
 * (Hollander, Wolfe & Chicken, Nonparametric Statistical Methods, 3rd ed., §4.1; the same as
 * scipy.stats.mannwhitneyu(x, y, method="asymptotic")). Throws if a sample is empty.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  if (x.length === 0 || y.length === 0) throw new RangeError("mannWhitneyU needs two non-empty samples");
  return mannWhitneySorted(Float64Array.from(x).sort(), Float64Array.from(y).sort());
}

/** mannWhitneyU on samples sorted ascending: ranks by merging the two, ties given their mid-rank. */
function mannWhitneySorted(xs: Float64Array, ys: Float64Array): MannWhitneyResult {
  const n1 = xs.length;
  const n2 = ys.length;
  const n = n1 + n2;
  let rankSumX = 0;
  let tieTerm = 0;
  let i = 0;
  let j = 0;
  let rank = 0; // values ranked so far
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && xs[i]! <= ys[j]!) ? xs[i]! : ys[j]!;
    let inX = 0;
    while (i < n1 && xs[i] === v) {
      i++;
      inX++;
    }
    let inY = 0;
    while (j < n2 && ys[j] === v) {
      j++;
      inY++;
    }
    const t = inX + inY;
    rankSumX += inX * (rank + (t + 1) / 2);
    if (t > 1) tieTerm += t ** 3 - t;
    rank += t;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sigma === 0) return { u, z: 0, pValue: 1, sigma };
  const diff = u - mean;
  const z = (diff - 0.5 * Math.sign(diff)) / sigma;
  return { u, z, pValue: Math.min(1, normalTwoSidedPValue(z)), sigma };
}

/**
 * The k-th smallest (1-based) of the n₁n₂ differences xᵢ − yⱼ of sorted samples, without listing
 * them all: bisection over values, counting the differences ≤ d in O(n₁ + n₂) with two pointers
 * (fl(x − y) is monotone in each argument, so counts are exact in floating point), until few
 * differences lie between the bounds; those are listed and sorted.
 */
function kthDifference(xs: Float64Array, ys: Float64Array, k: number): number {
  const n1 = xs.length;
  const n2 = ys.length;
  // For each i, the first j with xᵢ − yⱼ ≤ d (it rises with i): the count is Σ (n₂ − that j).
  const countAtMost = (d: number) => {
    let count = 0;
    let j = 0;
    for (let i = 0; i < n1; i++) {
      while (j < n2 && xs[i]! - ys[j]! > d) j++;
      count += n2 - j;
    }
    return count;
  };
  let lo = xs[0]! - ys[n2 - 1]!; // the smallest difference
  let hi = xs[n1 - 1]! - ys[0]!; // the largest: count = n₁n₂
  let countLo = countAtMost(lo);
  if (countLo >= k) return lo;
  let countHi = n1 * n2;
  // Invariant: countLo < k ≤ countHi, so the answer lies in (lo, hi].
  const few = Math.max(n1 + n2, 1024);
  while (countHi - countLo > few) {
    const mid = lo + (hi - lo) / 2;
    // No double strictly between: every difference in (lo, hi] is hi (many equal differences: ties).
    if (mid <= lo || mid >= hi) return hi;
    const c = countAtMost(mid);
    if (c >= k) {
      hi = mid;
      countHi = c;
    } else {
      lo = mid;
      countLo = c;
    }
  }
  const between: number[] = [];
  let jHi = 0; // first j with xᵢ − yⱼ ≤ hi
  let jLo = 0; // first j with xᵢ − yⱼ ≤ lo
  for (let i = 0; i < n1; i++) {
    while (jHi < n2 && xs[i]! - ys[jHi]! > hi) jHi++;
    while (jLo < n2 && xs[i]! - ys[jLo]! > lo) jLo++;
    for (let j = jHi; j < jLo; j++) between.push(xs[i]! - ys[j]!);
  }
  between.sort((a, b) => a - b);
  return between[k - countLo - 1]!;
}

export interface ShiftEstimate {
  /** Hodges–Lehmann estimate of the shift of x against y: the median of all differences xᵢ − yⱼ. */
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
}

/**
 * Hodges–Lehmann shift estimate of x against y and its distribution-free confidence interval
 * [D₍ₖ₎, D₍ₙ₁ₙ₂₊₁₋ₖ₎] of the ordered pairwise differences, with k = ⌊n₁n₂/2 − z₁₋α/₂·σ_U⌋
 * (at least 1; σ_U tie-corrected as in mannWhitneyU) — Hollander, Wolfe & Chicken §4.3, the
 * large-sample form of Lehmann (1963). Units are those of the samples. Throws if a sample is empty
 * or the confidence is not in (0, 1).
 */
export function hodgesLehmann(x: readonly number[], y: readonly number[], confidence = 0.95): ShiftEstimate {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError("confidence must be in (0, 1)");
  if (x.length === 0 || y.length === 0) throw new RangeError("hodgesLehmann needs two non-empty samples");
  const xs = Float64Array.from(x).sort();
  const ys = Float64Array.from(y).sort();
  const { sigma } = mannWhitneySorted(xs, ys);
  const total = xs.length * ys.length;
  const estimate = total % 2 === 1
    ? kthDifference(xs, ys, (total + 1) / 2)
    : (kthDifference(xs, ys, total / 2) + kthDifference(xs, ys, total / 2 + 1)) / 2;
  const k = Math.max(1, Math.floor(total / 2 - normalQuantile(1 - (1 - confidence) / 2) * sigma));
  return { estimate, lower: kthDifference(xs, ys, k), upper: kthDifference(xs, ys, total + 1 - k), confidence };
}
