// Review findings on the canary policy's validation, through the tRPC router on real PostgreSQL:
// a start that gives the older name maxP99Increase is refused naming maxP99Increase (it named
// maxLatencyIncrease, a field the request never sent); a retry of a rollout started under looser
// rules than today's brings its policy within today's bounds and says so (it was a 400 on a field
// nobody typed).
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { DEFAULT_JUDGE_POLICY } from "../domain/rollouts/judge";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";

const ml = () => callerAs(["ml_engineer", "oncall"], "retry-policy@rerank.test");

beforeAll(async () => {
  await createTestSurface(getDb(), { key: "t-retry-policy", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0)] });
});

describe("the canary policy's 400s name what the caller sent", () => {
  it("rollouts.start with maxP99Increase: 5 is refused naming maxP99Increase; with both names and two values, too", async () => {
    // Before: "maxLatencyIncrease: 5 is above 2 …".
    await expect(ml().rollouts.start({ surface: "t-retry-policy", version: 4, maxP99Increase: 5, reason: "old script" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "maxP99Increase: 5 is above 2 (+200 % of the baseline median): a wider tolerance lets any regression of this metric pass, which turns the metric off (maxP99Increase is the older name of maxLatencyIncrease)",
    });
    // Before: started, with maxLatencyIncrease 0.1 and the 5 dropped unseen.
    await expect(ml().rollouts.start({ surface: "t-retry-policy", version: 4, maxLatencyIncrease: 0.1, maxP99Increase: 5, reason: "both" })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: "maxP99Increase: 5 differs from maxLatencyIncrease 0.1: maxP99Increase is the older name of maxLatencyIncrease, so send one of them",
    });
    expect(await getDb().rollout.count({ where: { surface: { key: "t-retry-policy" } } })).toBe(0);
  });

  it("rollouts.retry of a rollout started under looser rules (minRequests 10, fallback tolerance 100 points) starts within today's bounds and names each change", async () => {
    const db = getDb();
    const first = await ml().rollouts.start({ surface: "t-retry-policy", version: 4, steps: [5, 50], minRequests: 200, reason: "first try" });
    await ml().rollouts.abort({ surface: "t-retry-policy", rolloutId: first.id, reason: "not yet" });
    // As a rollout started before today's floors and caps stored it.
    const analysis = first.analysis as { policy: Record<string, number> };
    await db.rollout.update({ where: { id: first.id }, data: { analysis: { ...analysis, policy: { ...analysis.policy, minRequests: 10, maxFallbackRateIncrease: 1 } } } });
    const adjusted = ["minimum requests 10 requests per arm → 100 requests per arm (today's floor)", "fallback tolerance +100 points → +10 points (today's cap)"];
    // The retry dialog says it beforehand.
    const [ended] = await ml().rollouts.list({ surface: "t-retry-policy", limit: 1 });
    expect(ended).toMatchObject({ id: first.id, status: "aborted", retryPolicyAdjusted: adjusted });

    // Before: 400 "minRequests: 10 is below 100 …", a field the retry never sent.
    const retried = await ml().rollouts.retry({ rolloutId: first.id, reason: "again" });
    expect(retried).toMatchObject({ status: "running", currentPercent: 5, surface: "t-retry-policy", policyAdjusted: adjusted });
    const [running] = await ml().rollouts.list({ surface: "t-retry-policy", limit: 1 });
    expect(running).toMatchObject({ id: retried.id, steps: [5, 50], retryPolicyAdjusted: [], policy: { ...DEFAULT_JUDGE_POLICY, minRequests: 100, maxFallbackRateIncrease: 0.1 } });
    const entry = await db.auditLog.findFirstOrThrow({ where: { action: "rollout.start", surfaceKeys: { has: "t-retry-policy" } }, orderBy: { id: "desc" } });
    expect(entry.after).toMatchObject({ policy: { minRequests: 100, maxFallbackRateIncrease: 0.1 }, policyAdjusted: adjusted });
    await ml().rollouts.abort({ surface: "t-retry-policy", rolloutId: retried.id, reason: "done" });

    // A retry of one within today's bounds keeps its policy and names nothing.
    const again = await ml().rollouts.retry({ rolloutId: retried.id, reason: "once more" });
    expect(again.policyAdjusted).toEqual([]);
    const [latest] = await ml().rollouts.list({ surface: "t-retry-policy", limit: 1 });
    expect(latest!.policy).toMatchObject({ minRequests: 100, maxFallbackRateIncrease: 0.1 });
    expect((await db.auditLog.findFirstOrThrow({ where: { action: "rollout.start", surfaceKeys: { has: "t-retry-policy" } }, orderBy: { id: "desc" } })).after).not.toHaveProperty("policyAdjusted");
    await ml().rollouts.abort({ surface: "t-retry-policy", rolloutId: again.id, reason: "done" });
  });
});
