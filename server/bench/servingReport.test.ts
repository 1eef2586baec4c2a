import { describe, expect, it } from "vitest";
import { createRng } from "../domain/random";
import { cpuRatio, pairedFigure, telemetryCost, telemetryCpuCost, TELEMETRY_TARGET, throughputRatio } from "./servingReport";

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
