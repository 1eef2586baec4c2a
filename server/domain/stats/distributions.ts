import jStat from "jstat";

// The one place the distributions library is used, so the rest of the stats module speaks in
// test terms (two-sided p-value, quantile) and the library's numerical weak spots are handled once.
//
// Precision we rely on (checked in distributions.test.ts): jstat's incomplete beta stops its
// continued fraction at a relative step of 3e-7, so t and binomial tails are good to ~1e-8 relative;
// its erfc is 1 − erf, so normal tails are good to ~1e-16 absolute (a p-value of 1e-20 reads as 0).
// Both are far finer than any decision threshold (α, α/m for Holm over many metrics, SRM's 0.001).

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  // Φ(z) = erfc(−z/√2)/2 (Abramowitz & Stegun 26.2.29).
  return 0.5 * jStat.erfc(-z / Math.SQRT2);
}

/** Standard normal density φ(z). */
export function normalDensity(z: number): number {
  return jStat.normal.pdf(z, 0, 1);
}

/** Standard normal quantile Φ⁻¹(p). */
export function normalQuantile(p: number): number {
  return jStat.normal.inv(p, 0, 1);
}

/** Two-sided p-value of a z statistic: P(|Z| ≥ |z|) = erfc(|z|/√2). */
export function normalTwoSidedPValue(z: number): number {
  return jStat.erfc(Math.abs(z) / Math.SQRT2);
}

// jstat's Student-t quantile drifts for df ≳ 1e8 (its incomplete-beta inversion loses precision),
// while t(df) and N(0, 1) quantiles differ by about (z³ + z)/(4·df) < 3e-6 at df = 1e6: use the
// normal beyond that. Welch df reaches millions on big experiments, so this path is not academic.
const NORMAL_DF = 1e6;

/** Two-sided p-value of a t statistic with `df` degrees of freedom (df may be fractional). */
export function studentTTwoSidedPValue(t: number, df: number): number {
  if (!(df < NORMAL_DF)) return normalTwoSidedPValue(t);
  // P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2) (Abramowitz & Stegun 26.7.1 via 26.5.27); computing the
  // tail directly avoids the 1 − CDF cancellation for small p-values.
  return jStat.ibeta(df / (df + t * t), df / 2, 0.5);
}

/** Student-t quantile t_p(df). */
export function studentTQuantile(p: number, df: number): number {
  if (!(df < NORMAL_DF)) return normalQuantile(p);
  return jStat.studentt.inv(p, df);
}

/** Upper tail of the chi-square distribution, P(χ²_df ≥ x). */
export function chiSquareUpperTail(x: number, df: number): number {
  if (x <= 0) return 1;
  return Math.max(0, 1 - jStat.chisquare.cdf(x, df));
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
export function fairCoinLowerTail(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  // P(X ≤ k) = I_{1−p}(n − k, k + 1) (Abramowitz & Stegun 26.5.24): O(1) instead of summing k terms.
  return jStat.ibeta(0.5, n - k, k + 1);
}
