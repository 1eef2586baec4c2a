import { checkAlpha, DEFAULT_ALPHA } from "./compare";
import { fairCoinLowerTail, normalQuantile } from "./distributions";

// Interleaving verdict: each query where one ranker's results won more clicks is a "win"; ties
// carry no preference and are dropped (Chapelle, Joachims, Radlinski & Yue 2012, "Large-scale
// validation and analysis of interleaved search evaluation", TOIS). Under "no preference" the
// wins of A are Binomial(n, 1/2): the exact two-sided sign test is p = min(1, 2·P(X ≤ min(a, b))).
// The share of A's wins gets a Wilson score interval (Wilson 1927, JASA 22; recommended over the
// Wald interval by Agresti & Coull 1998, it stays inside [0, 1] and behaves near 0 and 1):
//   centre = (p̂ + z²/2n)/(1 + z²/n),  half-width = z/(1 + z²/n)·√(p̂(1 − p̂)/n + z²/4n²).

export interface SignTestResult {
  /** Exact two-sided binomial p-value of "no preference". */
  pValue: number;
  /** winsA / (winsA + winsB); NaN without decisive comparisons. */
  shareA: number;
  /** Wilson score interval for shareA at level 1 − alpha. */
  ci: readonly [number, number];
  /** Decisive comparisons (ties excluded). */
  n: number;
  significant: boolean;
}

/** Sign test on interleaving wins of ranker A against ranker B, ties already excluded. */
export function signTest(winsA: number, winsB: number, alpha = DEFAULT_ALPHA): SignTestResult {
  checkAlpha(alpha);
  for (const w of [winsA, winsB]) if (!(Number.isInteger(w) && w >= 0)) throw new RangeError(`wins must be non-negative integers, got ${w}`);
  const n = winsA + winsB;
  if (n === 0) return { pValue: 1, shareA: NaN, ci: [0, 1], n, significant: false };
  const pValue = Math.min(1, 2 * fairCoinLowerTail(Math.min(winsA, winsB), n));
  const share = winsA / n;
  const z = normalQuantile(1 - alpha / 2);
  const z2n = (z * z) / n;
  const centre = (share + z2n / 2) / (1 + z2n);
  const halfWidth = (z / (1 + z2n)) * Math.sqrt((share * (1 - share)) / n + z2n / (4 * n));
  return { pValue, shareA: share, ci: [Math.max(0, centre - halfWidth), Math.min(1, centre + halfWidth)], n, significant: pValue < alpha };
}
