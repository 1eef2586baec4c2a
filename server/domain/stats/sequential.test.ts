import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareMeans, MIN_SEQUENTIAL_UNITS_PER_ARM } from "./compare";
import {
  alwaysValidPValue,
  confidenceSequenceHalfWidth,
  logMixtureLikelihoodRatio,
  mixtureTuningRatio,
} from "./sequential";
import { summarizeMean, summarizeProportion } from "./summary";

describe("mixture SPRT / always-valid inference", () => {
  it("worked example of Λ, the p-value and the interval", () => {
    // Δ̂ = 0.3, V = 0.01 (se 0.1), τ² = 0.03 ⇒ V + τ² = 0.04.
    // ln Λ = ½·ln(0.01/0.04) + 0.3²·0.03/(2·0.01·0.04) = −0.6931472 + 0.0027/0.0008
    //      = −0.6931472 + 3.375 = 2.6818528; Λ = 14.6121419; p = 1/Λ = 0.0684362.
    // Half-width at α = 0.05: √(0.01·0.04/0.03 · (2·ln 20 + ln 4)) = √(0.0133333·7.3777589)
    //   = √0.0983701 = 0.3136401 ⇒ [−0.0136401, 0.6136401], which contains 0, as p > 0.05 says.
    // (A fixed-horizon z-test on the same numbers would give z = 3, p = 0.0027: peeking costs.)
    expect(logMixtureLikelihoodRatio(0.3, 0.01, 0.03)).toBeCloseTo(2.6818528, 7);
    expect(alwaysValidPValue(0.3, 0.01, 0.03)).toBeCloseTo(0.0684362, 7);
    expect(confidenceSequenceHalfWidth(0.01, 0.03, 0.05)).toBeCloseTo(0.3136401, 7);
    // The interval's edge is exactly where the p-value of that null equals α.
    expect(alwaysValidPValue(0.3, 0.01, 0.03, 0.3 - 0.3136401)).toBeCloseTo(0.05, 6);
    expect(alwaysValidPValue(0, 0.01, 0.03)).toBe(1);
  });

  it("tunes τ² to the target: r* = −2 ln α + ln(1 − 2 ln α)", () => {
    // α = 0.05: −2 ln 0.05 = 5.9914645, ln 6.9914645 = 1.9446901 ⇒ r* = 7.9361546.
    expect(mixtureTuningRatio(0.05)).toBeCloseTo(7.9361546, 7);
    // r* approximately minimises f(r) = (1 + 1/r)(2 ln(1/α) + ln(1 + r)), the squared half-width in
    // units of V: it is within 0.1% of the true minimum.
    const f = (r: number) => (1 + 1 / r) * (2 * Math.log(20) + Math.log(1 + r));
    const best = Math.min(...Array.from({ length: 2000 }, (_, i) => f(1 + i * 0.01)));
    expect(f(mixtureTuningRatio(0.05)) / best).toBeLessThan(1.001);
  });

  it("end-to-end on CTR counts, against the fixed-horizon verdict on the same data", () => {
    // Control 100 clicks / 1000 users, treatment 130 / 1000; target = 1000 per variant.
    //   s²_C = (100 − 100²/1000)/999 = 90/999, v_C = 9.009009e-5;
    //   s²_T = (130 − 130²/1000)/999 = 113.1/999, v_T = 1.132132e-4; V = 2.033033e-4.
    //   At the target V* = V, so τ² = r*·V with r* = 7.9361546, and in terms of z² = Δ²/V =
    //   0.03²/2.033033e-4 = 4.4268833 (z = 2.104):
    //   ln Λ = −½ ln(1 + r*) + z²·r*/(2(1 + r*)) = −1.0950 + 1.9657 = 0.8706939 ⇒ p = 0.4186609.
    //   Half-width = √(V(1 + r*)/r* · (2 ln 20 + ln(1 + r*))) = 0.0432774.
    // Fixed horizon on the same data: Welch df = 1972.48, p = 0.0355033 — "significant" if this
    // were the only look, not if the dashboard had been watched all along.
    const control = summarizeProportion(1000, 100);
    const treatment = summarizeProportion(1000, 130);
    const seq = compareMeans(control, treatment, { targetUnitsPerVariant: 1000 });
    expect(seq.analysis).toBe("sequential");
    expect(seq.pValue).toBeCloseTo(0.4186609, 6);
    expect(seq.absolute.ci[0]).toBeCloseTo(0.03 - 0.0432774, 6);
    expect(seq.absolute.ci[1]).toBeCloseTo(0.03 + 0.0432774, 6);
    expect(seq.significant).toBe(false);
    const once = compareMeans(control, treatment, { analysis: "fixedHorizon" });
    expect(once.pValue).toBeCloseTo(0.0355033, 6);
    expect(once.significant).toBe(true);
  });

  it("is the default analysis, and its interval is never narrower than the fixed-horizon one", () => {
    const sample = fc.array(fc.integer({ min: 0, max: 50 }), { minLength: MIN_SEQUENTIAL_UNITS_PER_ARM, maxLength: 90 });
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 10, max: 100_000 }), (a, b, target) => {
        const seq = compareMeans(summarizeMean(a), summarizeMean(b), { targetUnitsPerVariant: target });
        const fixed = compareMeans(summarizeMean(a), summarizeMean(b), { analysis: "fixedHorizon" });
        if (Number.isNaN(fixed.pValue)) return;
        // The boundary multiplier is at least √(2 ln 20) = 2.448 > t_{0.975}(df ≥ 9) = 2.262.
        expect(seq.absolute.ci[1] - seq.absolute.ci[0]).toBeGreaterThanOrEqual(fixed.absolute.ci[1] - fixed.absolute.ci[0]);
        // So at the same α the sequential verdict is the more cautious one. (Its p-value is not
        // larger at every level: far in the tail a t with few df is heavier than the mixture bound.)
        if (seq.significant) expect(fixed.significant).toBe(true);
        expect(seq.pValue).toBeGreaterThanOrEqual(fixed.pValue);
      }),
    );
  });

  it("needs a minimum sample per arm, and is then never narrower than the fixed interval (issue #13, point 6)", () => {
    // Control n = 2 (sd 1) vs treatment n = 1,000 (mean 4.5, sd 10): the mixture boundary alone gave
    // [0.29, 8.71] against the fixed [−0.44, 9.44].
    const control = { n: 2, sum: 0, sumSq: 2 - 1, shift: 0 }; // values ±1/√2: mean 0, s² = 1
    const treatment = { n: 1000, sum: 0, sumSq: 100 * 999, shift: 4.5 };
    const seq = compareMeans(control, treatment);
    expect(seq.unavailable).toBe(`a sequential result needs at least ${MIN_SEQUENTIAL_UNITS_PER_ARM} units per arm`);
    expect(seq.pValue).toBeNaN();
    const fixed = compareMeans(control, treatment, { analysis: "fixedHorizon" });
    expect(fixed.absolute.ci[0]).toBeCloseTo(-0.44, 2);
    expect(fixed.absolute.ci[1]).toBeCloseTo(9.44, 2);
    const big = { n: 40, sum: 0, sumSq: 39, shift: 0 };
    const seqBig = compareMeans(big, treatment);
    const fixedBig = compareMeans(big, treatment, { analysis: "fixedHorizon" });
    expect(seqBig.absolute.ci[0]).toBeLessThanOrEqual(fixedBig.absolute.ci[0]);
    expect(seqBig.absolute.ci[1]).toBeGreaterThanOrEqual(fixedBig.absolute.ci[1]);
  });
});
