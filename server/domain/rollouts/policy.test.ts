import { describe, expect, it } from "vitest";
import { newcombeDifference } from "../stats/proportions";
import { summarizeRatio } from "../stats/summary";
import { ctrSmallSampleFactor, DEFAULT_JUDGE_POLICY, MIN_CTR_UNITS } from "./judge";
import { givenPolicyProblem, POLICY_BOUNDS, policyDifferences, policyProblem, policyWithinBounds } from "./policy";

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

  it("minImpressions' floor in effective impressions n* = impressions / design effect × (z / t_{users−1})² (numpy/scipy reference values)", () => {
    // The halving from 10 % is caught from n* ≈ 377.43 per arm (brentq on Newcombe's upper bound).
    expect(newcombeDifference(0.05 * 378, 378, 0.1 * 378, 378, 0.99).upper).toBeLessThan(0);
    expect(newcombeDifference(0.05 * 377, 377, 0.1 * 377, 377, 0.99).upper).toBeGreaterThan(0);
    // 500 impressions per arm from MIN_CTR_UNITS users of one CTR each (design effect 1): n* = 500 × 0.87328 = 436.64, upper −0.37 points.
    expect(MIN_CTR_UNITS).toBe(30);
    const thirty = summarizeRatio(Array.from({ length: 30 }, (_, i) => ({ denominator: i < 10 ? 20 : 15, numerator: 0 })));
    const factor = ctrSmallSampleFactor(thirty, 0.99);
    expect(factor).toBeCloseTo(0.8732812159135073, 9);
    expect(newcombeDifference(0.05 * 500 * factor, 500 * factor, 0.1 * 500 * factor, 500 * factor, 0.99).upper).toBeCloseTo(-0.0036784370772476, 9);
    // Users whose CTRs differ (design effect 1.2 > 1.157 at 30 users) leave 500 impressions short of that power: design effect × 432 needed.
    const n = (500 / 1.2) * factor;
    expect(newcombeDifference(0.05 * n, n, 0.1 * n, n, 0.99).upper).toBeGreaterThan(0);
    const needed = (1.2 * 377.42774151910214) / factor;
    expect(needed).toBeCloseTo(1.2 * 432.19, 1);
  });

  it("review finding: a start naming maxP99Increase (the older name) is refused naming maxP99Increase, not maxLatencyIncrease", () => {
    // Before: "maxLatencyIncrease: 5 is above 2 …" for a request that never sent maxLatencyIncrease.
    expect(givenPolicyProblem({ maxP99Increase: 5 })).toEqual({
      field: "maxP99Increase",
      message: "5 is above 2 (+200 % of the baseline median): a wider tolerance lets any regression of this metric pass, which turns the metric off (maxP99Increase is the older name of maxLatencyIncrease)",
    });
    expect(givenPolicyProblem({ maxLatencyIncrease: 5 })).toMatchObject({ field: "maxLatencyIncrease", message: expect.stringMatching(/^5 is above 2 .*turns the metric off$/) });
    // Both names with two values: one would be dropped unseen (maxLatencyIncrease won, and 5 was never checked).
    expect(givenPolicyProblem({ maxLatencyIncrease: 0.1, maxP99Increase: 5 })).toEqual({ field: "maxP99Increase", message: "5 differs from maxLatencyIncrease 0.1: maxP99Increase is the older name of maxLatencyIncrease, so send one of them" });
    expect(givenPolicyProblem({ maxLatencyIncrease: 0.3, maxP99Increase: 0.3 })).toBeNull();
    expect(givenPolicyProblem({ maxP99Increase: 0.3, minRequests: 10 })).toMatchObject({ field: "minRequests" });
    expect(givenPolicyProblem({})).toBeNull();
  });

  it("review finding: a retry brings an old rollout's policy within today's bounds, on the stricter side, naming each change", () => {
    // A rollout started under looser rules (minRequests 10, fallback tolerance 100 points): its retry was a 400 on fields nobody typed.
    expect(policyWithinBounds({ ...DEFAULT_JUDGE_POLICY, minRequests: 10, maxFallbackRateIncrease: 1 })).toEqual({
      policy: { ...DEFAULT_JUDGE_POLICY, minRequests: 100, maxFallbackRateIncrease: 0.1 },
      adjusted: ["minimum requests 10 requests per arm → 100 requests per arm (today's floor)", "fallback tolerance +100 points → +10 points (today's cap)"],
    });
    // Within bounds: unchanged, nothing named; absent fields (rollouts older than the field) are the defaults.
    expect(policyWithinBounds({ ...DEFAULT_JUDGE_POLICY, minRequests: 100 })).toEqual({ policy: { ...DEFAULT_JUDGE_POLICY, minRequests: 100 }, adjusted: [] });
    expect(policyWithinBounds({ minRequests: 200 })).toEqual({ policy: { ...DEFAULT_JUDGE_POLICY, minRequests: 200 }, adjusted: [] });
    // A value that is not a number (JSON null) takes the default.
    expect(policyWithinBounds({ maxCtrDecrease: null as unknown as number }).adjusted).toEqual(["CTR tolerance null → −5 % (the default: the stored value is not a number)"]);
    expect(policyProblem(policyWithinBounds({ minRequests: 1, minImpressions: 1, maxLatencyIncrease: 9, maxTailShareIncrease: 1, maxCtrDecrease: 1, stepDeadlineMinutes: 0 }).policy)).toBeNull();
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
