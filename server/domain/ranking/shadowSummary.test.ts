import { describe, expect, it } from "vitest";
import { summariseShadow, type ShadowRecordInput } from "./shadowSummary";

const record = (over: Partial<ShadowRecordInput>): ShadowRecordInput => ({
  overlapAt10: 1, rbo: 1, kendallTau: 1, spearmanRho: 1, primaryLatencyMs: 1, shadowLatencyMs: 2, primaryScores: [1], shadowScores: [1], error: null, ...over,
});

describe("summariseShadow", () => {
  it("summarises compared records and counts errored ones apart", () => {
    const summary = summariseShadow([
      record({ overlapAt10: 1, kendallTau: 1, spearmanRho: 1, primaryLatencyMs: 1, shadowLatencyMs: 3, primaryScores: [2, 1], shadowScores: [4, 3] }),
      record({ overlapAt10: 0.5, rbo: 0.4, kendallTau: 0, spearmanRho: 0.2, primaryLatencyMs: 2, shadowLatencyMs: 5, primaryScores: [2], shadowScores: [4] }),
      record({ overlapAt10: 0.2, rbo: null, kendallTau: -0.5, spearmanRho: -0.4, primaryLatencyMs: 3, shadowLatencyMs: 7, primaryScores: [1], shadowScores: [3] }),
      record({ overlapAt10: null, kendallTau: null, spearmanRho: null, shadowLatencyMs: null, primaryScores: [100], shadowScores: [], error: "model failed" }),
    ]);
    expect(summary).toMatchObject({ records: 4, compared: 3, errors: 1 });
    expect(summary.overlapAt10.mean).toBeCloseTo(1.7 / 3, 12);
    expect(summary.overlapAt10.p50).toBe(0.5);
    expect(summary.overlapAt10.histogram.map((b) => b.count)).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
    expect(summary.kendallTau.p50).toBe(0);
    expect(summary.kendallTau.histogram.map((b) => b.count)).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
    expect(summary.spearmanRho.mean).toBeCloseTo(0.8 / 3, 12);
    // RBO over the rows that have it (rows from before it was recorded have null).
    expect(summary.rbo.mean).toBeCloseTo(0.7, 12);
    expect(summary.latencyMs.primary.p50).toBe(2);
    expect(summary.latencyMs.shadow.p99).toBeCloseTo(6.96, 12);
    // Scores of errored records are left out; both models are binned on one axis (1 … 4).
    expect(summary.scores.primaryMean).toBe(1.5);
    expect(summary.scores.shadowMean).toBe(3.5);
    expect(summary.scores.primary[0]!.from).toBe(1);
    expect(summary.scores.shadow.at(-1)!.to).toBe(4);
    expect(summary.scores.primary.reduce((s, b) => s + b.count, 0)).toBe(4);
  });

  it("gives NaN spreads, not zeros, when nothing was compared", () => {
    const summary = summariseShadow([record({ error: "boom" })]);
    expect(summary.compared).toBe(0);
    expect(summary.overlapAt10.mean).toBeNaN();
    expect(summary.latencyMs.shadow.p95).toBeNaN();
  });
});
