import { describe, expect, it } from "vitest";
import { planSampleSize, powerAt, powerForVariance } from "./power";

// z_{0.975} = 1.9599640, z_{0.8} = 0.8416212; (z_{0.975} + z_{0.8})² = 2.8015852² = 7.8488797.
describe("power and sample size", () => {
  it("proportion: 10% baseline, +10% relative MDE", () => {
    // p_C = 0.10, p_T = 0.11, Δ = 0.01; σ_C² + σ_T² = 0.09 + 0.0979 = 0.1879.
    // n = 7.8488797·0.1879/0.01² = 14,748.05 ⇒ 14,749 per arm (calculators quote ~14,750).
    const plan = planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1 });
    expect(plan.unitsPerVariant).toEqual([14749, 14749]);
    expect(plan.totalUnits).toBe(29498);
    expect(plan.absoluteEffect).toBeCloseTo(0.01, 14);
    expect(plan.days).toBeNull();
    // The rounded plan reaches Φ(0.01/√(0.1879/14749) − 1.959964) ≈ 0.8000264.
    expect(plan.power).toBeCloseTo(0.8000264, 6);
  });

  it("mean metric with daily traffic, more variants and an uneven split", () => {
    // Mean 2, variance 4, MDE 5% ⇒ Δ = 0.1; n = 7.8488797·(4 + 4)/0.01 = 6279.10 ⇒ 6280 per arm.
    // 1,000 units/day ⇒ 12,560 units ⇒ 13 days.
    const base = { baseline: { mean: 2, variance: 4 }, minimumDetectableEffect: 0.05 };
    const two = planSampleSize({ ...base, dailyUnits: 1000 });
    expect(two.unitsPerVariant).toEqual([6280, 6280]);
    expect(two.days).toBe(13);
    // Three equal variants: each comparison still needs 6280 per arm; 18,840 units ⇒ 19 days.
    const three = planSampleSize({ ...base, variants: 3, dailyUnits: 1000 });
    expect(three.unitsPerVariant).toEqual([6280, 6280, 6280]);
    expect(three.days).toBe(19);
    // 80/20: T = 7.8488797·(4/0.8 + 4/0.2)/0.01 = 19,622.20 ⇒ ⌈0.8T⌉ = 15,698, ⌈0.2T⌉ = 3,925.
    const uneven = planSampleSize({ ...base, trafficSplit: [80, 20] });
    expect(uneven.unitsPerVariant).toEqual([15698, 3925]);
    expect(uneven.power).toBeGreaterThanOrEqual(0.8);
  });

  it("power formula: α at zero effect, 1 − β at the planned size", () => {
    expect(powerForVariance(0, 1)).toBeCloseTo(0.05, 12);
    // Δ/se = z_{0.975} + z_{0.9} = 1.9599640 + 1.2815516 ⇒ power Φ(1.2815516) + Φ(−5.20) = 0.9000001.
    expect(powerForVariance(3.2415156, 1)).toBeCloseTo(0.9000001, 6);
    expect(powerAt({ baseline: { mean: 2, variance: 4 }, minimumDetectableEffect: 0.05 }, 6280, 6280)).toBeGreaterThan(0.8);
    expect(planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1, power: 0.9 }).unitsPerVariant[0]).toBeGreaterThan(14749);
  });

  it("rejects impossible plans", () => {
    expect(() => planSampleSize({ baseline: { proportion: 0.6 }, minimumDetectableEffect: 1 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 0, variance: 1 }, minimumDetectableEffect: 0.1 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 1, variance: 1 }, minimumDetectableEffect: 0 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 1, variance: 1 }, minimumDetectableEffect: 0.1, trafficSplit: [1] })).toThrow(RangeError);
  });
});
