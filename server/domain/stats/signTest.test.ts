import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sequentialSignTest, signTest } from "./signTest";

describe("interleaving sign test", () => {
  it("9 wins to 1: exact binomial p and the Clopper–Pearson interval that inverts it", () => {
    // n = 10; P(X ≤ 1) = (C(10,0) + C(10,1))/2¹⁰ = 11/1024; two-sided p = 22/1024 = 0.0214844.
    // Clopper–Pearson: lower end solves P(X ≥ 9 | p) = 0.025, upper P(X ≤ 9 | p) = 0.025;
    // scipy.stats.binomtest(9, 10).proportion_ci(method="exact") = [0.5549839, 0.9974714].
    const r = signTest(9, 1);
    expect(r.pValue).toBeCloseTo(22 / 1024, 7);
    expect(r.shareA).toBe(0.9);
    expect(r.ci[0]).toBeCloseTo(0.5549838829718047, 9);
    expect(r.ci[1]).toBeCloseTo(0.9974714214555375, 9);
    expect(r.significant).toBe(true);
  });

  it("60 wins to 40: p = 0.0569, not significant, and the interval says the same (it contains ½)", () => {
    // Two-sided p = 2·P(X ≤ 40 | n = 100, ½) = 0.0568879 (binom.test(60, 100)). The Wilson
    // interval shown before, [0.5020, 0.6906], excluded ½ beside that p; Clopper–Pearson
    // (scipy binomtest(60, 100).proportion_ci("exact")) is [0.4972092, 0.6967052]. At 61 to 39,
    // p = 0.0352002 and the interval [0.5073145, 0.7059896] excludes ½.
    const r = signTest(60, 40);
    expect(r.pValue).toBeCloseTo(0.0568879, 6);
    expect(r.ci[0]).toBeCloseTo(0.4972091504223335, 9);
    expect(r.ci[1]).toBeCloseTo(0.6967052312971551, 9);
    expect(r.significant).toBe(false);
    const next = signTest(61, 39);
    expect(next.pValue).toBeCloseTo(0.035200200217704855, 9);
    expect(next.ci[0]).toBeCloseTo(0.5073144796322998, 9);
    expect(next.significant).toBe(true);
  });

  it("p < α exactly when the interval excludes ½, for both tests (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 400 }), (a, b) => {
        for (const r of [signTest(a, b), sequentialSignTest(a, b)]) {
          if (Math.abs(r.pValue - 0.05) < 1e-9) continue;
          expect(r.ci[0] > 0.5 || r.ci[1] < 0.5).toBe(r.significant);
        }
      }),
    );
  });

  it("sequential: the mixture SPRT on the share, by hand", () => {
    // 560 of 1,000, τ² tuned to 1,000 decisive comparisons: Â − ½ = 0.06, V = 1/4000 = 2.5e-4, τ² = r*·¼/1000 = 7.9361546/4000 = 1.9840386e-3.
    // ln Λ = ½·ln(V/(V + τ²)) + 0.06²·τ²/(2V(V + τ²)) = −1.0950527 + 6.3942843 = 5.2992316 ⇒ p = 0.0049954.
    // Half-width √(V(V + τ²)/τ² · (2 ln 20 + ln((V + τ²)/V))) = 0.0479909 ⇒ [0.5120091, 0.6079909].
    // The exact test read once says p = 0.000165 on the same counts: always-valid costs width.
    const r = sequentialSignTest(560, 440, 0.05, 1000);
    expect(r.pValue).toBeCloseTo(0.004995430794610443, 9);
    expect(r.ci[0]).toBeCloseTo(0.5120091320789548, 9);
    expect(r.ci[1]).toBeCloseTo(0.6079908679210453, 9);
    expect(r.significant).toBe(true);
    expect(sequentialSignTest(0, 0)).toMatchObject({ pValue: 1, n: 0, significant: false });
  });

  it("is symmetric, caps at 1 and handles no decisive comparisons", () => {
    expect(signTest(3, 7).pValue).toBeCloseTo(signTest(7, 3).pValue, 14);
    expect(signTest(5, 5).pValue).toBe(1);
    expect(signTest(0, 0)).toMatchObject({ pValue: 1, n: 0, ci: [0, 1], significant: false });
    expect(() => signTest(1.5, 2)).toThrow(RangeError);
  });
});
