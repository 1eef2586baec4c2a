import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareMeans } from "./compare";
import { summarizeMean } from "./summary";
import { welchDegreesOfFreedom } from "./welch";

const fixed = { analysis: "fixedHorizon" } as const;

describe("Welch's t-test on mean metrics (fixed horizon)", () => {
  it("worked example with 2 df, where the t distribution has a closed form", () => {
    // Control [1, 3]: mean 2, s² = ((1−2)² + (3−2)²)/1 = 2, v_C = s²/n = 1.
    // Treatment [4, 6]: mean 5, s² = 2, v_T = 1.
    // Δ = 5 − 2 = 3, se = √(v_C + v_T) = √2 = 1.4142136, t = 3/√2 = 2.1213203.
    // Welch df = (1 + 1)² / (1²/1 + 1²/1) = 4/2 = 2.
    // With 2 df, P(|T| ≥ t) = 1 − t/√(2 + t²) = 1 − 2.1213203/√6.5 = 1 − 3/√13 = 0.1679497.
    // t_{0.975}(2) = 0.95/√(2·0.975·0.025) = 4.3026527, so the 95% CI is
    // 3 ± 4.3026527·1.4142136 = 3 ± 6.0848698 = [−3.0848698, 9.0848698].
    // Relative lift 5/2 − 1 = 1.5; delta method Var = v_T/μ_C² + μ_T²·v_C/μ_C⁴ = 1/4 + 25/16
    // = 1.8125, se = 1.3462912. Its interval is Fieller's at the same t quantile: a = m_C² − t²·v_C
    // = 4 − 18.5128 < 0, the control's mean is not distinguishable from 0 at this level, so the
    // set of ratios is unbounded and no interval is given (the symmetric delta-method one,
    // [−429 %, +729 %], suggested bounds the data do not support).
    const r = compareMeans(summarizeMean([1, 3]), summarizeMean([4, 6]), fixed);
    expect(r.control).toEqual({ mean: 2, variance: 1, n: 2 });
    expect(r.treatment).toEqual({ mean: 5, variance: 1, n: 2 });
    expect(r.df).toBeCloseTo(2, 12);
    expect(r.absolute.estimate).toBe(3);
    expect(r.absolute.se).toBeCloseTo(Math.SQRT2, 12);
    expect(r.pValue).toBeCloseTo(1 - 3 / Math.sqrt(13), 7);
    expect(r.absolute.ci[0]).toBeCloseTo(-3.0848698, 6);
    expect(r.absolute.ci[1]).toBeCloseTo(9.0848698, 6);
    expect(r.relative.estimate).toBeCloseTo(1.5, 12);
    expect(r.relative.se).toBeCloseTo(Math.sqrt(1.8125), 12);
    expect(r.relative.ci[0]).toBeNaN();
    expect(r.relative.ci[1]).toBeNaN();
    expect(r.significant).toBe(false);
    expect(r.analysis).toBe("fixedHorizon");
  });

  it("worked example with unequal sizes and variances (fractional Welch df)", () => {
    // Control 1..5: n 5, mean 3, s² = (55 − 45)/4 = 2.5, v_C = 2.5/5 = 0.5.
    // Treatment 2, 4, …, 12: n 6, mean 7, s² = (364 − 42²/6)/5 = (364 − 294)/5 = 14, v_T = 14/6 = 7/3.
    // Δ = 4, se² = 0.5 + 7/3 = 17/6, se = 1.6832508, t = 4/1.6832508 = 2.3763541.
    // df = (17/6)² / (0.5²/4 + (7/3)²/5) = 8.0277778 / (0.0625 + 1.0888889) = 6.9722557.
    // t-table: t_{0.975}(7) = 2.3646 < 2.3764 < t_{0.975}(6) = 2.4469, so p sits just under 0.05 at
    // df ≈ 7; the t tail at the fractional df (regularised incomplete beta, cross-checked in SciPy)
    // gives p = 0.0492843 and t_{0.975}(6.9722557) = 2.3665330,
    // CI = 4 ± 2.3665330·1.6832508 = [0.0165313, 7.9834687].
    // Relative: 7/3 − 1 = 1.3333333, Var = (7/3)/9 + 49·0.5/81 = 0.5617284, se = 0.7494854.
    const r = compareMeans(summarizeMean([1, 2, 3, 4, 5]), summarizeMean([2, 4, 6, 8, 10, 12]), fixed);
    expect(r.df).toBeCloseTo(6.9722557, 6);
    expect(r.absolute.se).toBeCloseTo(1.6832508, 6);
    expect(r.pValue).toBeCloseTo(0.0492843, 6);
    expect(r.absolute.ci[0]).toBeCloseTo(0.0165313, 6);
    expect(r.absolute.ci[1]).toBeCloseTo(7.9834687, 6);
    expect(r.relative.estimate).toBeCloseTo(4 / 3, 12);
    expect(r.relative.se).toBeCloseTo(0.7494854, 6);
    expect(r.significant).toBe(true);
    // A stricter alpha flips the verdict; the 99% interval contains 0.
    const strict = compareMeans(summarizeMean([1, 2, 3, 4, 5]), summarizeMean([2, 4, 6, 8, 10, 12]), { ...fixed, alpha: 0.01 });
    expect(strict.significant).toBe(false);
    expect(strict.absolute.ci[0]).toBeLessThan(0);
  });

  it("Welch df is n₁ + n₂ − 2 for equal sizes and variances, and NaN below two units", () => {
    // v = s²/n in both arms ⇒ df = (2v)² / (2v²/(n − 1)) = 2(n − 1).
    expect(welchDegreesOfFreedom({ mean: 0, variance: 0.3, n: 11 }, { mean: 1, variance: 0.3, n: 11 })).toBeCloseTo(20, 12);
    expect(welchDegreesOfFreedom({ mean: 0, variance: 0.3, n: 1 }, { mean: 1, variance: 0.3, n: 11 })).toBeNaN();
  });

  it("gives no verdict without spread or with fewer than two units", () => {
    const flat = compareMeans(summarizeMean([0, 0, 0]), summarizeMean([0, 0, 0]), fixed);
    expect(flat.pValue).toBeNaN();
    expect(flat.significant).toBe(false);
    expect(flat.absolute.estimate).toBe(0);
    const tiny = compareMeans(summarizeMean([1]), summarizeMean([2, 3]));
    expect(tiny.significant).toBe(false);
    // A zero control mean leaves the relative lift undefined but the absolute test intact.
    const zeroControl = compareMeans(summarizeMean([-1, 1, 0]), summarizeMean([2, 3, 4]), fixed);
    expect(zeroControl.relative.estimate).toBeNaN();
    expect(zeroControl.pValue).toBeGreaterThan(0);
    expect(() => compareMeans(summarizeMean([1, 2]), summarizeMean([1, 2]), { alpha: 1.5 })).toThrow(RangeError);
  });

  it("is significant exactly when the interval excludes zero, in both analyses", () => {
    const sample = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 3, maxLength: 25 });
    fc.assert(
      fc.property(sample, sample, fc.constantFrom("fixedHorizon" as const, "sequential" as const), (a, b, analysis) => {
        const r = compareMeans(summarizeMean(a), summarizeMean(b), { analysis, targetUnitsPerVariant: 20 });
        if (Number.isNaN(r.pValue)) return;
        const [lo, hi] = r.absolute.ci;
        const excludesZero = lo > 0 || hi < 0;
        // Skip the knife-edge where p ≈ α: the t tail and quantile agree only to ~1e-8 (jstat).
        if (Math.abs(r.pValue - r.alpha) < 1e-6) return;
        expect(r.significant).toBe(excludesZero);
        expect(lo).toBeLessThanOrEqual(r.absolute.estimate);
        expect(hi).toBeGreaterThanOrEqual(r.absolute.estimate);
      }),
    );
  });
});
