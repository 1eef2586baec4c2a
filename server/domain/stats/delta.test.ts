import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareMeans, compareRatios } from "./compare";
import { ratioOfMeans, relativeLift } from "./delta";
import { summarizeMean, summarizeRatio } from "./summary";

const fixed = { analysis: "fixedHorizon" } as const;
const users = (rows: [clicks: number, impressions: number][]) =>
  summarizeRatio(rows.map(([numerator, denominator]) => ({ numerator, denominator })));

describe("delta method for ratio metrics", () => {
  // Control users (clicks Y, impressions X): (1, 2), (0, 2), (2, 4), (1, 4).
  //   μ_Y = 1, μ_X = 3, CTR = ΣY/ΣX = 4/12 = 1/3;
  //   s²_Y = (6 − 4²/4)/3 = 2/3, s²_X = (40 − 12²/4)/3 = 4/3, s_XY = (14 − 4·12/4)/3 = 2/3.
  //   Var(R) = (1/n)(s²_Y/μ_X² − 2μ_Y·s_XY/μ_X³ + μ_Y²·s²_X/μ_X⁴)
  //          = (1/4)(2/27 − 4/81 + 4/243) = (1/4)(18 − 12 + 4)/243 = 10/972 = 0.0102881.
  // Treatment users: (2, 4), (1, 2), (3, 4), (2, 6).
  //   μ_Y = 2, μ_X = 4, CTR = 8/16 = 1/2;
  //   s²_Y = (18 − 8²/4)/3 = 2/3, s²_X = (72 − 16²/4)/3 = 8/3, s_XY = (34 − 8·16/4)/3 = 2/3.
  //   Var(R) = (1/4)((2/3)/16 − 2·2·(2/3)/64 + 4·(8/3)/256) = (1/4)(1/24 − 1/24 + 1/24) = 1/96 = 0.0104167.
  const control = users([[1, 2], [0, 2], [2, 4], [1, 4]]);
  const treatment = users([[2, 4], [1, 2], [3, 4], [2, 6]]);

  it("computes each arm's ratio and delta-method variance", () => {
    const c = ratioOfMeans(control);
    const t = ratioOfMeans(treatment);
    expect(c.mean).toBeCloseTo(1 / 3, 14);
    expect(c.variance).toBeCloseTo(10 / 972, 14);
    expect(t.mean).toBe(0.5);
    expect(t.variance).toBeCloseTo(1 / 96, 14);
  });

  it("compares the ratios on absolute and relative scales", () => {
    // Δ = 1/2 − 1/3 = 1/6; Var(Δ) = 10/972 + 1/96 = 0.0207047, se = 0.1438914.
    // Welch df = 0.0207047² / (0.0102881²/3 + 0.0104167²/3) = 5.9997685 (almost 2(n − 1) = 6: equal
    // variances); t = 0.1666667/0.1438914 = 1.1582811; with t_{0.975}(6) = 2.4469 (table) the
    // interval is 1/6 ± 2.4469347·0.1438914 → lower −0.1854262; the t tail (SciPy cross-check) gives
    // p = 0.2907672.
    // Relative: lift = (1/2)/(1/3) − 1 = 0.5; Var = v_T/μ_C² + μ_T²·v_C/μ_C⁴
    //   = (1/96)·9 + (1/4)·(10/972)·81 = 0.09375 + 0.2083333 = 0.3020833.
    const r = compareRatios(control, treatment, fixed);
    expect(r.control).toMatchObject({ mean: 1 / 3, n: 4 });
    expect(r.control.variance).toBeCloseTo(10 / 972, 14);
    expect(r.absolute.estimate).toBeCloseTo(1 / 6, 14);
    expect(r.absolute.se).toBeCloseTo(0.1438914, 6);
    expect(r.df).toBeCloseTo(5.9997685, 6);
    expect(r.absolute.ci[0]).toBeCloseTo(-0.1854262, 6);
    expect(r.pValue).toBeCloseTo(0.2907672, 6);
    expect(r.relative.estimate).toBeCloseTo(0.5, 14);
    expect(r.relative.se).toBeCloseTo(Math.sqrt(0.3020833333), 8);
  });

  it("relative lift variance by hand: μ_C = 10, μ_T = 11, v_C = 1, v_T = 2", () => {
    // Var = 2/100 + 121·1/10⁴ = 0.02 + 0.0121 = 0.0321.
    const lift = relativeLift({ mean: 10, variance: 1, n: 100 }, { mean: 11, variance: 2, n: 100 });
    expect(lift.estimate).toBeCloseTo(0.1, 14);
    expect(lift.variance).toBeCloseTo(0.0321, 14);
    expect(relativeLift({ mean: 0, variance: 1, n: 5 }, { mean: 1, variance: 1, n: 5 }).estimate).toBeNaN();
  });

  it("reduces to Welch's test on the numerator when every denominator is 1", () => {
    // X ≡ 1 ⇒ μ_X = 1, s²_X = s_XY = 0, so Var(R) = s²_Y/n: the plain mean.
    const values = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 2, maxLength: 20 });
    fc.assert(
      fc.property(values, values, (a, b) => {
        const asRatio = (ys: number[]) => summarizeRatio(ys.map((y) => ({ numerator: y, denominator: 1 })));
        const viaRatio = compareRatios(asRatio(a), asRatio(b), fixed);
        const viaMeans = compareMeans(summarizeMean(a), summarizeMean(b), fixed);
        expect(viaRatio.absolute.estimate).toBeCloseTo(viaMeans.absolute.estimate, 12);
        expect(viaRatio.absolute.se).toBeCloseTo(viaMeans.absolute.se, 12);
        if (!Number.isNaN(viaMeans.pValue)) expect(viaRatio.pValue).toBeCloseTo(viaMeans.pValue, 9);
      }),
    );
  });
});
