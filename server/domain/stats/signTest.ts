import { checkAlpha, DEFAULT_ALPHA } from "./compare";
import { binomialLowerTail, fairCoinLowerTail } from "./distributions";
import { alwaysValidPValue, confidenceSequenceHalfWidth, mixtureVariance } from "./sequential";

// Interleaving verdict: each query where one ranker's results won more clicks is a "win"; ties
// carry no preference and are dropped (Chapelle, Joachims, Radlinski & Yue 2012, "Large-scale
// validation and analysis of interleaved search evaluation", TOIS). Under "no preference" the
// wins of A are Binomial(n, 1/2).
//
// Each test reports the interval that inverts it, so the p-value and the interval shown together
// agree (½ is outside the interval exactly when p < α):
// - signTest, read once: the exact two-sided test p = min(1, 2·P(X ≤ min(a, b))) and the
//   Clopper–Pearson interval (Clopper & Pearson 1934, Biometrika 26), which inverts it: the shares
//   p₀ where neither tail is below α/2. (The Wilson interval shown before could exclude ½ beside
//   p = 0.057 at 60 wins to 40.)
// - sequentialSignTest, read at every look: the mixture SPRT of sequential.ts on the share, whose
//   variance under "no preference" is known, 1/(4n); its confidence sequence is the share's.

export interface SignTestResult {
  /** Two-sided p-value of "no preference" (exact, or always valid for the sequential test). */
  pValue: number;
  /** winsA / (winsA + winsB); NaN without decisive comparisons. */
  shareA: number;
  /** Interval for shareA at level 1 − alpha that inverts the same test. */
  ci: readonly [number, number];
  /** Decisive comparisons (ties excluded). */
  n: number;
  significant: boolean;
}

function checkWins(winsA: number, winsB: number, alpha: number): void {
  checkAlpha(alpha);
  for (const w of [winsA, winsB]) if (!(Number.isInteger(w) && w >= 0)) throw new RangeError(`wins must be non-negative integers, got ${w}`);
}

/**
 * Decisive comparisons at which the sequential sign test's interval is tightest. Any value keeps
 * the test valid; it only moves where its power is best. Tuned for the A/B default of 5,000, a run
 * of 60 straight wins would not yet be a call; at 250, 18 are, and a 55 % share is called after
 * about 1,000 comparisons (940 at the best target).
 */
export const DEFAULT_TARGET_DECISIVE_COMPARISONS = 250;

const NO_COMPARISONS: SignTestResult = { pValue: 1, shareA: NaN, ci: [0, 1], n: 0, significant: false };

/** The p in [0, 1] where an increasing function of p crosses `target` (bisection to machine precision). */
function solveIncreasing(f: (p: number) => number, target: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Exact sign test on interleaving wins of ranker A against ranker B, ties already excluded, valid
 * when read once (at a sample fixed in advance), with the Clopper–Pearson interval for A's share:
 * lower end solves P(X ≥ a | p) = α/2, upper end P(X ≤ a | p) = α/2 (0 and 1 at the edges).
 */
export function signTest(winsA: number, winsB: number, alpha = DEFAULT_ALPHA): SignTestResult {
  checkWins(winsA, winsB, alpha);
  const n = winsA + winsB;
  if (n === 0) return NO_COMPARISONS;
  const pValue = Math.min(1, 2 * fairCoinLowerTail(Math.min(winsA, winsB), n));
  const lower = winsA === 0 ? 0 : solveIncreasing((p) => 1 - binomialLowerTail(winsA - 1, n, p), alpha / 2);
  const upper = winsA === n ? 1 : solveIncreasing((p) => -binomialLowerTail(winsA, n, p), -alpha / 2);
  return { pValue, shareA: winsA / n, ci: [lower, upper], n, significant: pValue < alpha };
}

/**
 * Always-valid sign test, safe to read after every batch: the mixture SPRT (Johari et al. 2022; see
 * sequential.ts) on Â − ½, with Â = a/n A's share and V = 1/(4n) its variance under "no
 * preference", τ² tuned to the variance at `targetComparisons` decisive comparisons. p = min(1, 1/Λ); the interval is Â ± the confidence sequence's half-width, clipped to [0, 1].
 */
export function sequentialSignTest(winsA: number, winsB: number, alpha = DEFAULT_ALPHA, targetComparisons = DEFAULT_TARGET_DECISIVE_COMPARISONS): SignTestResult {
  checkWins(winsA, winsB, alpha);
  const n = winsA + winsB;
  if (n === 0) return NO_COMPARISONS;
  const share = winsA / n;
  const variance = 1 / (4 * n);
  const tau2 = mixtureVariance(alpha, 1 / (4 * targetComparisons));
  const pValue = alwaysValidPValue(share - 0.5, variance, tau2);
  const half = confidenceSequenceHalfWidth(variance, tau2, alpha);
  return { pValue, shareA: share, ci: [Math.max(0, share - half), Math.min(1, share + half)], n, significant: pValue < alpha };
}
