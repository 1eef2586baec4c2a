import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inCanary, stepsField, validateSteps } from "./canary";

describe("inCanary", () => {
  it("takes about `percent` of uniform hashes, and a unit in at p% stays in at every larger share", () => {
    let at5 = 0;
    for (let i = 0; i < 10_000; i++) if (inCanary(Math.floor(((i + 0.5) / 10_000) * 2 ** 32), 5)) at5++;
    expect(at5).toBe(500);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (h, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (inCanary(h, lo)) expect(inCanary(h, hi)).toBe(true);
      }),
    );
    expect(inCanary(0, 0)).toBe(false);
  });
});

describe("validateSteps", () => {
  it("accepts rising shares below 100 and names what is wrong otherwise", () => {
    expect(validateSteps([1, 5, 25, 50])).toBeNull();
    expect(validateSteps([0.1, 50])).toBeNull();
    expect(validateSteps([])).toEqual({ step: null, message: "give at least one step" });
    expect(validateSteps([5, 5])).toEqual({ step: 1, message: "steps must rise: 5 then 5" });
    const range = "must be at least 0.1 and below 100 (a share of traffic in percent; the version is promoted after the last step)";
    expect(validateSteps([10, 100])).toEqual({ step: 1, message: `100 ${range}` });
    expect(validateSteps([1e-9])).toEqual({ step: 0, message: `1e-9 ${range}` });
    expect(validateSteps([0.09, 5])).toEqual({ step: 0, message: `0.09 ${range}` });
    expect(validateSteps([1, 0])).toEqual({ step: 1, message: `0 ${range}` });
    expect(stepsField(validateSteps([1, 0])!)).toBe("steps[1]");
    expect(stepsField(validateSteps([])!)).toBe("steps");
  });
});
