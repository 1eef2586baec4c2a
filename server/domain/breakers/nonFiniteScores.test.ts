import { describe, expect, it } from "vitest";
import { EXTREME_INPUT, judgeNonFiniteScores } from "./nonFiniteScores";

const f32 = (values: number[]) => Float32Array.from(values);

describe("judgeNonFiniteScores", () => {
  it("is null when every score is finite, whatever the inputs", () => {
    expect(judgeNonFiniteScores(f32([0.5, -2, 3e38]), f32([1, 2, 3e38, 3e38, 0, 0]), 3, 2)).toBeNull();
  });

  it("NaN for every row of ordinary inputs is the model's fault", () => {
    expect(judgeNonFiniteScores(f32([NaN, NaN, NaN]), f32([0.1, 5, 1e6, -3, 0, 0]), 3, 2)).toEqual({ row: 0, value: NaN, rows: 3, inputDependent: false });
  });

  it("Infinity on the one row with an extreme input, finite elsewhere, is the caller's", () => {
    expect(judgeNonFiniteScores(f32([1, Infinity, 2]), f32([1, 1, 3e38, 1, 2, 2]), 3, 2)).toEqual({ row: 1, value: Infinity, rows: 1, inputDependent: true });
  });

  it("every row non-finite, every row extreme (an overflow on all of them) is still the caller's", () => {
    expect(judgeNonFiniteScores(f32([Infinity, -Infinity]), f32([3e38, 0, 0, -3e38]), 2, 2)).toMatchObject({ rows: 2, inputDependent: true });
  });

  it("one non-finite row of ordinary inputs makes it the model's, even beside extreme ones", () => {
    expect(judgeNonFiniteScores(f32([Infinity, NaN]), f32([3e38, 0, 1, 1]), 2, 2)).toEqual({ row: 0, value: Infinity, rows: 2, inputDependent: false });
  });

  it("draws the line at 2^64: just below is ordinary, at it is extreme; a non-finite input is extreme", () => {
    const below = Math.fround(EXTREME_INPUT * (1 - 2 ** -20));
    expect(below).toBeLessThan(EXTREME_INPUT);
    expect(judgeNonFiniteScores([NaN], [below], 1, 1)?.inputDependent).toBe(false);
    expect(judgeNonFiniteScores([NaN], [-EXTREME_INPUT], 1, 1)?.inputDependent).toBe(true);
    expect(judgeNonFiniteScores([NaN], [NaN], 1, 1)?.inputDependent).toBe(true);
  });

  it("refuses inputs of the wrong size", () => {
    expect(() => judgeNonFiniteScores([1, 2], [1, 2, 3], 2, 2)).toThrow("data holds 3 values, not rows × cols = 2 × 2");
  });
});
