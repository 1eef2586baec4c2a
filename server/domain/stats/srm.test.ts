import { describe, expect, it } from "vitest";
import { srmCheck } from "./srm";

describe("sample-ratio mismatch", () => {
  it("50/50 with 5050 vs 4950: χ² = 1, p = 0.3173", () => {
    // E = 5000 each; χ² = 50²/5000 + 50²/5000 = 0.5 + 0.5 = 1 on 1 df;
    // P(χ²₁ ≥ 1) = P(|Z| ≥ 1) = 0.3173105.
    const r = srmCheck([5050, 4950], [50, 50]);
    expect(r.chiSquare).toBeCloseTo(1, 12);
    expect(r.df).toBe(1);
    expect(r.pValue).toBeCloseTo(0.3173105, 7);
    expect(r.mismatch).toBe(false);
  });

  it("three equal variants with 1000 / 1100 / 900: χ² = 20 on 2 df, p = e⁻¹⁰", () => {
    // E = 1000 each; χ² = (0 + 100² + 100²)/1000 = 20; with 2 df the upper tail is e^(−x/2) = e⁻¹⁰
    // = 4.539993e-5 < 0.001 ⇒ mismatch.
    const r = srmCheck([1000, 1100, 900], [1, 1, 1]);
    expect(r.chiSquare).toBeCloseTo(20, 12);
    expect(r.pValue).toBeCloseTo(Math.exp(-10), 12);
    expect(r.mismatch).toBe(true);
  });

  it("uneven split 80/20 with 820 vs 180", () => {
    // E = 800 and 200; χ² = 20²/800 + 20²/200 = 0.5 + 2 = 2.5; p = P(|Z| ≥ √2.5 = 1.5811388) = 0.1138463.
    const r = srmCheck([820, 180], [0.8, 0.2]);
    expect(r.expectedCounts).toEqual([800, 200]);
    expect(r.chiSquare).toBeCloseTo(2.5, 12);
    expect(r.pValue).toBeCloseTo(0.1138463, 7);
  });

  it("handles empty experiments and rejects malformed input", () => {
    expect(srmCheck([0, 0], [1, 1])).toMatchObject({ pValue: 1, mismatch: false });
    expect(() => srmCheck([1, 2], [1])).toThrow(RangeError);
    expect(() => srmCheck([1, 2], [1, 0])).toThrow(RangeError);
    expect(() => srmCheck([5], [1])).toThrow(RangeError);
  });
});
