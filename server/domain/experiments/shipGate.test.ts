import { describe, expect, it } from "vitest";
import { shipBlockers } from "./shipGate";

const guardrail = (label: string, status: "ok" | "violated" | "inconclusive" | "no data") =>
  ({ metric: "fallback_rate", direction: "increase", threshold: 0.2, label, status, checks: [] }) as never;

describe("shipBlockers", () => {
  it("blocks on a sample-ratio mismatch, naming the statistic (40 vs 0 at 50/50: χ² 40)", () => {
    expect(shipBlockers({ srm: { available: true, chiSquare: 40, df: 1, pValue: 2.54e-10, mismatch: true, counts: [40, 0], expected: [20, 20] }, guardrails: [] })).toEqual([
      "sample-ratio mismatch: the split does not match the weights (χ² = 40.0, p = 2.5e-10)",
    ]);
  });

  it("blocks on violated guardrails only: inconclusive and no data warn elsewhere", () => {
    const guardrails = [guardrail("fallback rate must not rise by more than 20%", "violated"), guardrail("p95 latency", "inconclusive"), guardrail("CTR", "no data"), guardrail("revenue", "ok")];
    expect(shipBlockers({ srm: { available: false, reason: "not enough units" }, guardrails })).toEqual(["guardrail violated: fallback rate must not rise by more than 20%"]);
  });

  it("lets a clean experiment ship", () => {
    expect(shipBlockers({ srm: { available: true, chiSquare: 0.4, df: 1, pValue: 0.52, mismatch: false, counts: [51, 49], expected: [50, 50] }, guardrails: [guardrail("CTR", "ok")] })).toEqual([]);
  });
});
