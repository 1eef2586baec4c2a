import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dcgAtK, evaluateRanking, idealDcgAtK, ndcgAtK, reciprocalRank } from "./metrics";

// log2(3) = 1.5849625…, so the discount of position 2 is 1 / log2(3) = 0.6309298; position 3 is
// 1 / log2(4) = 0.5; position 1 is 1. Gains: label 1 → 1, label 2 → 3, label 3 → 7, label 4 → 15.
const D2 = 1 / Math.log2(3);

describe("dcgAtK / ndcgAtK", () => {
  // Scores [0.1, 0.9, 0.5] rank the documents 1, 2, 0, i.e. labels [0, 1, 2] in ranked order.
  const scores = [0.1, 0.9, 0.5];
  const labels = [2, 0, 1];

  it("computes DCG with gain 2^rel − 1 and discount 1/log2(1 + position)", () => {
    // DCG@3 = 0·1 + 1·0.6309298 + 3·0.5 = 2.1309298
    expect(dcgAtK(scores, labels, 3)).toBeCloseTo(2.1309298, 6);
    expect(dcgAtK(scores, labels, 3)).toBeCloseTo(D2 + 1.5, 12);
    // DCG@1 = 0 (the top document is not relevant)
    expect(dcgAtK(scores, labels, 1)).toBe(0);
    // Ideal order [2, 1, 0]: 3·1 + 1·0.6309298 + 0 = 3.6309298
    expect(idealDcgAtK(labels, 3)).toBeCloseTo(3 + D2, 12);
  });

  it("normalises by the ideal DCG at the same cut-off", () => {
    // NDCG@3 = 2.1309298 / 3.6309298 = 0.5868827
    expect(ndcgAtK(scores, labels, 3)).toBeCloseTo(0.5868827, 6);
    // NDCG@2 = (0 + 0.6309298) / (3 + 0.6309298) = 0.1737653
    expect(ndcgAtK(scores, labels, 2)).toBeCloseTo(0.1737653, 6);
    expect(ndcgAtK(scores, labels, 1)).toBe(0);
    // k beyond the query length covers the whole query (LightGBM truncates k to the query size).
    expect(ndcgAtK(scores, labels, 10)).toBe(ndcgAtK(scores, labels, 3));
  });

  it("breaks ties in score by input order", () => {
    // Scores [1, 1, 0] with labels [0, 3, 1]: the tie keeps document 0 (label 0) first, so
    // DCG@2 = 0 + 7·0.6309298 = 4.4165083 and ideal DCG@2 = 7 + 1·0.6309298 = 7.6309298,
    // NDCG@2 = 0.5787641 (breaking the tie the other way would give 7 / 7.6309298 = 0.917).
    expect(ndcgAtK([1, 1, 0], [0, 3, 1], 2)).toBeCloseTo(0.5787641, 6);
    expect(ndcgAtK([1, 1, 0], [3, 0, 1], 2)).toBeCloseTo((7 + 0) / (7 + D2), 12);
    expect(reciprocalRank([1, 1, 0], [0, 3, 1])).toBe(0.5);
  });

  it("scores a query without any relevant document as NDCG 1 (LightGBM's convention)", () => {
    expect(ndcgAtK([0.3, 0.2], [0, 0], 1)).toBe(1);
    expect(ndcgAtK([0.3, 0.2], [0, 0], 10)).toBe(1);
  });

  it("scores a single-document query as NDCG 1 whatever its label", () => {
    expect(ndcgAtK([-5], [4], 1)).toBe(1);
    expect(ndcgAtK([-5], [0], 10)).toBe(1);
  });

  it("rejects scores and labels of different lengths", () => {
    expect(() => ndcgAtK([1, 2], [1], 1)).toThrow(/2 scores for 1 labels/);
  });

  it("lies in [0, 1] and is 1 for the ranking by label (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.double({ noNaN: true, min: -10, max: 10 })), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 12 }), (docs, k) => {
        const labels = docs.map(([l]) => l);
        const scores = docs.map(([, s]) => s);
        const v = ndcgAtK(scores, labels, k);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1 + 1e-12);
        expect(ndcgAtK(labels, labels, k)).toBeCloseTo(1, 12);
      }),
    );
  });
});

describe("reciprocalRank", () => {
  it("is 1 / position of the first document with label ≥ 1, or 0 if none", () => {
    // Ranked labels [0, 1, 2]: first relevant at position 2.
    expect(reciprocalRank([0.1, 0.9, 0.5], [2, 0, 1])).toBe(0.5);
    expect(reciprocalRank([3, 2, 1], [0, 0, 4])).toBeCloseTo(1 / 3, 12);
    expect(reciprocalRank([3, 2, 1], [0, 0, 0])).toBe(0);
    expect(reciprocalRank([3], [1])).toBe(1);
  });
});

describe("evaluateRanking", () => {
  // Four queries:
  //   Q1 scores [0.1, 0.9, 0.5], labels [2, 0, 1]: NDCG@1 0, NDCG@3 0.5868827, RR 1/2
  //   Q2 scores [1, 1, 0],      labels [0, 3, 1]: NDCG@1 0,
  //      NDCG@3 = (0 + 7·0.6309298 + 1·0.5) / (7 + 0.6309298 + 0) = 4.9165083 / 7.6309298 = 0.6442869, RR 1/2
  //   Q3 two documents, labels [0, 0]: no relevant document → NDCG 1 at every k, left out of the MRR
  //   Q4 one document, label 4: NDCG 1, RR 1
  const scores = [0.1, 0.9, 0.5, 1, 1, 0, 0.7, 0.2, 0.4];
  const labels = [2, 0, 1, 0, 3, 1, 0, 0, 4];
  const groups = [3, 3, 2, 1];

  it("averages NDCG over every query and MRR over the queries with a relevant document", () => {
    const m = evaluateRanking(scores, labels, groups, [1, 3]);
    expect(m.queries).toBe(4);
    expect(m.queriesWithoutRelevant).toBe(1);
    // NDCG@1 = (0 + 0 + 1 + 1) / 4 = 0.5
    expect(m.ndcg[1]).toBeCloseTo(0.5, 12);
    // NDCG@3 = (0.5868827 + 0.6442869 + 1 + 1) / 4 = 0.8077924
    expect(m.ndcg[3]).toBeCloseTo(0.8077924, 6);
    // MRR = (1/2 + 1/2 + 1) / 3 = 0.6666667
    expect(m.mrr).toBeCloseTo(2 / 3, 12);
  });

  it("reports NDCG@1/3/5/10 by default", () => {
    expect(Object.keys(evaluateRanking(scores, labels, groups).ndcg).map(Number)).toEqual([1, 3, 5, 10]);
  });

  it("skips empty groups and rejects groups that do not cover the scores", () => {
    expect(evaluateRanking([1, 0], [1, 0], [0, 2, 0], [1]).queries).toBe(1);
    expect(() => evaluateRanking([1, 0], [1, 0], [3])).toThrow(/cover 3 documents but there are 2/);
  });
});
