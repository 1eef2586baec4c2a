import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { binomial } from "./binomialDraw";
import { compareMeans } from "./compare";
import { planSampleSize, powerAt, powerForVariance } from "./power";
import { summarizeProportion } from "./summary";

const fixed = { analysis: "fixedHorizon" } as const;

// z_{0.975} = 1.9599640, z_{0.8} = 0.8416212; (z_{0.975} + z_{0.8})² = 2.8015852² = 7.8488797.
describe("power and sample size", () => {
  it("proportion: 10% baseline, +10% relative MDE", () => {
    // p_C = 0.10, p_T = 0.11, Δ = 0.01; σ_C² + σ_T² = 0.09 + 0.0979 = 0.1879.
    // n = 7.8488797·0.1879/0.01² = 14,748.05 ⇒ 14,749 per arm (calculators quote ~14,750).
    const plan = planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1, ...fixed });
    expect(plan.analysis).toBe("fixedHorizon");
    expect(plan.targetUnitsPerVariant).toBeNull();
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
    const base = { baseline: { mean: 2, variance: 4 }, minimumDetectableEffect: 0.05, ...fixed };
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
    expect(powerForVariance(0, 1, fixed)).toBeCloseTo(0.05, 12);
    // Δ/se = z_{0.975} + z_{0.9} = 1.9599640 + 1.2815516 ⇒ power Φ(1.2815516) + Φ(−5.20) = 0.9000001.
    expect(powerForVariance(3.2415156, 1, fixed)).toBeCloseTo(0.9000001, 6);
    expect(powerAt({ baseline: { mean: 2, variance: 4 }, minimumDetectableEffect: 0.05, ...fixed }, 6280, 6280)).toBeGreaterThan(0.8);
    expect(planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1, power: 0.9, ...fixed }).unitsPerVariant[0]).toBeGreaterThan(14749);
  });

  it("rejects impossible plans", () => {
    expect(() => planSampleSize({ baseline: { proportion: 0.6 }, minimumDetectableEffect: 1 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 0, variance: 1 }, minimumDetectableEffect: 0.1 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 1, variance: 1 }, minimumDetectableEffect: 0 })).toThrow(RangeError);
    expect(() => planSampleSize({ baseline: { mean: 1, variance: 1 }, minimumDetectableEffect: 0.1, trafficSplit: [1] })).toThrow(RangeError);
  });
});

describe("the sequential engine's plan", () => {
  it("critical value 3.035 at α = 0.05 (τ² tuned): about 1.9 times the fixed-horizon units", () => {
    // r* = 2 ln 20 + ln(1 + 2 ln 20) = 5.991465 + 1.944690 = 7.936155;
    // c² = (8.936155/7.936155)·(5.991465 + ln 8.936155) = 1.126005·8.181603 = 9.212485 ⇒ c = 3.035209.
    // n = (3.035209 + 0.841621)²·0.1879/0.01² = 15.029813·1879 = 28,241.02 ⇒ 28,242 per arm.
    const plan = planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1 });
    expect(plan.analysis).toBe("sequential");
    expect(plan.unitsPerVariant).toEqual([28242, 28242]);
    expect(plan.targetUnitsPerVariant).toBe(28242);
    expect(plan.power).toBeCloseTo(0.8, 4);
    expect(powerAt({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1 }, 28242, 28242)).toBeCloseTo(plan.power, 12);
    // An uneven split tunes τ² to the weakest comparison: target = (σ_C² + σ_T²)/V, the harmonic mean for equal variances.
    const uneven = planSampleSize({ baseline: { mean: 2, variance: 4 }, minimumDetectableEffect: 0.05, trafficSplit: [80, 20] });
    const [nc, nt] = uneven.unitsPerVariant as [number, number];
    expect(uneven.targetUnitsPerVariant).toBe(Math.round(2 / (1 / nc + 1 / nt)));
    expect(uneven.power).toBeGreaterThanOrEqual(0.8);
  });

  it("a true +10 % lift on a 10 % rate is found with the planned power at the planned size (seeded simulation)", () => {
    const plan = planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1 });
    const n = plan.unitsPerVariant[0]!;
    const options = { analysis: "sequential", targetUnitsPerVariant: plan.targetUnitsPerVariant! } as const;
    const rng = createRng(2022);
    const runs = 2000;
    const looks = 30;
    let once = 0;
    let early = 0;
    for (let r = 0; r < runs; r++) {
      // 30 equal batches; "early": stopped at the first look that calls it, "once": read only at the end.
      let units = 0;
      let control = 0;
      let treatment = 0;
      let called = false;
      for (let look = 1; look <= looks; look++) {
        const batch = Math.round((n * look) / looks) - units;
        units += batch;
        control += binomial(rng, batch, 0.1);
        treatment += binomial(rng, batch, 0.11);
        const result = compareMeans(summarizeProportion(units, control), summarizeProportion(units, treatment), options);
        const significant = result.significant && result.absolute.estimate > 0;
        called ||= significant;
        if (look === looks && significant) once++;
      }
      if (called) early++;
    }
    if (process.env.STATS_SIM_REPORT) console.info(`sequential power at ${n}/arm: one look ${(100 * once / runs).toFixed(1)}%, ${looks} looks ${(100 * early / runs).toFixed(1)}%`);
    expect(Math.abs(once / runs - plan.power)).toBeLessThanOrEqual(0.05);
    expect(early / runs).toBeGreaterThanOrEqual(once / runs);
  });
});
