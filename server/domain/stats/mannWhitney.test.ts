import { describe, expect, it } from "vitest";
import { hodgesLehmann, mannWhitneyU } from "./mannWhitney";
import { newcombeDifference, wilsonInterval } from "./proportions";

// References: scipy 1.17.1, mannwhitneyu(x, y, method="asymptotic", use_continuity=True), and the
// pairwise differences listed and sorted by numpy (the Hodges–Lehmann median and the order
// statistics the interval picks); Newcombe (1998) Table II, method 10, for the proportion differences.

const A = [2.7, 3.2, 2.4, 1.7, 2.2, 1.7, 2.8, 5.3, 2.1, 2.0, 3.5, 3.2, 2.9, 1.7, 2.7, 3.8, 1.4, 2.2, 1.1, 1.4, 1.1, 2.4, 1.4, 3.1, 2.9, 2.5, 0.8, 2.1, 2.7, 2.9, 1.3, 2.1, 1.7, 1.8, 4.6, 1.8, 2.7, 4.2, 2.0, 2.6];
const B = [
  3.5, 3.4, 1.8, 3.4, 6.5, 1.5, 5.1, 3.5, 2.4, 9.0, 4.9, 1.8, 3.4, 4.4, 3.0, 4.7, 3.2, 4.6, 6.8, 2.4, 3.7, 2.6, 3.5, 1.8, 2.5, 3.0, 5.2, 5.9,
  1.7, 2.2, 4.6, 1.2, 2.6, 3.2, 6.2, 4.7, 2.8, 2.8, 2.9, 7.1, 2.7, 2.9, 4.0, 3.1, 3.0, 1.9, 3.3, 2.7, 5.9, 4.6, 3.3, 4.6, 2.8, 5.6, 3.3,
];

describe("mannWhitneyU", () => {
  it("matches scipy on small samples with ties", () => {
    const r = mannWhitneyU([1.1, 2.2, 2.2, 3.5, 4.0, 4.0, 4.0, 7.3, 8.8], [0.5, 2.2, 3.0, 3.0, 4.0, 5.1, 6.0, 6.0, 9.9, 10.2, 11.0]);
    expect(r.u).toBe(37.5);
    expect(r.pValue).toBeCloseTo(0.3794007474248072, 12);
  });

  it("matches scipy on two rounded log-normal samples (many ties)", () => {
    const r = mannWhitneyU(A, B);
    expect(r.u).toBe(510);
    expect(r.pValue).toBeCloseTo(8.729476826513274e-6, 15);
    expect(r.pValue / 8.729476826513274e-6).toBeCloseTo(1, 9);
  });

  it("is symmetric, does not move for one outlier beyond the others, and refuses empty samples", () => {
    const swapped = mannWhitneyU(B, A);
    expect(swapped.u).toBe(A.length * B.length - 510);
    expect(swapped.pValue).toBeCloseTo(mannWhitneyU(A, B).pValue, 14);
    expect(mannWhitneyU([...A.slice(0, -1), 1000], B)).toEqual(mannWhitneyU([...A.slice(0, -1), 10], B));
    expect(mannWhitneyU([1, 1, 1], [1, 1])).toMatchObject({ pValue: 1, z: 0 });
    expect(() => mannWhitneyU([], [1])).toThrow("two non-empty samples");
  });
});

describe("hodgesLehmann", () => {
  it("is the median of the pairwise differences, with the order statistics of the interval (numpy)", () => {
    const r95 = hodgesLehmann(A, B, 0.95);
    expect(r95.estimate).toBeCloseTo(-1.1, 12);
    // k = 840 and 758 at 95 % and 99 %: D(840) = −1.6, D(1361) = −0.6; D(758) = −1.8, D(1443) = −0.5.
    expect([r95.lower, r95.upper]).toEqual([expect.closeTo(-1.6, 12), expect.closeTo(-0.6, 12)]);
    const r99 = hodgesLehmann(A, B, 0.99);
    expect([r99.lower, r99.upper]).toEqual([expect.closeTo(-1.8, 12), expect.closeTo(-0.5, 12)]);
  });

  it("finds the exact shift of a shifted copy and brackets it; the median of an even count averages the middle pair", () => {
    const y = Array.from({ length: 200 }, (_, i) => Math.exp(Math.sin(i * 12.9898) * 0.8) * 10);
    const r = hodgesLehmann(y.map((v) => v + 3), y);
    expect(r.estimate).toBeCloseTo(3, 9);
    expect(r.lower).toBeLessThan(3);
    expect(r.upper).toBeGreaterThan(3);
    expect(hodgesLehmann([1, 2], [0, 10]).estimate).toBe(-3.5); // differences −9, −8, 1, 2
    expect(() => hodgesLehmann([1], [2], 1)).toThrow("confidence");
  });
});

describe("proportion intervals", () => {
  it("Wilson matches scipy's binomtest(...).proportion_ci(method='wilson')", () => {
    expect(wilsonInterval(0, 20)).toEqual({ lower: 0, upper: expect.closeTo(0.16112515805281935, 12) });
    expect(wilsonInterval(5, 50)).toEqual({ lower: expect.closeTo(0.04347576493189041, 12), upper: expect.closeTo(0.21360231437479654, 12) });
    expect(wilsonInterval(20, 20)).toEqual({ lower: expect.closeTo(0.8388748419471808, 12), upper: 1 });
    expect(wilsonInterval(0, 0)).toEqual({ lower: 0, upper: 1 });
  });

  it.each([
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ])("Newcombe's method 10 for %i/%i − %i/%i is [%f, %f] (his Table II)", (k1, n1, k2, n2, lower, upper) => {
    const r = newcombeDifference(k1, n1, k2, n2);
    expect(r.lower).toBeCloseTo(lower, 4);
    expect(r.upper).toBeCloseTo(upper, 4);
    expect(r.estimate).toBeCloseTo(k1 / n1 - k2 / n2, 12);
  });
});

describe("hodgesLehmann on large samples", () => {
  it("agrees with the sorted list of all differences, with and without heavy ties", () => {
    for (const quantum of [0, 0.5]) {
      const round = (v: number) => (quantum ? Math.round(v / quantum) * quantum : v);
      const x = Array.from({ length: 300 }, (_, i) => round(20 * Math.exp(Math.sin(i * 7.31) * 0.6)));
      const y = Array.from({ length: 410 }, (_, i) => round(19 * Math.exp(Math.cos(i * 3.17) * 0.6)));
      const all = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
      const r = hodgesLehmann(x, y, 0.9);
      expect(r.estimate).toBe((all[all.length / 2 - 1]! + all[all.length / 2]!) / 2);
      const k = Math.floor(all.length / 2 - 1.6448536269514722 * mannWhitneyU(x, y).sigma);
      expect([r.lower, r.upper]).toEqual([all[k - 1], all[all.length - k]]);
    }
    expect(hodgesLehmann(Array(2000).fill(3), Array(5000).fill(3))).toMatchObject({ estimate: 0, lower: 0, upper: 0 });
  });
});
