import { describe, expect, it } from "vitest";
import { COMPARED_METRICS, isComparedMetric, sharesWithoutNoise, worseningDirection } from "./definition";

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

describe("sharesWithoutNoise: definitions compared beyond floating-point noise, shares only", () => {
  const same = (field: string, a: unknown, b: unknown) => JSON.stringify(sharesWithoutNoise(field, a)) === JSON.stringify(sharesWithoutNoise(field, b));
  it("treats a share round-tripped through the form's percentages as the same", () => {
    expect(same("variants", [{ key: "a", weight: 0.3333, constraintOverrides: {} }], [{ key: "a", weight: 33.33 / 100, constraintOverrides: {} }])).toBe(true);
    expect(same("coverage", 0.3, 30 / 100)).toBe(true);
    expect(same("minDetectableEffect", 4 / 3, 1.33333333333)).toBe(true);
    expect(same("guardrails", [{ metric: "ctr", direction: "decrease", threshold: 0.07 }], [{ metric: "ctr", direction: "decrease", threshold: 7 / 100 }])).toBe(true);
    expect(same("namespace", { id: "ns", start: 0.1, end: 0.3 }, { id: "ns", start: 10 / 100, end: 30 / 100 })).toBe(true);
  });
  it("keeps every other value exact (review: rounding every number merged real changes)", () => {
    expect(same("targeting", [{ attribute: "signupMs", op: "gte", value: 1733140000004 }], [{ attribute: "signupMs", op: "gte", value: 1733140000000 }])).toBe(false);
    expect(same("targeting", [{ attribute: "score", op: "gte", value: 0.3000000000001 }], [{ attribute: "score", op: "gte", value: 0.3 }])).toBe(false);
    expect(same("variants", [{ key: "a", weight: 0.5, constraintOverrides: { minShare: 0.2000000000001 } }], [{ key: "a", weight: 0.5, constraintOverrides: { minShare: 0.2 } }])).toBe(false);
    expect(same("variants", [{ key: "a", weight: 0.5 }], [{ key: "a", weight: 0.5001 }])).toBe(false);
  });
});
