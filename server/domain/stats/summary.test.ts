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
    // y = 1..5: n = 5, Σy = 15, Σy² = 55; mean 3, s² = (55 − 15²/5)/4 = (55 − 45)/4 = 2.5.
    const s = summarizeMean([1, 2, 3, 4, 5]);
    expect(s).toEqual({ n: 5, sum: 15, sumSq: 55 });
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
    // Users with (clicks, impressions) = (1, 2), (0, 2), (2, 4), (1, 4):
    // ΣY = 4, ΣX = 12, ΣY² = 6, ΣX² = 40, ΣXY = 2 + 0 + 8 + 4 = 14.
    const s = summarizeRatio([
      { numerator: 1, denominator: 2 },
      { numerator: 0, denominator: 2 },
      { numerator: 2, denominator: 4 },
      { numerator: 1, denominator: 4 },
    ]);
    expect(s).toEqual({ n: 4, sumX: 12, sumY: 4, sumX2: 40, sumY2: 6, sumXY: 14 });
    // s²_Y = (6 − 16/4)/3 = 2/3, s²_X = (40 − 144/4)/3 = 4/3, s_XY = (14 − 4·12/4)/3 = 2/3.
    const d = describePaired(s);
    expect(d.varianceY).toBeCloseTo(2 / 3, 14);
    expect(d.varianceX).toBeCloseTo(4 / 3, 14);
    expect(d.covariance).toBeCloseTo(2 / 3, 14);
  });

  it("keeps Y = metric and X = pre-experiment value for CUPED", () => {
    const s = summarizeWithCovariate([{ value: 5, preExperiment: 2 }]);
    expect(s).toEqual({ n: 1, sumX: 2, sumY: 5, sumX2: 4, sumY2: 25, sumXY: 10 });
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
