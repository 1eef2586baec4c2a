import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { commonRange, histogram, quantileSorted, relativeChange } from "./describe";

describe("quantileSorted", () => {
  it("interpolates between order statistics (R type 7)", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48, 12);
    expect(quantileSorted([], 0.5)).toBeNaN();
    expect(() => quantileSorted([1], 1.5)).toThrow("quantile must be within [0, 1], got 1.5");
  });

  it("is monotone in q and stays within the sample", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, a, b) => {
        const sorted = [...xs].sort((x, y) => x - y);
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(quantileSorted(sorted, lo)).toBeLessThanOrEqual(quantileSorted(sorted, hi));
        expect(quantileSorted(sorted, lo)).toBeGreaterThanOrEqual(sorted[0]!);
        expect(quantileSorted(sorted, hi)).toBeLessThanOrEqual(sorted.at(-1)!);
      }),
    );
  });
});

describe("histogram", () => {
  it("counts a value on a bin edge in the bin it opens (break test: overlap@10 of 0.3, 0.6, 0.7 and τ of −0.8, 0.4, −0.6, 0.2 fell one bin low)", () => {
    const counts = (values: number[], min: number, max: number) => histogram(values, { min, max, bins: 10 }).map((b) => b.count);
    expect(counts([0.3, 0.6, 0.7], 0, 1)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0]);
    expect(counts([-0.8, 0.4, -0.6, 0.2], -1, 1)).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 0, 0]);
    // Every k/10 an overlap@10 can take lands in bin k (10/10 in the last, which includes max).
    expect(counts(Array.from({ length: 11 }, (_, k) => k / 10), 0, 1)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
  });

  it("bins values by width, includes max in the last bin, clamps outliers and skips non-finite values", () => {
    const bins = histogram([0, 0.05, 0.1, 0.55, 1, 1.7, -3, Number.NaN, Infinity], { min: 0, max: 1, bins: 10 });
    expect(bins).toHaveLength(10);
    expect(bins.map((b) => b.count)).toEqual([3, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(bins[0]).toMatchObject({ from: 0, to: 0.1 });
    expect(bins[9]!.to).toBe(1);
  });

  it("keeps every finite value", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true })), fc.integer({ min: 1, max: 30 }), (xs, n) => {
        expect(histogram(xs, { min: -1, max: 1, bins: n }).reduce((s, b) => s + b.count, 0)).toBe(xs.length);
      }),
    );
  });

  it("refuses an empty range or a bad bin count", () => {
    expect(() => histogram([1], { min: 1, max: 1, bins: 3 })).toThrow("max (1) must exceed min (1)");
    expect(() => histogram([1], { min: 0, max: 1, bins: 0 })).toThrow("bins must be a positive integer, got 0");
  });
});

describe("commonRange", () => {
  it("spans both samples and widens a single value", () => {
    expect(commonRange([1, 5], [-2, 3])).toEqual({ min: -2, max: 5 });
    expect(commonRange([2, 2])).toEqual({ min: 1.5, max: 2.5 });
    expect(commonRange([], [Number.NaN])).toEqual({ min: 0, max: 1 });
  });
});

describe("relativeChange", () => {
  it("is the change as a share of the previous value, null when it cannot be said", () => {
    expect(relativeChange(0.06, 0.05)).toBeCloseTo(0.2, 12);
    expect(relativeChange(90, 100)).toBeCloseTo(-0.1, 12);
    expect(relativeChange(-1, -2)).toBeCloseTo(0.5, 12);
    expect(relativeChange(5, 0)).toBeNull();
    expect(relativeChange(null, 3)).toBeNull();
    expect(relativeChange(3, null)).toBeNull();
    expect(relativeChange(Number.NaN, 3)).toBeNull();
  });
});
