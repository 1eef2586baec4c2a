import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { inCanary, latencyKeepRate, stepsField, validateSteps } from "./canary";

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

describe("latencyKeepRate (finding 3: a bounded latency sample without sorting every row of the step)", () => {
  it("keeps every row of a small arm, and about 1.25 × the sample of a large one", () => {
    expect(latencyKeepRate(0, 5000)).toBe(1);
    expect(latencyKeepRate(5000, 5000)).toBe(1);
    expect(latencyKeepRate(5001, 5000)).toBe(1); // 6,250 expected from 5,001: every row
    expect(latencyKeepRate(10_000, 5000)).toBe(0.625);
    expect(latencyKeepRate(500_000, 5000)).toBe(0.0125);
  });

  it("a Bernoulli sample at that rate keeps at least the sample size of a large arm, in every one of 200 draws, and keeps rows uniformly", () => {
    const n = 60_000;
    const rate = latencyKeepRate(n, 5000);
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const tenths = new Array<number>(10).fill(0);
    let fewest = Infinity;
    for (let draw = 0; draw < 200; draw++) {
      let kept = 0;
      for (let i = 0; i < n; i++) if (random() < rate) { kept++; tenths[Math.floor((i / n) * 10)]!++; }
      fewest = Math.min(fewest, kept);
    }
    expect(fewest).toBeGreaterThanOrEqual(5000);
    // Each tenth of the step (early rows, late rows) is kept alike: 6,250 × 200 / 10 = 125,000 each.
    for (const t of tenths) expect(Math.abs(t - 125_000) / 125_000).toBeLessThan(0.02);
  });
});
