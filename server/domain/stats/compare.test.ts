import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareMeans, fiellerLiftInterval } from "./compare";
import { summarizeMean, summarizeProportion } from "./summary";

// The relative interval and the p-value shown beside it come from one test: Fieller's interval
// inverts the test of the difference, so it excludes 0 exactly when p < α. Reference figures from
// scipy 1.17: p and the absolute interval from scipy.stats.ttest_ind(t, c, equal_var=False) on the
// 0/1 data; the lift's ends from scipy.optimize.brentq on (m_T − ρ·m_C)/√(v_T + ρ²·v_C) = ±k, with
// k = scipy.stats.t.ppf(0.975, df) — a root search, not the closed form used here.

describe("the lift's interval inverts the test of the p beside it (Fieller)", () => {
  it("10/1,000 vs 30/1,000 conversions, fixed horizon: p 0.0013964 and a lift of +56.6 % to +713.1 %, not −13 % to +413 %", () => {
    const r = compareMeans(summarizeProportion(1000, 10), summarizeProportion(1000, 30), { analysis: "fixedHorizon" });
    expect(r.pValue).toBeCloseTo(0.0013964491046335103, 9);
    expect(r.absolute.ci[0]).toBeCloseTo(0.0077446808900860885, 9);
    expect(r.absolute.ci[1]).toBeCloseTo(0.0322553191099139, 9);
    expect(r.relative.estimate).toBeCloseTo(2, 12);
    expect(r.relative.ci[0]).toBeCloseTo(0.5661733338992561, 6);
    expect(r.relative.ci[1]).toBeCloseTo(7.130933715736296, 6);
    expect(r.significant).toBe(true);
  });

  it("100/1,000 vs 160/1,000, sequential: always-valid p 0.011787 and a lift of +7.94 % to +148.4 %", () => {
    // k = half-width/se of the sequential difference = 3.3638877 (mixture boundary, τ² tuned to
    // 5,000 units per arm); the reference solves the contrast at that k.
    const r = compareMeans(summarizeProportion(1000, 100), summarizeProportion(1000, 160));
    expect(r.analysis).toBe("sequential");
    expect(r.pValue).toBeCloseTo(0.011786521874528277, 9);
    expect(r.absolute.ci[0]).toBeCloseTo(0.009583792370518908, 9);
    expect(r.relative.ci[0]).toBeCloseTo(0.07941080379216436, 6);
    expect(r.relative.ci[1]).toBeCloseTo(1.4838398262552044, 6);
  });

  it("is unbounded (NaN ends) when the control's mean is not distinguishable from 0, and a point when there is no noise", () => {
    // m_C = 1.5, v_C = 0.25, k = 4.3 (t, 2 df): a = 2.25 − 18.5·0.25 < 0.
    expect(fiellerLiftInterval({ mean: 1.5, variance: 0.25, n: 2 }, { mean: 10.5, variance: 0.25, n: 2 }, 4.3026527)).toEqual([NaN, NaN]);
    const exact = fiellerLiftInterval({ mean: 2, variance: 0, n: 5 }, { mean: 3, variance: 0, n: 5 }, 1.96);
    expect(exact[0]).toBeCloseTo(0.5, 14);
    expect(exact[1]).toBeCloseTo(0.5, 14);
  });

  it("excludes 0 exactly when the result is significant, in both analyses (property)", () => {
    const sample = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 30, maxLength: 60 });
    fc.assert(
      fc.property(sample, sample, fc.constantFrom("fixedHorizon" as const, "sequential" as const), (a, b, analysis) => {
        const r = compareMeans(summarizeMean(a), summarizeMean(b), { analysis, targetUnitsPerVariant: 40 });
        const [lo, hi] = r.relative.ci;
        if (Number.isNaN(r.pValue) || Number.isNaN(lo) || Math.abs(r.pValue - r.alpha) < 1e-6) return;
        expect(lo > 0 || hi < 0).toBe(r.significant);
        expect(lo).toBeLessThanOrEqual(r.relative.estimate);
        expect(hi).toBeGreaterThanOrEqual(r.relative.estimate);
      }),
      { numRuns: 500 },
    );
  });
});
