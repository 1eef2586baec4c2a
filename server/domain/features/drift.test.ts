import { describe, expect, it } from "vitest";
import { normalQuantile } from "../stats/distributions";
import { psiAgainstNormal, psiLevel, summariseDrift } from "./drift";

// Values placed at the midpoints (in probability) of a normal's deciles fill every bin equally.
const normalSample = (mean: number, std: number, n: number) => Array.from({ length: n }, (_, i) => mean + std * normalQuantile((i + 0.5) / n));

describe("psiAgainstNormal", () => {
  it("is ~0 for values distributed as trained and grows with a shift", () => {
    expect(psiAgainstNormal(normalSample(5, 2, 1000), { mean: 5, std: 2 })).toBeLessThan(1e-3);
    const small = psiAgainstNormal(normalSample(5.4, 2, 1000), { mean: 5, std: 2 })!;
    const large = psiAgainstNormal(normalSample(7, 2, 1000), { mean: 5, std: 2 })!;
    expect(small).toBeGreaterThan(0.01);
    expect(large).toBeGreaterThan(small);
    expect(large).toBeGreaterThan(0.25);
  });

  it("matches a hand computation: every value in the top bin", () => {
    // One bin holds everything (a = 1), nine hold ε: (1 − 0.1)·ln(10) + 9·(ε − 0.1)·ln(ε / 0.1).
    const eps = 1e-4;
    const expected = 0.9 * Math.log(10) + 9 * (eps - 0.1) * Math.log(eps / 0.1);
    expect(psiAgainstNormal([100, 100, 100], { mean: 0, std: 1 })).toBeCloseTo(expected, 9);
  });

  it("is null without values or without a training spread", () => {
    expect(psiAgainstNormal([], { mean: 0, std: 1 })).toBeNull();
    expect(psiAgainstNormal([1, 2], { mean: 0, std: 0 })).toBeNull();
  });
});

describe("psiLevel and summariseDrift", () => {
  it("reads PSI with the usual thresholds", () => {
    expect([psiLevel(0.05), psiLevel(0.1), psiLevel(0.3), psiLevel(null)]).toEqual(["stable", "moderate", "significant", "unknown"]);
  });

  it("summarises serving values against the training distribution, ignoring non-finite values", () => {
    const s = summariseDrift([1, 2, 3, Number.NaN], { mean: 1, std: 2, min: 0, max: 5 });
    // Too few values for a PSI: shown as unknown rather than a noisy "significant".
    expect(s).toMatchObject({ count: 3, mean: 2, std: 1, meanShift: 0.5, psi: null, level: "unknown" });
    const enough = summariseDrift(normalSample(1, 2, 100), { mean: 1, std: 2, min: -5, max: 7 });
    expect(enough.level).toBe("stable");
    expect(summariseDrift([1, 2], undefined)).toMatchObject({ psi: null, meanShift: null, level: "unknown" });
  });
});
