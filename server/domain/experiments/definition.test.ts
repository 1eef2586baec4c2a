import { describe, expect, it } from "vitest";
import { COMPARED_METRICS, isComparedMetric, worseningDirection } from "./definition";

describe("experiment definition rules", () => {
  it("p95 latency is a guardrail only: the table compares every other selectable metric", () => {
    expect(isComparedMetric("latency_p95")).toBe(false);
    expect(COMPARED_METRICS).toEqual(["ctr", "conversion", "revenue_per_session", "ndcg", "mrr", "fallback_rate"]);
  });

  it("a metric gets worse in the direction opposite to its improvement", () => {
    expect(worseningDirection("ctr")).toBe("decrease");
    expect(worseningDirection("conversion")).toBe("decrease");
    expect(worseningDirection("latency_p95")).toBe("increase");
    expect(worseningDirection("fallback_rate")).toBe("increase");
    expect(() => worseningDirection("nope")).toThrow(RangeError);
  });
});
