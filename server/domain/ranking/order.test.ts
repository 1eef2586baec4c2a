import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { orderByScore, retrievalOrderScores } from "./order";

describe("orderByScore", () => {
  it("orders best first and breaks ties by input order", () => {
    expect(orderByScore([0.5, 0.9, 0.5, 0.9, 0.1])).toEqual([1, 3, 0, 2, 4]);
  });

  it("is a permutation, sorted, with ties in input order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }), (scores) => {
        const order = orderByScore(scores);
        expect([...order].sort((a, b) => a - b)).toEqual(scores.map((_, i) => i));
        for (let k = 1; k < order.length; k++) {
          const [p, q] = [order[k - 1]!, order[k]!];
          expect(scores[p]! > scores[q]! || (scores[p] === scores[q] && p < q)).toBe(true);
        }
      }),
    );
  });

  it("retrieval-order pseudo-scores keep the input order", () => {
    expect(orderByScore(retrievalOrderScores(4))).toEqual([0, 1, 2, 3]);
  });
});
