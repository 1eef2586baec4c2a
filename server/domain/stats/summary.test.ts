import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  describeMean,
  describePaired,
  mergeMeanSummaries,
  mergePairedSummaries,
  summarizeMean,
  summarizeProportion,
  summarizeRatio,
  summarizeWithCovariate,
} from "./summary";

describe("sufficient statistics", () => {
  it("summarises per-unit values into n, Σy, Σy² and recovers mean and sample variance", () => {
    // y = 1..5, shifted by the first value: y − 1 = 0..4, Σ = 10, Σ² = 30; mean 1 + 10/5 = 3,
    // s² = (30 − 10²/5)/4 = 2.5.
    const s = summarizeMean([1, 2, 3, 4, 5]);
    expect(s).toEqual({ n: 5, sum: 10, sumSq: 30, shift: 1 });
    expect(describeMean(s)).toEqual({ n: 5, mean: 3, variance: 2.5 });
  });

  it("summarises a proportion from counts: Σy = Σy² = conversions", () => {
    // 30 of 100 converted: mean 0.3, s² = (30 − 900/100)/99 = 21/99 = 0.2121212 (= p(1 − p)·n/(n − 1)).
    const d = describeMean(summarizeProportion(100, 30));
    expect(d.mean).toBe(0.3);
    expect(d.variance).toBeCloseTo(21 / 99, 14);
    expect(() => summarizeProportion(10, 11)).toThrow(RangeError);
  });

  it("keeps Y = numerator and X = denominator for ratio metrics", () => {
    // Users with (clicks, impressions) = (1, 2), (0, 2), (2, 4), (1, 4), shifted by the first unit
    // (Y − 1, X − 2) = (0, 0), (−1, 0), (1, 2), (0, 2): ΣY = 0, ΣX = 4, ΣY² = 2, ΣX² = 8, ΣXY = 2.
    const s = summarizeRatio([
      { numerator: 1, denominator: 2 },
      { numerator: 0, denominator: 2 },
      { numerator: 2, denominator: 4 },
      { numerator: 1, denominator: 4 },
    ]);
    expect(s).toEqual({ n: 4, sumX: 4, sumY: 0, sumX2: 8, sumY2: 2, sumXY: 2, shiftX: 2, shiftY: 1 });
    // s²_Y = (2 − 0)/3 = 2/3, s²_X = (8 − 16/4)/3 = 4/3, s_XY = (2 − 0)/3 = 2/3; means 1 and 3.
    const d = describePaired(s);
    expect(d.varianceY).toBeCloseTo(2 / 3, 14);
    expect(d.varianceX).toBeCloseTo(4 / 3, 14);
    expect(d.covariance).toBeCloseTo(2 / 3, 14);
    expect([d.meanY, d.meanX]).toEqual([1, 3]);
  });

  it("keeps Y = metric and X = pre-experiment value for CUPED", () => {
    const s = summarizeWithCovariate([{ value: 5, preExperiment: 2 }]);
    expect(s).toEqual({ n: 1, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0, shiftX: 2, shiftY: 5 });
    expect(describePaired(s)).toMatchObject({ meanX: 2, meanY: 5 });
  });

  it("rejects non-finite values and reports NaN variance below two units", () => {
    expect(() => summarizeMean([1, NaN])).toThrow(RangeError);
    expect(describeMean(summarizeMean([4])).variance).toBeNaN();
    expect(describeMean(summarizeMean([])).mean).toBeNaN();
  });

  it("merging summaries of batches equals summarising all rows at once", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 30 }),
        (a, b) => {
          expect(mergeMeanSummaries(summarizeMean(a), summarizeMean(b))).toEqual(summarizeMean([...a, ...b]));
          const pairs = (xs: number[]) => xs.map((x, i) => ({ numerator: x, denominator: i }));
          expect(mergePairedSummaries(summarizeRatio(pairs(a)), summarizeRatio(pairs(b)))).toEqual(
            summarizeRatio([...pairs(a), ...pairs(b)]),
          );
        },
      ),
    );
  });
});
