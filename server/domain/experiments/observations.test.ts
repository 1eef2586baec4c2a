import { describe, expect, it } from "vitest";
import { clickedRequestSummaries, interleavingWins } from "./observations";

describe("observations", () => {
  it("counts interleaving wins, ties and clicks by position and ranker", () => {
    const served = [
      { position: 1, reasons: ["interleaving-shared"] },
      { position: 2, reasons: ["interleaving:control"] },
      { position: 3, reasons: ["interleaving:treatment", "interleaving:competitive"] },
    ];
    const result = interleavingWins([{ served, positions: [3] }, { served, positions: [2, 3] }, { served, positions: [1, 1] }, { served, positions: [2] }], "control", "treatment");
    expect(result).toMatchObject({ winsA: 1, winsB: 1, ties: 2 });
    expect(result.creditByPosition).toEqual([{ position: 1, a: 0, b: 0, shared: 1 }, { position: 2, a: 2, b: 0, shared: 0 }, { position: 3, a: 0, b: 2, shared: 0 }]);
  });

  it("summarises click-based NDCG over clicked requests and MRR over all", () => {
    const s = clickedRequestSummaries([{ positions: [1] }, { positions: [20] }]);
    expect(s.ndcg.n).toBe(1); // position 20 is outside NDCG@10
    expect(s.mrr.n).toBe(2);
  });
});
