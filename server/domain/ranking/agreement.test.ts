import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kendallTau, overlapAtK, rankBiasedOverlap, rankingAgreement, sampledForShadow, spearmanRho } from "./agreement";

// Integer scores: a monotone transform (3v + 7) of them stays exact, so it cannot create or break ties.
const scoresArb = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 60 });

describe("overlapAtK", () => {
  it("counts the shared ids of the two top-k lists over k", () => {
    expect(overlapAtK(["a", "b", "c", "d"], ["b", "a", "x", "c"], 2)).toBe(1);
    expect(overlapAtK(["a", "b", "c", "d"], ["b", "a", "x", "c"], 3)).toBeCloseTo(2 / 3, 12);
    expect(overlapAtK(["a", "b", "c", "d"], ["w", "x", "y", "z"], 4)).toBe(0);
  });

  it("divides by the longer list when both are shorter than k, and is 1 for two empty lists", () => {
    expect(overlapAtK(["a", "b"], ["a", "b", "c"], 10)).toBeCloseTo(2 / 3, 12);
    expect(overlapAtK([], [], 10)).toBe(1);
    expect(overlapAtK(["a"], [], 10)).toBe(0);
  });

  it("is symmetric and within [0, 1]", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }), fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }), fc.integer({ min: 1, max: 25 }), (x, y, k) => {
        const a = x.map(String);
        const b = y.map(String);
        const v = overlapAtK(a, b, k);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(v).toBeCloseTo(overlapAtK(b, a, k), 12);
      }),
    );
  });
});

describe("rankBiasedOverlap (RBO_ext)", () => {
  const alphabet = [..."abcdefghijklmnopqrstuvwxyz"];

  it("matches hand-computed values of eq. 30 (equal lengths) and eq. 32 (uneven)", () => {
    // X = 0, 1, 2, 4, 5 at depths 1–5: (0.1/0.9)(0.5·0.81 + (2/3)·0.729 + 0.6561 + 0.59049) + 0.59049 = 0.828.
    expect(rankBiasedOverlap(["1", "2", "3", "4", "5"], ["2", "3", "4", "1", "5"], 0.9)).toBeCloseTo(0.828, 12);
    // s = 1, l = 2, X_1 = X_2 = 1: (0.5/0.5)(0.5 + 0.5·0.25 + 1·(1/2)·0.25) + (0 + 1)·0.25 = 1.
    expect(rankBiasedOverlap(["a"], ["a", "b"], 0.5)).toBeCloseTo(1, 12);
    // s = 1, l = 2, X_1 = 0, X_2 = 1 (a is second in the long list): (1)(0 + 0.5·0.25) + (1/2 − 0)·0.25 = 0.25.
    expect(rankBiasedOverlap(["a"], ["b", "a"], 0.5)).toBeCloseTo(0.25, 12);
  });

  it("matches William Webber's reference implementation (alphabet against shorter lists)", () => {
    // Values from Webber's own RBO code as published with the mpetri/rbo crate's tests
    // (test_data/uneven_abc.json, 6 decimals): the alphabet against each list, RBO_ext.
    const cases: Array<[string, number, number]> = [
      ["av", 0.2, 0.9],
      ["aptkn", 0.2, 0.892587],
      ["bncxagm", 0.2, 0.105466],
      ["auzemcwhrtjvbfqxyk", 0.4, 0.772647],
      ["ma", 0.4, 0.200001],
      ["afdqwtvehcpubinloygrs", 0.4, 0.78233],
      ["bafnecwvlog", 0.9, 0.620766],
      ["h", 0.9, 0.035657],
      ["fcjdeoa", 0.9, 0.557926],
      ["aepkowszxtrjbgdhqnlm", 0.9, 0.508198],
      ["kxcnarvmwyp", 0.99, 0.529392],
      ["cgpadjwrxqzktnmlouhebsfv", 0.99, 0.901064],
      ["l", 0.99, 0.03666],
    ];
    for (const [other, p, expected] of cases) {
      expect(rankBiasedOverlap(alphabet, [...other], p), `${other} at p=${p}`).toBeCloseTo(expected, 5);
      expect(rankBiasedOverlap([...other], alphabet, p)).toBeCloseTo(expected, 5);
    }
  });

  it("is 1 for identical lists, 0 for disjoint ones and against an empty list", () => {
    expect(rankBiasedOverlap(alphabet, alphabet)).toBe(1);
    expect(rankBiasedOverlap([], [])).toBe(1);
    expect(rankBiasedOverlap(["a", "b"], ["c", "d"])).toBe(0);
    expect(rankBiasedOverlap(["a"], [])).toBe(0);
  });

  it("weighs the top: a swap at the top costs more than the same swap at the bottom", () => {
    const top = rankBiasedOverlap(["a", "b", "c", "d"], ["b", "a", "c", "d"]);
    const bottom = rankBiasedOverlap(["a", "b", "c", "d"], ["a", "b", "d", "c"]);
    expect(top).toBeLessThan(bottom);
  });

  it("refuses a persistence outside (0, 1) and repeated ids", () => {
    expect(() => rankBiasedOverlap(["a"], ["a"], 1)).toThrow("RBO persistence p must be in (0, 1) (got 1)");
    expect(() => rankBiasedOverlap(["a"], ["a"], 0)).toThrow(RangeError);
    expect(() => rankBiasedOverlap(["a", "a"], ["a", "b"])).toThrow('"a" appears twice in one ranking');
  });

  it("is symmetric and within [0, 1]", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 25 }), fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 25 }), fc.double({ min: 0.05, max: 0.99, noNaN: true }), (x, y, p) => {
        const a = x.map(String);
        const b = y.map(String);
        const v = rankBiasedOverlap(a, b, p);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(v).toBeCloseTo(rankBiasedOverlap(b, a, p), 12);
      }),
    );
  });
});

describe("kendallTau and spearmanRho", () => {
  it("are 1 for the same ordering and −1 for the reversed one", () => {
    const a = [5, 4, 3, 2, 1];
    expect(kendallTau(a, [50, 40, 30, 20, 10])).toBe(1);
    expect(spearmanRho(a, [50, 40, 30, 20, 10])).toBe(1);
    expect(kendallTau(a, [1, 2, 3, 4, 5])).toBe(-1);
    expect(spearmanRho(a, [1, 2, 3, 4, 5])).toBe(-1);
  });

  it("match hand-computed values for one swap", () => {
    // Orders 0,1,2,3 vs 1,0,2,3: one discordant pair of six → τ = (5 − 1) / 6; Σd² = 2 → ρ = 1 − 12/60.
    expect(kendallTau([4, 3, 2, 1], [3, 4, 2, 1])).toBeCloseTo(4 / 6, 12);
    expect(spearmanRho([4, 3, 2, 1], [3, 4, 2, 1])).toBeCloseTo(0.8, 12);
  });

  it("count equal scores as ties (τ-b, midrank ρ): scipy.stats.kendalltau / spearmanr 1.17.1's values", () => {
    // Break test of shadow comparisons: ties were broken by input position on both sides, so two models
    // that scored every candidate the same read τ = ρ = 1 ("perfect agreement"), and shared ties inflated τ.
    const reference: Array<[number[], number[], number, number]> = [
      [[3, 3, 2, 1, 1], [1, 2, 2, 3, 3], -0.8749999999999999, -0.9166666666666666],
      [[1, 2, 2, 3, 4, 4, 4, 5], [2, 1, 2, 3, 3, 5, 4, 4], 0.6940220937885673, 0.8313149490175622],
      [[0.5, 0.5, 0.5, 0.2], [0.9, 0.1, 0.5, 0.3], 0.2357022603955159, 0.2581988897471611],
      [[4, 3, 2, 1], [3, 4, 2, 1], 0.6666666666666669, 0.7999999999999999],
    ];
    for (const [a, b, tau, rho] of reference) {
      expect(kendallTau(a, b)).toBeCloseTo(tau, 12);
      expect(spearmanRho(a, b)).toBeCloseTo(rho, 12);
    }
  });

  it("are null when either side scores every candidate the same (0/0; scipy says nan), not 1", () => {
    expect(kendallTau([1, 1, 1], [3, 2, 1])).toBeNull();
    expect(spearmanRho([1, 1, 1], [3, 2, 1])).toBeNull();
    expect(kendallTau([0.25, 0.25], [0.25, 0.25])).toBeNull();
    expect(rankingAgreement(["a"], ["a"], [2, 2, 2], [2, 2, 2])).toMatchObject({ kendallTau: null, spearmanRho: null, overlapAt10: 1 });
  });

  it("are null below two candidates and refuse vectors of different lengths", () => {
    expect(kendallTau([1], [2])).toBeNull();
    expect(spearmanRho([], [])).toBeNull();
    expect(() => kendallTau([1, 2], [1, 2, 3])).toThrow("score vectors differ in length: 2 vs 3");
  });

  it("are symmetric, within [−1, 1], and unchanged by a monotone transform of either side", () => {
    fc.assert(
      fc.property(scoresArb.chain((a) => fc.tuple(fc.constant(a), fc.array(fc.integer({ min: -50, max: 50 }), { minLength: a.length, maxLength: a.length }))), ([a, b]) => {
        const tau = kendallTau(a, b);
        const rho = spearmanRho(a, b);
        const constant = (v: number[]) => v.every((x) => x === v[0]);
        if (constant(a) || constant(b)) {
          expect([tau, rho]).toEqual([null, null]);
          return;
        }
        expect(Math.abs(tau!)).toBeLessThanOrEqual(1);
        expect(Math.abs(rho!)).toBeLessThanOrEqual(1);
        expect(kendallTau(b, a)).toBeCloseTo(tau!, 12);
        expect(spearmanRho(b, a)).toBeCloseTo(rho!, 12);
        expect(kendallTau(a.map((v) => 3 * v + 7), b)).toBeCloseTo(tau!, 12);
        expect(spearmanRho(a.map((v) => 3 * v + 7), b)).toBeCloseTo(rho!, 12);
        expect(kendallTau(a, a)).toBeCloseTo(1, 12);
        expect(spearmanRho(a, a)).toBeCloseTo(1, 12);
      }),
    );
  });
});

describe("kendallTau against the pairwise definition", () => {
  // The O(n²) definition of τ-b: Σ sign(a_i − a_j)·sign(b_i − b_j) / √(pairs untied in a · pairs untied in b).
  const naive = (a: number[], b: number[]) => {
    let balance = 0;
    let untiedA = 0;
    let untiedB = 0;
    for (let i = 0; i < a.length; i++) {
      for (let j = i + 1; j < a.length; j++) {
        balance += Math.sign(a[i]! - a[j]!) * Math.sign(b[i]! - b[j]!);
        if (a[i] !== a[j]) untiedA++;
        if (b[i] !== b[j]) untiedB++;
      }
    }
    return untiedA === 0 || untiedB === 0 ? null : balance / Math.sqrt(untiedA * untiedB);
  };
  const close = (actual: number | null, expected: number | null) => (expected === null ? expect(actual).toBeNull() : expect(actual).toBeCloseTo(expected, 12));

  it("agrees with the O(n²) count on random score vectors, ties included", () => {
    fc.assert(
      fc.property(scoresArb.chain((a) => fc.tuple(fc.constant(a), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: a.length, maxLength: a.length }))), ([a, b]) => {
        close(kendallTau(a, b), naive(a, b));
        close(rankingAgreement([], [], a, b).kendallTau, naive(a, b));
      }),
    );
  });

  it("handles a thousand candidates", () => {
    const a = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const b = a.map((v, i) => v + (i % 7) * 0.01);
    close(kendallTau(a, b), naive(a, b));
    // With many ties on both sides (scores rounded to 0.1, as shallow trees give).
    const round = (v: number) => Math.round(v * 10) / 10;
    close(kendallTau(a.map(round), b.map(round)), naive(a.map(round), b.map(round)));
  });
});

describe("rankingAgreement", () => {
  it("combines the served-list overlap with the full-ordering correlations", () => {
    const r = rankingAgreement(["a", "b"], ["b", "c"], [3, 2, 1], [2, 3, 1]);
    expect(r.overlapAt10).toBe(0.5);
    // X_1 = 0, X_2 = 1: (0.1/0.9)(0.5 · 0.81) + 0.5 · 0.81.
    expect(r.rbo).toBeCloseTo(0.045 + 0.405, 12);
    expect(r.kendallTau).toBeCloseTo(1 / 3, 12);
    expect(r.spearmanRho).toBeCloseTo(0.5, 12);
  });
});

describe("sampledForShadow", () => {
  it("never samples at rate 0, always at rate 1, and samples about `rate` of uniform hashes", () => {
    expect(sampledForShadow(0, 0)).toBe(false);
    expect(sampledForShadow(2 ** 32 - 1, 1)).toBe(true);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (sampledForShadow(Math.floor((i / 10_000) * 2 ** 32), 0.25)) hits++;
    expect(hits).toBe(2500);
    expect(sampledForShadow(0, Number.NaN)).toBe(false);
  });
});
