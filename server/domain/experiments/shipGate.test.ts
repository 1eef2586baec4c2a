import { describe, expect, it } from "vitest";
import type { GuardrailStatus } from "./guardrails";
import { shipBlockers } from "./shipGate";

/** A guardrail judged on treatments b and c. */
const guardrail = (label: string, b: GuardrailStatus, c: GuardrailStatus = "ok") =>
  ({ metric: "fallback_rate", direction: "increase", threshold: 0.2, label, status: b, checks: [{ variant: "b", status: b, detail: `b: ${b}` }, { variant: "c", status: c, detail: `c: ${c}` }] }) as never;
const noSrm = { available: false, reason: "not enough units" } as const;

describe("shipBlockers", () => {
  it("blocks on a sample-ratio mismatch, naming the statistic (40 vs 0 at 50/50: χ² 40)", () => {
    expect(shipBlockers({ srm: { available: true, chiSquare: 40, df: 1, pValue: 2.54e-10, mismatch: true, counts: [40, 0], expected: [20, 20] }, guardrails: [] }, "b")).toEqual([
      "sample-ratio mismatch: the split does not match the weights (χ² = 40.0, p = 2.5e-10)",
    ]);
  });

  it("blocks on the shipped variant's violated guardrails and on those with no data; inconclusive warns elsewhere", () => {
    const guardrails = [guardrail("Fallback rate", "violated"), guardrail("p95 latency", "inconclusive"), guardrail("CTR", "no data"), guardrail("Revenue", "ok")];
    expect(shipBlockers({ srm: noSrm, guardrails }, "b")).toEqual(["guardrail violated: Fallback rate for b", "guardrail not judged, no data: CTR for b (b: no data)"]);
  });

  it("judges each treatment on its own checks: c's violation does not block b, and the control ships past guardrails", () => {
    const guardrails = [guardrail("Fallback rate", "inconclusive", "violated")];
    expect(shipBlockers({ srm: noSrm, guardrails }, "b")).toEqual([]);
    expect(shipBlockers({ srm: noSrm, guardrails }, "c")).toEqual(["guardrail violated: Fallback rate for c"]);
    expect(shipBlockers({ srm: noSrm, guardrails }, "control")).toEqual([]);
    expect(shipBlockers({ srm: noSrm, guardrails })).toEqual(["guardrail violated: Fallback rate for c"]);
  });

  it("lets a clean experiment ship", () => {
    expect(shipBlockers({ srm: { available: true, chiSquare: 0.4, df: 1, pValue: 0.52, mismatch: false, counts: [51, 49], expected: [50, 50] }, guardrails: [guardrail("CTR", "ok")] }, "b")).toEqual([]);
  });
});
