import { describe, expect, it } from "vitest";
import { createRng } from "../domain/random";
import { cpuRatio, cpuRatioOverProcessPairs, pairedFigure, telemetryCost, telemetryCpuCost, TELEMETRY_TARGET, throughputRatio } from "./servingReport";

// bench:serving judges telemetry's cost from paired blocks (on, off) whose throughput swings with
// whatever else the machine does; these tests build such pairs with a known true cost and check that
// the figure, its interval and the verdict read it right.

/** `n` pairs whose machine speed drifts by ±`noise` per block, telemetry costing `trueCost`. */
function pairs(n: number, trueCost: number, noise: number, seed: number) {
  const rng = createRng(seed);
  const speed = () => 1000 * (1 + noise * (2 * rng.next() - 1));
  return Array.from({ length: n }, () => ({ test: speed() * (1 - trueCost), reference: speed() }));
}

describe("telemetryCost", () => {
  it("is the median of 1 − on/off over pairs", () => {
    const r = telemetryCost([{ test: 90, reference: 100 }, { test: 80, reference: 100 }, { test: 99, reference: 100 }]);
    expect(r.pairs.map((c) => +c.toFixed(6))).toEqual([0.1, 0.2, 0.01]);
    expect(r.estimate).toBeCloseTo(0.1, 12);
    expect(r.interval).toBeNull(); // 3 pairs cannot cover a median at 95 %
    expect(r.verdict).toBe("met (within noise)");
  });

  it("settles a clear miss and a clear pass with enough quiet pairs", () => {
    const miss = telemetryCost(pairs(10, 0.3, 0.02, 1));
    expect(miss.estimate).toBeGreaterThan(0.25);
    expect(miss.interval!.lower).toBeGreaterThan(TELEMETRY_TARGET);
    expect(miss.verdict).toBe("missed");
    const pass = telemetryCost(pairs(10, 0.03, 0.01, 2));
    expect(pass.interval!.upper).toBeLessThanOrEqual(TELEMETRY_TARGET);
    expect(pass.verdict).toBe("met");
  });

  it("says 'within noise' when the machine's drift is larger than the distance to the target", () => {
    const r = telemetryCost(pairs(8, 0.12, 0.3, 3));
    expect(r.interval).not.toBeNull();
    expect(r.interval!.lower).toBeLessThan(TELEMETRY_TARGET);
    expect(r.interval!.upper).toBeGreaterThan(TELEMETRY_TARGET);
    expect(r.verdict).toMatch(/within noise/);
  });

  it("covers the true cost in about 95 % of noisy runs or more (distribution-free)", () => {
    let covered = 0;
    for (let seed = 0; seed < 400; seed++) {
      const r = telemetryCost(pairs(10, 0.15, 0.2, 100 + seed));
      // The true median pair cost: the speed noise is symmetric and shared, so 1 − on/off centres near 0.15.
      if (r.interval!.lower <= 0.15 && 0.15 <= r.interval!.upper) covered++;
    }
    expect(covered / 400).toBeGreaterThanOrEqual(0.9);
  });

  it("refuses no pairs, non-positive or non-finite rates and a bad level, naming the pair", () => {
    expect(() => telemetryCost([])).toThrow(RangeError);
    expect(() => telemetryCost([{ test: 1, reference: 1 }, { test: 0, reference: 1 }])).toThrow(/pairs\[1\]/);
    expect(() => telemetryCost([{ test: Number.NaN, reference: 1 }])).toThrow(/pairs\[0\]/);
    expect(() => telemetryCost([{ test: 1, reference: 1 }], 0.1, 1)).toThrow(/level/);
    expect(() => pairedFigure([1, Number.POSITIVE_INFINITY], 1, "lower")).toThrow(/pairs\[1\]/);
  });
});

describe("throughputRatio", () => {
  /** `n` pairs (console, bare) whose machine speed drifts by ±`noise` per block, the console reaching `share` of bare. */
  const ratioPairs = (n: number, share: number, noise: number, seed: number) => pairs(n, 1 - share, noise, seed);

  it("judges higher as better: a console at 95 % of bare meets ≥ 90 %, one at 70 % misses", () => {
    const fast = throughputRatio(ratioPairs(10, 0.95, 0.01, 5));
    expect(fast.estimate).toBeGreaterThan(0.9);
    expect(fast.verdict).toBe("met");
    const slow = throughputRatio(ratioPairs(10, 0.7, 0.01, 6));
    expect(slow.interval!.upper).toBeLessThan(0.9);
    expect(slow.verdict).toBe("missed");
    expect(throughputRatio(ratioPairs(10, 0.9, 0.3, 7)).verdict).toMatch(/within noise/);
  });

  it("is the median of console / bare", () => {
    expect(throughputRatio([{ test: 90, reference: 100 }, { test: 50, reference: 100 }, { test: 120, reference: 100 }]).estimate).toBeCloseTo(0.9, 12);
  });
});

describe("cpuRatio", () => {
  it("is the median of test / reference µs, judged against the CPU that 90 % of throughput allows (×1/0.9)", () => {
    const r = cpuRatio([{ test: 1200, reference: 1000 }, { test: 1100, reference: 1000 }, { test: 1500, reference: 1000 }]);
    expect(r.estimate).toBeCloseTo(1.2, 12);
    expect(r.verdict).toBe("missed (within noise)"); // 3 pairs give no interval
    // Quiet blocks: ×1.05 meets the ×1.11 a 90 % throughput allows, ×1.25 misses it.
    const blocks = (ratio: number) => Array.from({ length: 12 }, (_, i) => ({ test: 1000 * ratio * (1 + (i % 3) * 0.005), reference: 1000 }));
    expect(cpuRatio(blocks(1.05)).verdict).toBe("met");
    expect(cpuRatio(blocks(1.25)).verdict).toBe("missed");
  });

  it("refuses a block without CPU figures, naming it", () => {
    expect(() => cpuRatio([{ test: 1000, reference: 1000 }, { test: 1000, reference: 0 }])).toThrow(/pairs\[1\]/);
    expect(() => cpuRatio([{ test: Number.NaN, reference: 1000 }])).toThrow(/pairs\[0\]/);
  });
});

describe("cpuRatioOverProcessPairs", () => {
  const pair = (...ratios: number[]) => ratios.map((r) => ({ test: 1000 * r, reference: 1000 }));

  it("is the median over pairs of each pair's median block ratio, with the pairs' extremes as its interval", () => {
    // Session 41's six fresh pairs (whole process): each pair's blocks read around its own ratio.
    const r = cpuRatioOverProcessPairs([pair(1.10, 1.09, 1.12, 1.10), pair(1.08, 1.09, 1.086, 1.07), pair(1.084, 1.08, 1.09), pair(1.074, 1.06, 1.08), pair(1.069, 1.069, 1.2, 1.0), pair(1.087, 1.087)]);
    // Pair medians: 1.100, 1.083, 1.084, 1.074, 1.069, 1.087 → median (1.083 + 1.084) / 2.
    expect(r.pairs.map((p) => Number(p.toFixed(3)))).toEqual([1.1, 1.083, 1.084, 1.074, 1.069, 1.087]);
    expect(r.estimate).toBeCloseTo(1.0835, 12);
    expect(r.interval).toMatchObject({ lower: 1.069, upper: 1.1 });
    expect(r.interval!.coverage).toBeCloseTo(1 - 2 * 0.5 ** 6, 12);
    expect(r.verdict).toBe("met"); // every pair under ×1/0.9
  });

  it("reads one pair's outlying blocks as that pair's, not as six samples", () => {
    // One pair's twelve blocks all at ×1.3 and five pairs at ×1.05: one process pair cannot carry the figure.
    const r = cpuRatioOverProcessPairs([pair(...Array(12).fill(1.3)), pair(1.05), pair(1.05), pair(1.05), pair(1.05), pair(1.05)]);
    expect(r.estimate).toBeCloseTo(1.05, 12);
    expect(r.verdict).toBe("met (within noise)"); // the interval reaches the ×1.3 pair
  });

  it("misses when every pair is over the line", () => {
    expect(cpuRatioOverProcessPairs([pair(1.2), pair(1.15), pair(1.13), pair(1.2), pair(1.3), pair(1.12)]).verdict).toBe("missed");
  });

  it("refuses a pair without blocks and a block without CPU figures, naming them", () => {
    expect(() => cpuRatioOverProcessPairs([])).toThrow(RangeError);
    expect(() => cpuRatioOverProcessPairs([pair(1), []])).toThrow(/pairs\[1\]/);
    expect(() => cpuRatioOverProcessPairs([pair(1), [{ test: 1000, reference: 0 }]])).toThrow(/pairs\[1\]\[0\]/);
  });
});

describe("telemetryCpuCost", () => {
  it("is the median of 1 − off/on µs per request: the throughput share telemetry takes from a one-core-bound server", () => {
    // 1000 µs on, 880 off: the server serves 0.88 as many requests, a cost of 0.12.
    const r = telemetryCpuCost([{ test: 1000, reference: 880 }, { test: 1000, reference: 800 }, { test: 1000, reference: 950 }]);
    expect(r.estimate).toBeCloseTo(0.12, 12);
    expect(r.verdict).toBe("missed (within noise)"); // 3 pairs give no interval
    const blocks = (cost: number) => Array.from({ length: 12 }, (_, i) => ({ test: 1000 * (1 + (i % 3) * 0.004), reference: 1000 * (1 - cost) * (1 + (i % 3) * 0.004) }));
    expect(telemetryCpuCost(blocks(0.05)).verdict).toBe("met");
    expect(telemetryCpuCost(blocks(0.2)).verdict).toBe("missed");
  });

  it("refuses a block without CPU figures, naming it", () => {
    expect(() => telemetryCpuCost([{ test: 1000, reference: 900 }, { test: 0, reference: 900 }])).toThrow(/pairs\[1\]/);
  });
});
