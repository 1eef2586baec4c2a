import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { quantileInterval } from "./quantiles";

describe("quantiles", () => {
  it("gives no interval for a p95 from too few values, and one of the stated coverage otherwise", () => {
    const values = Array.from({ length: 40 }, (_, i) => i);
    expect(quantileInterval(values, 0.95, 0.975)).toBeNull();
    const big = Array.from({ length: 1000 }, (_, i) => i);
    const ci = quantileInterval(big, 0.95, 0.95)!;
    // B ~ Bin(1000, 0.95): sd 6.9, so the ranks are about 950 ± 1.96·6.9 = 936 … 964.
    expect(ci.lower).toBeGreaterThanOrEqual(934);
    expect(ci.lower).toBeLessThanOrEqual(938);
    expect(ci.upper).toBeGreaterThanOrEqual(962);
    expect(ci.upper).toBeLessThanOrEqual(966);
    expect(ci.coverage).toBeGreaterThanOrEqual(0.95);
  });

  it("covers the true p95 of an exponential at least 95 % of the time", () => {
    const rng = createRng(95);
    const truth = -Math.log(0.05); // p95 of Exp(1)
    let covered = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      const sample = Array.from({ length: 300 }, () => -Math.log(1 - rng.next())).sort((a, b) => a - b);
      const ci = quantileInterval(sample, 0.95, 0.95)!;
      if (ci.lower <= truth && truth <= ci.upper) covered++;
    }
    // Binomial se at 95 % over 400 runs is 1.1 points.
    expect(covered / runs).toBeGreaterThan(0.925);
  });
});
