import { describe, expect, it } from "vitest";
import { clickNdcg, clickReciprocalRank } from "./clickMetrics";

describe("click metrics", () => {
  it("NDCG@k from clicked positions", () => {
    // Clicks at 1 and 3: DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5; ideal (2 clicks at 1, 2) = 1 + 1/log2(3) = 1.6309.
    expect(clickNdcg([1, 3], 10)).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3)), 10);
    expect(clickNdcg([1], 10)).toBe(1);
    expect(clickNdcg([2], 10)).toBeCloseTo(1 / Math.log2(3), 10);
    expect(clickNdcg([12], 10)).toBeNull();
    expect(clickNdcg([], 10)).toBeNull();
    expect(clickNdcg([3, 3], 10)).toBeCloseTo(0.5, 10);
  });
  it("reciprocal rank of the first click", () => {
    expect(clickReciprocalRank([4, 2])).toBe(0.5);
    expect(clickReciprocalRank([])).toBe(0);
  });
});
