import { describe, expect, it } from "vitest";
import { newcombeDifference } from "../stats/proportions";
import { DEFAULT_JUDGE_POLICY } from "./judge";
import { POLICY_BOUNDS, policyDifferences, policyProblem } from "./policy";

describe("the judge policy's bounds (break test: an approved canary with a fallback tolerance of 1 promoted a version that fell back on every request)", () => {
  it("refuses every tolerance of the break test that turns a metric off, naming the field", () => {
    expect(policyProblem({ minRequests: 10 })).toMatchObject({ field: "minRequests" });
    expect(policyProblem({ maxFallbackRateIncrease: 1 })).toMatchObject({ field: "maxFallbackRateIncrease" });
    expect(policyProblem({ maxFallbackRateIncrease: 1 })!.message).toBe("1 is above 0.1 (+10 points): a wider tolerance lets any regression of this metric pass, which turns the metric off");
    expect(policyProblem({ maxLatencyIncrease: 100 })).toMatchObject({ field: "maxLatencyIncrease" });
    expect(policyProblem({ maxTailShareIncrease: 1 })).toMatchObject({ field: "maxTailShareIncrease" });
    expect(policyProblem({ maxCtrDecrease: 1 })).toMatchObject({ field: "maxCtrDecrease" });
    expect(policyProblem({ minImpressions: 10 })).toMatchObject({ field: "minImpressions" });
    expect(policyProblem({ maxCtrDecrease: Number.NaN })).toMatchObject({ field: "maxCtrDecrease" });
  });

  it("accepts the defaults and every bound itself", () => {
    expect(policyProblem({})).toBeNull();
    expect(policyProblem(DEFAULT_JUDGE_POLICY)).toBeNull();
    expect(policyProblem(Object.fromEntries(Object.entries(POLICY_BOUNDS).map(([k, b]) => [k, b.max])))).toBeNull();
    expect(policyProblem(Object.fromEntries(Object.entries(POLICY_BOUNDS).map(([k, b]) => [k, b.min])))).toBeNull();
  });

  it("the floors' reasons hold (newcombeDifference at 99 %)", () => {
    // minRequests 100: 10 fallbacks in 100 against 0 in 100 is caught (lower bound > 0); at 50 it is not.
    expect(newcombeDifference(10, 100, 0, 100, 0.99).lower).toBeCloseTo(0.0176, 4);
    expect(newcombeDifference(5, 50, 0, 50, 0.99).lower).toBeLessThan(0);
    // minImpressions 500: a CTR halved from 10 % is caught from 500 impressions per arm, not at 200.
    expect(newcombeDifference(25, 500, 50, 500, 0.99).upper).toBeCloseTo(-0.0068, 4);
    expect(newcombeDifference(10, 200, 20, 200, 0.99).upper).toBeGreaterThan(0);
  });

  it("names every field that differs from the defaults, in words", () => {
    expect(policyDifferences(DEFAULT_JUDGE_POLICY)).toEqual([]);
    expect(policyDifferences({ ...DEFAULT_JUDGE_POLICY, minRequests: 100, maxFallbackRateIncrease: 0.05, maxCtrDecrease: 0.2, maxLatencyIncrease: 0.5 })).toEqual([
      "minimum requests 100 requests per arm (default 500 requests per arm)",
      "latency tolerance +50 % of the baseline median (default +10 % of the baseline median)",
      "fallback tolerance +5 points (default +1 points)",
      "CTR tolerance −20 % (default −5 %)",
    ]);
  });
});
