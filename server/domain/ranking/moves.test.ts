import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { largestMoves } from "./moves";

describe("largestMoves", () => {
  it("ranks the shown items by how far the two models disagree about them", () => {
    // Serving order: a b c d e; candidate order: d a b e c.
    const ids = ["a", "b", "c", "d", "e"];
    const moves = largestMoves(ids, [5, 4, 3, 2, 1], [4, 3, 1, 5, 2], ["a", "b", "c", "d"], 10);
    expect(moves.map((m) => [m.id, m.primaryRank, m.shadowRank, m.move])).toEqual([
      ["d", 4, 1, 3],
      ["c", 3, 5, -2],
      ["a", 1, 2, -1],
      ["b", 2, 3, -1],
    ]);
    expect(moves[0]!.index).toBe(3);
  });

  it("keeps `limit` items, skips ids that are not candidates, counts repeats once", () => {
    const moves = largestMoves(["a", "b", "c"], [3, 2, 1], [1, 2, 3], ["c", "zz", "c", "a", "b"], 2);
    expect(moves.map((m) => m.id)).toEqual(["a", "c"]);
    expect(largestMoves(["a"], [1], [1], ["a"], 0)).toEqual([]);
  });

  it("breaks equal scores by input position, as the pipeline does", () => {
    expect(largestMoves(["a", "b"], [1, 1], [1, 1], ["a", "b"], 2).map((m) => m.move)).toEqual([0, 0]);
  });

  it("refuses vectors of different lengths", () => {
    expect(() => largestMoves(["a", "b"], [1, 2], [1], ["a"], 1)).toThrow("ids, primary and shadow scores differ in length: 2, 2, 1");
  });

  it("moves sum to zero over all candidates (ranks are permutations)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -9, max: 9 }), fc.integer({ min: -9, max: 9 })), { minLength: 1, maxLength: 40 }), (pairs) => {
        const ids = pairs.map((_, i) => `i${i}`);
        const moves = largestMoves(ids, pairs.map((p) => p[0]), pairs.map((p) => p[1]), ids, ids.length);
        expect(moves.reduce((s, m) => s + m.move, 0)).toBe(0);
        for (let i = 1; i < moves.length; i++) expect(Math.abs(moves[i - 1]!.move)).toBeGreaterThanOrEqual(Math.abs(moves[i]!.move));
      }),
    );
  });
});
