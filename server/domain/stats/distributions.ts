import betainc from "@stdlib/math-base-special-betainc";
import erfc from "@stdlib/math-base-special-erfc";
import gammainc from "@stdlib/math-base-special-gammainc";
import normalInverse from "@stdlib/stats-base-dists-normal-quantile";
import studentTInverse from "@stdlib/stats-base-dists-t-quantile";

// The one place the distribution functions are imported, so the rest of the stats module speaks in
// test terms (two-sided p-value, quantile). stdlib's special functions are ports of Boost/Cephes:
// the regularized incomplete beta and gamma are accurate to a few ulps over the whole range, so the
// t distribution is used at every df (a normal stand-in beyond df = 1e6 moved p-values in the 7th
// digit: issue #13, point 6) and tails are computed directly, not as 1 − CDF, so p-values of 1e-300
// keep their digits. Checked against scipy in goldenCases.test.ts.

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  // Φ(z) = erfc(−z/√2)/2 (Abramowitz & Stegun 26.2.29): no cancellation in the lower tail.
  return 0.5 * erfc(-z / Math.SQRT2);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Standard normal density φ(z). */
export function normalDensity(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/** Standard normal quantile Φ⁻¹(p). */
export function normalQuantile(p: number): number {
  return normalInverse(p, 0, 1);
}

/** Two-sided p-value of a z statistic: P(|Z| ≥ |z|) = erfc(|z|/√2). */
export function normalTwoSidedPValue(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Two-sided p-value of a t statistic with `df` degrees of freedom (df may be fractional; Infinity is the normal). */
export function studentTTwoSidedPValue(t: number, df: number): number {
  if (df === Infinity) return normalTwoSidedPValue(t);
  // P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2) (Abramowitz & Stegun 26.7.1 via 26.5.27); computing the
  // tail directly avoids the 1 − CDF cancellation for small p-values. When x is near 1 (df ≫ t²)
  // the complement 1 − x = t²/(df + t²) is the one formed without rounding, so the symmetric form
  // I_x(a, b) = 1 − I_{1−x}(b, a) is used there (at df = 1e12 the direct form loses 6 digits).
  const t2 = t * t;
  const x = df / (df + t2);
  return x < 0.5 ? betainc(x, df / 2, 0.5, true, false) : betainc(t2 / (df + t2), 0.5, df / 2, true, true);
}

/** Student-t quantile t_p(df) (df may be fractional; Infinity is the normal). */
export function studentTQuantile(p: number, df: number): number {
  if (df === Infinity) return normalQuantile(p);
  return studentTInverse(p, df);
}

/** Upper tail of the chi-square distribution, P(χ²_df ≥ x) = Q(df/2, x/2) (regularized upper incomplete gamma). */
export function chiSquareUpperTail(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, df / 2, true, true);
}

/** P(X ≤ k) for X ~ Binomial(n, p); p defaults to 1/2 (a fair coin). */
export function binomialLowerTail(k: number, n: number, p = 0.5): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  // P(X ≤ k) = I_{1−p}(n − k, k + 1) (Abramowitz & Stegun 26.5.24): O(1) instead of summing k terms.
  return betainc(1 - p, n - k, k + 1, true, false);
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
export function fairCoinLowerTail(k: number, n: number): number {
  return binomialLowerTail(k, n, 0.5);
}
