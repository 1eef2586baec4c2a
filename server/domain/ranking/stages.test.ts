import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { orderByScore } from "./order";
import { mergeStageScores, stage2Cut } from "./stages";

describe("stage2Cut", () => {
  it("takes the top rerankCount of stage 1's order, ties in retrieval order", () => {
    expect(stage2Cut([0.1, 0.9, 0.5, 0.9, 0.3], 3)).toEqual([1, 3, 2]);
  });

  it("takes every candidate when rerankCount exceeds them", () => {
    expect(stage2Cut([2, 1], 10)).toEqual([0, 1]);
  });

  it("refuses a rerankCount below 1 or not whole", () => {
    expect(() => stage2Cut([1], 0)).toThrow(RangeError);
    expect(() => stage2Cut([1], 1.5)).toThrow("positive integer");
  });
});

describe("mergeStageScores", () => {
  it("places stage-2 items above every stage-1-only item, shifted to floor + 1 + (z − zmin)", () => {
    // Stage 1 ranks 1, 3, 2 on top (cut of 3); stage 2 reverses them: 2 (z=4), 3 (z=1), 1 (z=−2).
    const stage1 = [0.1, 0.9, 0.5, 0.8, 0.3];
    const cut = stage2Cut(stage1, 3);
    expect(cut).toEqual([1, 3, 2]);
    const merged = mergeStageScores(stage1, cut, [-2, 1, 4]);
    // floor = max(0.1, 0.3) = 0.3 ; offset = 0.3 + 1 − (−2) = 3.3
    expect(Array.from(merged)).toEqual([0.1, 3.3 + -2, 3.3 + 4, 3.3 + 1, 0.3].map(Math.fround));
    expect(orderByScore(merged)).toEqual([2, 3, 1, 4, 0]);
  });

  it("keeps stage-2 scores as they are when stage 2 saw every candidate", () => {
    expect(Array.from(mergeStageScores([3, 2, 1], [0, 1, 2], [-1, 5, 0]))).toEqual([-1, 5, 0]);
  });

  it("keeps stage 1's order among equal stage-2 scores", () => {
    const stage1 = [0.2, 0.7, 0.9];
    const merged = mergeStageScores(stage1, stage2Cut(stage1, 2), [0.5, 0.5]);
    expect(orderByScore(merged)).toEqual([2, 1, 0]);
  });

  it("keeps stage 2's order where float32 rounding would tie (large floor, tiny differences)", () => {
    const stage1 = [1e7, 2e7, 3e7];
    const merged = mergeStageScores(stage1, [2, 1], [1e-6, 0]);
    expect(orderByScore(merged)).toEqual([2, 1, 0]);
    expect(merged[1]!).toBeGreaterThan(merged[0]!);
  });

  it("refuses stage-2 scores that are not finite or do not match the cut", () => {
    expect(() => mergeStageScores([1, 2], [1, 0], [Number.NaN, 1])).toThrow("not a finite number");
    expect(() => mergeStageScores([1, 2], [1, 0], [1])).toThrow("gave 1 scores for 2 candidates");
  });

  it("serves stage 2's order over the cut, then stage 1's over the rest, scores monotone (property)", () => {
    const score = fc.float({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.array(score, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 70 }), fc.array(score, { minLength: 70, maxLength: 70 }), (s1, n, z) => {
        const stage1 = Float32Array.from(s1);
        const cut = stage2Cut(stage1, n);
        const stage2 = z.slice(0, cut.length);
        const merged = mergeStageScores(stage1, cut, stage2);
        const served = orderByScore(merged);
        const expectedTop = cut.map((_, k) => k).sort((a, b) => stage2[b]! - stage2[a]! || a - b).map((k) => cut[k]);
        const rest = orderByScore(stage1).filter((i) => !cut.includes(i));
        expect(served).toEqual([...expectedTop, ...rest]);
        for (let k = 1; k < served.length; k++) expect(merged[served[k - 1]!]!).toBeGreaterThanOrEqual(merged[served[k]!]!);
      }),
    );
  });
});
