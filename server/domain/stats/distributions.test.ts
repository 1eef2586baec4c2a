import { describe, expect, it } from "vitest";
import {
  chiSquareUpperTail,
  fairCoinLowerTail,
  normalCdf,
  normalQuantile,
  normalTwoSidedPValue,
  studentTQuantile,
  studentTTwoSidedPValue,
} from "./distributions";

// Closed forms the wrapper must reproduce (Abramowitz & Stegun ch. 26), so a library swap or a
// wrong parameterisation shows up here rather than as a skewed experiment verdict.
describe("distribution wrapper", () => {
  it("normal: Φ(1.959964) = 0.975 and the two-sided tail at 1 is erfc(1/√2) = 0.3173105", () => {
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 9);
    expect(normalTwoSidedPValue(-1)).toBeCloseTo(0.3173105078629141, 12);
    // Tails are good to ~1e-16 absolute: P(|Z| ≥ 5) = 5.733031e-7 (tabulated), P(|Z| ≥ 10) ≈ 1.5e-23 reads ≈ 0.
    expect(normalTwoSidedPValue(5)).toBeCloseTo(5.733031e-7, 12);
    expect(normalTwoSidedPValue(10)).toBeLessThan(1e-15);
  });

  it("Student t with 1 df is Cauchy: P(|T| ≥ t) = 1 − (2/π)·atan(t)", () => {
    // t = 1: 1 − (2/π)(π/4) = 0.5; t = 3: 1 − (2/π)·1.2490458 = 0.2048328.
    expect(studentTTwoSidedPValue(1, 1)).toBeCloseTo(0.5, 7);
    expect(studentTTwoSidedPValue(3, 1)).toBeCloseTo(1 - (2 / Math.PI) * Math.atan(3), 7);
    // Quantile: t_{0.975}(1) = tan(π(0.975 − 1/2)) = tan(0.475π) = 12.7062047.
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(Math.tan(0.475 * Math.PI), 6);
  });

  it("Student t with 2 df: P(|T| ≥ t) = 1 − t/√(2 + t²), quantile (2p − 1)/√(2p(1 − p))", () => {
    // t = 2: 1 − 2/√6 = 0.1835034.
    expect(studentTTwoSidedPValue(2, 2)).toBeCloseTo(1 - 2 / Math.sqrt(6), 7);
    // p = 0.975: 0.95/√(2·0.975·0.025) = 0.95/0.2207940 = 4.3026527 (the t-table value 4.303).
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.3026527, 6);
  });

  it("keeps the t distribution at enormous df, where it tends to the normal", () => {
    expect(studentTQuantile(0.975, 1e9)).toBeCloseTo(1.959964, 6);
    expect(studentTTwoSidedPValue(1.959963984540054, 1e12)).toBeCloseTo(0.05, 9);
    // At df ≈ 1e6 the t and z tails differ in the 7th digit (issue #13: 0.0200741 vs 0.0200739).
    expect(studentTTwoSidedPValue(2.3249630070917533, 1000959.933173684)).toBeCloseTo(0.020074137264411, 11);
    expect(normalTwoSidedPValue(2.3249630070917533)).not.toBeCloseTo(0.020074137264411, 9);
    // At df = 1e5 the t quantile is z + (z³ + z)/(4·df) = 1.959964 + 2.37e-5 = 1.959988 (Cornish–Fisher).
    expect(studentTQuantile(0.975, 1e5)).toBeCloseTo(1.959988, 6);
  });

  it("chi-square: 1 df is Z², 2 df has upper tail e^(−x/2)", () => {
    expect(chiSquareUpperTail(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareUpperTail(20, 2)).toBeCloseTo(Math.exp(-10), 14);
    expect(chiSquareUpperTail(0, 3)).toBe(1);
  });

  it("fair-coin binomial tail: P(X ≤ 1 | n = 10) = (1 + 10)/1024", () => {
    expect(fairCoinLowerTail(1, 10)).toBeCloseTo(11 / 1024, 12);
    expect(fairCoinLowerTail(10, 10)).toBe(1);
    expect(fairCoinLowerTail(-1, 10)).toBe(0);
    // Large n matches the normal approximation with continuity correction: n = 10⁶, k = 499,000,
    // z = (499,000.5 − 500,000)/500 = −1.999 → Φ(−1.999) = 0.022804.
    expect(fairCoinLowerTail(499_000, 1_000_000)).toBeCloseTo(0.022804, 5);
  });
});
