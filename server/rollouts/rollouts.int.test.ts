import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { judgeRollout } from "./service";
import { createTestSurface, failingModelOnnx } from "../testing/models";
import { callerAs } from "../testing/callers";
import { createUser } from "../auth/users";
import { experimentInputSchema } from "../experiments/schema";
import { createCaller } from "../routers/_app";
import { contextFor } from "../trpc";

// Canary rollouts on real PostgreSQL and real onnxruntime sessions: a sticky share of traffic goes
// to the new version, the analysis widens it step by step and promotes it, or rolls a failing
// version back at once; every transition is audited.

const caller = () => callerAs(["ml_engineer", "oncall"], "ml@rerank.local");
let candidates: Array<{ id: string; retrievalScore: number }>;

async function send(surface: string, users: string[]) {
  const out = new Map<string, Awaited<ReturnType<typeof rerank>>>();
  for (const user of users) out.set(user, await rerank({ surface, topK: 5, userKey: user, candidates }));
  await telemetry().requests.flush();
  return out;
}
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const aliasVersion = async (model: string, name: string) => (await getDb().modelAlias.findFirst({ where: { name, model: { name: model } }, include: { version: true } }))?.version.version ?? null;
const canaryAlias = () => aliasVersion("t-roll-model", "canary@t-roll");
const canaryUsers = (served: Map<string, Awaited<ReturnType<typeof rerank>>>) => [...served].filter(([, r]) => r.modelVersion?.alias.startsWith("canary@")).map(([u]) => u);

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  const items = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 30, orderBy: { id: "asc" } });
  candidates = items.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / items.length }));
  const spec = demoFeatureSpec();
  // v1 production, v2 the cascade fallback, v3 a good candidate, v4 a model that always throws.
  await createTestSurface(db, { key: "t-roll", bytes: demoModelBytes("linear"), featureSpec: spec, fallbackBytes: demoModelBytes("popularity"), shadowBytes: demoModelBytes("candidate"), extraVersions: [failingModelOnnx(spec.length)] });
}, 120_000);

describe("canary rollouts", () => {
  it("#14 break test: the demo seed's history rows name the surfaces their moves reached, and its cascade's stage 2 has a row", async () => {
    const rows = await getDb().promotionHistory.findMany({ where: { actor: "seed" }, orderBy: { id: "asc" }, select: { kind: true, modelName: true, alias: true, toVersion: true, surfaceKey: true, surfaces: true, stage2Surfaces: true } });
    const of = (model: string, alias: string) => rows.find((r) => r.modelName === model && r.alias === alias && r.kind === "alias_move");
    expect(of("search-ranker", "production")).toMatchObject({ toVersion: 2, surfaces: ["home-feed", "search"] });
    expect(of("search-ranker", "fallback")).toMatchObject({ toVersion: 1, surfaces: ["home-feed", "search"] });
    expect(of("search-ranker", "shadow")).toMatchObject({ toVersion: 3, surfaces: ["search"] });
    expect(of("demo-cross-encoder", "production")).toMatchObject({ toVersion: 1, surfaces: ["product-qa"] });
    expect(rows.find((r) => r.kind === "stage2")).toMatchObject({ surfaceKey: "product-search", modelName: "demo-cross-encoder", alias: "production", toVersion: 1, surfaces: ["product-search"], stage2Surfaces: ["product-search"] });
    // Only models no surface serves (the LETOR rankers) have rows that reach none.
    expect(rows.filter((r) => r.surfaces.length === 0).every((r) => r.modelName?.startsWith("letor-"))).toBe(true);
    expect((await caller().history.servingAt({ surface: "product-search", at: new Date() })).stage2).toMatchObject({ known: true, model: "demo-cross-encoder", alias: "production", version: 1 });
  });

  it("refuses a rollout that cannot run, naming the field", async () => {
    // A canary start says why on the server too, as its confirm dialog asks (break test: none was needed).
    await expect(caller().rollouts.start({ surface: "t-roll", version: 3 } as never)).rejects.toThrow(/^reason: /);
    await expect(caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 1 })).rejects.toThrow('version: v1 already serves "t-roll" (production)');
    await expect(caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 9 })).rejects.toThrow("version: t-roll-model has no v9");
    await expect(caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 3, steps: [10, 5] })).rejects.toThrow("steps[1]: steps must rise: 10 then 5");
    // A step of a billionth of the traffic never gathers its requests: it could only pause at its deadline.
    for (const steps of [[1e-9], [0.05, 5], [1, 100]]) {
      const bad = steps.findIndex((s) => s < 0.1 || s >= 100);
      await expect(caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 3, steps }), JSON.stringify(steps)).rejects.toMatchObject({
        code: "BAD_REQUEST", message: `steps[${bad}]: ${steps[bad]} must be at least 0.1 and below 100 (a share of traffic in percent; the version is promoted after the last step)`,
      });
    }
    await expect(caller().rollouts.abort({ surface: "t-roll", reason: "nothing" })).rejects.toThrow('surface: no rollout is running on "t-roll"');
    expect(await getDb().rollout.count({ where: { surface: { key: "t-roll" } } })).toBe(0);
  });

  it("serves a sticky share, widens it step by step and promotes the version", async () => {
    // Latency in a sequential in-process loop is noise (GC pauses): this test is about the steps, so
    // the p99 guard is loose here; judgeCanary's unit tests cover it.
    await caller().rollouts.start({ surface: "t-roll", version: 3, steps: [20, 50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "v3 looks better offline" });
    expect(await canaryAlias()).toBe(3);
    await expect(caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 3 })).rejects.toThrow('a rollout is already running on "t-roll": abort it first');

    const first = await send("t-roll", users("u", 700));
    const inCanary = canaryUsers(first);
    expect(inCanary.length).toBeGreaterThan(700 * 0.12);
    expect(inCanary.length).toBeLessThan(700 * 0.28);
    for (const r of first.values()) expect(r.modelVersion!.version).toBe(r.modelVersion!.alias === "canary@t-roll" ? 3 : 1);
    // Sticky: the same users get the same arm again.
    expect(canaryUsers(await send("t-roll", inCanary.slice(0, 10)))).toEqual(inCanary.slice(0, 10));

    expect((await caller().rollouts.analyse())[0]).toMatchObject({ surface: "t-roll", decision: "advance", status: "running", percent: 50 });
    const second = await send("t-roll", users("u", 700));
    const inCanaryAt50 = canaryUsers(second);
    // Everyone in the canary at 20 % is still in it at 50 %.
    expect(inCanary.every((u) => inCanaryAt50.includes(u))).toBe(true);
    expect(inCanaryAt50.length).toBeGreaterThan(700 * 0.4);

    expect((await caller().rollouts.analyse())[0]).toMatchObject({ decision: "advance", status: "promoted", percent: 100 });
    const after = await send("t-roll", ["after-promotion"]);
    expect(after.get("after-promotion")!.modelVersion).toMatchObject({ version: 3, alias: "production" });
    const [listed] = await caller().rollouts.list({ surface: "t-roll" });
    expect(listed).toMatchObject({ status: "promoted", percent: 100, fromVersion: 1, toVersion: 3 });
    // Every judged step is stored with the verdict of each metric.
    expect(listed!.history.map((h) => [h.step, h.percent, h.decision, h.judgedBy])).toEqual([[0, 20, "advance", "rollout-analysis"], [1, 50, "promote", "rollout-analysis"]]);
    expect(listed!.history[0]!.metrics.map((m) => [m.metric, m.classification])).toEqual([["latency", "pass"], ["latency_tail", "pass"], ["fallback_rate", "pass"], ["ctr", "nodata"]]);
    expect(await getDb().rolloutStep.count({ where: { rolloutId: listed!.id } })).toBe(2);
    // The canary alias is cleared when the rollout ends.
    expect(await canaryAlias()).toBeNull();
    const audit = await getDb().auditLog.findMany({ where: { surfaceKeys: { has: "t-roll" }, OR: [{ action: { startsWith: "rollout." } }, { actor: "rollout-analysis" }] }, orderBy: { id: "asc" } });
    // "Analyse now" is audited as the person who pressed it, with what the judge decided; its changes as the analysis.
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ["rollout.start", "ml@rerank.local"], ["rollout.advance", "rollout-analysis"], ["rollout.analysed", "ml@rerank.local"],
      ["model.alias.set", "rollout-analysis"], ["model.alias.clear", "rollout-analysis"], ["rollout.promoted", "rollout-analysis"], ["rollout.analysed", "ml@rerank.local"],
    ]);
    expect(audit.filter((a) => a.action === "rollout.analysed").map((a) => [a.before, a.after])).toEqual([
      [{ percent: 20 }, { surface: "t-roll", model: expect.any(String), version: 3, percent: 50, status: "running", decision: "advance" }],
      [{ percent: 50 }, { surface: "t-roll", model: expect.any(String), version: 3, percent: 100, status: "promoted", decision: "advance" }],
    ]);
  });

  it("rolls a failing version back at once, before the step has its requests", async () => {
    await caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 4, steps: [30], minRequests: 10_000 });
    const served = await send("t-roll", users("f", 120));
    const canary = [...served.values()].filter((r) => r.fallback.used);
    expect(canary.length).toBeGreaterThan(15);
    // The canary's faults are served by the cascade model (its breaker soon opens): no user sees an error.
    expect(canary.every((r) => r.fallback.servedBy === "cascade" && ["model_error", "circuit_open"].includes(r.fallback.reason!))).toBe(true);

    const [result] = await caller().rollouts.analyse();
    expect(result).toMatchObject({ decision: "fail", status: "rolled_back", percent: 0 });
    const again = await send("t-roll", users("f", 120));
    expect([...again.values()].every((r) => !r.fallback.used && r.modelVersion?.version === 3 && r.modelVersion.alias === "production")).toBe(true);
    const audit = await getDb().auditLog.findFirstOrThrow({ where: { action: "rollout.rolled_back" } });
    expect(audit.reason).toMatch(/^fallback rate 100\.00% vs 0\.00%: \+100\.00% \(99 % CI \[\+\d+\.\d\d%, \+100\.00%\]\); tolerated \+1\.00%$/);
    expect(await canaryAlias()).toBeNull();
  });

  it("aborts a running rollout with a reason; while the kill switch is on, no step moves", async () => {
    await caller().rollouts.start({ reason: "test change", surface: "t-roll", version: 1, steps: [50], minRequests: 100 });
    await caller().oncall.killSwitch({ surface: "t-roll", on: true, reason: "incident" });
    await send("t-roll", users("k", 60));
    // Both arms served retrieval order: nothing to judge, so the canary neither advances nor promotes.
    expect((await caller().rollouts.analyse())[0]).toMatchObject({ decision: "skipped", status: "running", percent: 50 });
    await caller().oncall.killSwitch({ surface: "t-roll", on: false, reason: "resolved" });
    const none = { requests: 0, fallbacks: 0, impressions: 0, clicks: 0 };
    expect((await caller().rollouts.list({ surface: "t-roll", limit: 1 }))[0]!.live).toEqual({ canary: none, baseline: none });
    await expect(caller().rollouts.abort({ surface: "t-roll", reason: "" })).rejects.toThrow("reason: say why (at least 3 characters)");
    await caller().rollouts.abort({ surface: "t-roll", reason: "wrong version" });
    const served = await send("t-roll", users("a", 40));
    expect([...served.values()].every((r) => r.modelVersion?.alias === "production")).toBe(true);
    expect((await caller().rollouts.list({ surface: "t-roll", limit: 1 }))[0]).toMatchObject({ status: "aborted", percent: 0 });
  });

  it("pauses (the canary keeps its share, no step is judged), resumes, promotes now, and retries an ended rollout", async () => {
    const ml = caller();
    await ml.rollouts.start({ reason: "test change", surface: "t-roll", version: 1, steps: [50], minRequests: 100 });
    await expect(ml.rollouts.resume({ surface: "t-roll", reason: "go on" })).rejects.toThrow('surface: the rollout on "t-roll" is running, not paused');
    await ml.rollouts.pause({ surface: "t-roll", reason: "look at the figures" });
    const served = await send("t-roll", users("p", 60));
    expect(canaryUsers(served).length).toBeGreaterThan(10);
    expect((await ml.rollouts.analyse()).length).toBe(0);
    expect((await ml.rollouts.list({ surface: "t-roll", limit: 1 }))[0]).toMatchObject({ status: "paused", percent: 50, history: [] });
    await ml.rollouts.resume({ surface: "t-roll", reason: "figures fine" });
    const promoted = await ml.rollouts.promote({ surface: "t-roll", reason: "confident, skip the wait" });
    expect(promoted).toMatchObject({ status: "promoted" });
    const [last] = await ml.rollouts.list({ surface: "t-roll", limit: 1 });
    expect(last).toMatchObject({ status: "promoted", history: [{ step: 0, decision: "manual_promote", judgedBy: "ml@rerank.local", reasons: ["promoted by hand: confident, skip the wait"] }] });
    expect((await send("t-roll", ["after-manual"])).get("after-manual")!.modelVersion).toMatchObject({ version: 1, alias: "production" });
    expect(await canaryAlias()).toBeNull();
    await expect(ml.rollouts.retry({ rolloutId: last!.id, reason: "again" })).rejects.toThrow('version: v1 already serves "t-roll" (production)');
    const failed = (await ml.rollouts.list({ surface: "t-roll", limit: 10 })).find((r) => r.status === "rolled_back")!;
    const retried = await ml.rollouts.retry({ rolloutId: failed.id, reason: "the fix for v4 is in" });
    expect(retried).toMatchObject({ status: "running", currentPercent: 30 });
    expect(await canaryAlias()).toBe(4);
    await ml.rollouts.abort({ surface: "t-roll", reason: "not yet" });
    const kinds = (await ml.history.surface({ surface: "t-roll", limit: 8 })).rows.map((r) => r.kind);
    expect(kinds).toEqual(["canary_aborted", "canary_start", "canary_promoted", "promotion", "canary_resumed", "canary_paused", "canary_start", "canary_aborted"]);
  });

  it("issue #14 break test: two surfaces on one model each have their own canary alias; ending one leaves the other", async () => {
    const db = getDb();
    const ml = caller();
    const spec = demoFeatureSpec();
    // Surface A (t-two-a) with the model's production v1, fallback v2, candidates v3 and v4; surface B shares the model under
    // its own serving alias "stable" (also v1): a canary may not run beside another on a shared serving alias (next test).
    const a = await createTestSurface(db, { key: "t-two-a", bytes: demoModelBytes("linear"), featureSpec: spec, fallbackBytes: demoModelBytes("popularity"), shadowBytes: demoModelBytes("candidate"), extraVersions: [linearRankerOnnx([0.3, 1, 5.5, 0.3, -0.05, -0.001, 0.5], 0)] });
    const v1 = await db.modelVersion.findFirstOrThrow({ where: { modelId: a.modelId!, version: 1 } });
    await db.modelAlias.create({ data: { modelId: a.modelId!, name: "stable", versionId: v1.id } });
    await db.surface.create({ data: { key: "t-two-b", name: "t-two-b", modelId: a.modelId, modelAlias: "stable", fallbackAlias: "fallback", timeoutMs: 1000 } });
    // An endpoint that hears every kind, so the events are stored (no worker delivers them here).
    await db.webhookEndpoint.create({ data: { name: "t-two", url: "http://127.0.0.1:9/hook", format: "standard", eventKinds: ["alias.moved", "canary.step", "canary.rolled_back", "canary.promoted"], secret: "whsec_dGVzdA==", createdBy: "test" } });
    const since = new Date();
    await ml.rollouts.start({ surface: "t-two-a", version: 3, steps: [20, 50], reason: "v3 on A" });
    await ml.rollouts.start({ surface: "t-two-b", version: 4, steps: [10, 50], reason: "v4 on B" });
    // Starting on B neither moved nor cleared A's canary.
    expect(await aliasVersion("t-two-a-model", "canary@t-two-a")).toBe(3);
    expect(await aliasVersion("t-two-a-model", "canary@t-two-b")).toBe(4);
    expect(await aliasVersion("t-two-a-model", "canary")).toBeNull();
    // Each surface serves its own canary, under its own alias.
    const servedA = await send("t-two-a", users("two-a", 120));
    const servedB = await send("t-two-b", users("two-b", 200));
    expect(new Set([...servedA.values()].map((r) => `${r.modelVersion!.alias} v${r.modelVersion!.version}`))).toEqual(new Set(["production v1", "canary@t-two-a v3"]));
    expect(new Set([...servedB.values()].map((r) => `${r.modelVersion!.alias} v${r.modelVersion!.version}`))).toEqual(new Set(["stable v1", "canary@t-two-b v4"]));

    // Ending B (abort) clears only B's canary alias; A's keeps serving.
    await ml.rollouts.abort({ surface: "t-two-b", reason: "B is not ready" });
    expect(await aliasVersion("t-two-a-model", "canary@t-two-b")).toBeNull();
    expect(await aliasVersion("t-two-a-model", "canary@t-two-a")).toBe(3);
    expect((await ml.rollouts.list({ surface: "t-two-a", limit: 1 }))[0]).toMatchObject({ status: "running", percent: 20 });
    expect(canaryUsers(await send("t-two-a", users("two-a", 120))).length).toBeGreaterThan(0);

    // B starts again and A is promoted: only A's alias is cleared.
    await ml.rollouts.start({ surface: "t-two-b", version: 4, steps: [10, 50], reason: "v4 on B again" });
    await ml.rollouts.promote({ surface: "t-two-a", reason: "A is good" });
    expect(await aliasVersion("t-two-a-model", "canary@t-two-a")).toBeNull();
    expect(await aliasVersion("t-two-a-model", "canary@t-two-b")).toBe(4);

    // The history and audit of each canary alias name its own surface.
    const rows = await db.promotionHistory.findMany({ where: { modelId: a.modelId, alias: { startsWith: "canary" }, ts: { gte: since } }, orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.alias, r.surfaceKey, r.fromVersion, r.toVersion])).toEqual([
      ["canary@t-two-a", "t-two-a", null, 3], ["canary@t-two-b", "t-two-b", null, 4], ["canary@t-two-b", "t-two-b", 4, null],
      ["canary@t-two-b", "t-two-b", null, 4], ["canary@t-two-a", "t-two-a", 3, null],
    ]);
    const audits = await db.auditLog.findMany({ where: { action: { in: ["model.alias.set", "model.alias.clear"] }, ts: { gte: since }, entityId: a.modelId! }, orderBy: { id: "asc" } });
    const aliasOf = (x: unknown) => (x as { alias?: string } | null)?.alias;
    expect(audits.map((e) => [e.action, aliasOf(e.after) ?? aliasOf(e.before), e.surfaceKeys])).toEqual([
      ["model.alias.set", "canary@t-two-a", ["t-two-a"]], ["model.alias.set", "canary@t-two-b", ["t-two-b"]], ["model.alias.clear", "canary@t-two-b", ["t-two-b"]],
      ["model.alias.set", "canary@t-two-b", ["t-two-b"]], ["model.alias.set", "production", ["t-two-a"]], ["model.alias.clear", "canary@t-two-a", ["t-two-a"]],
    ]);
    // Webhooks: each canary alias move, and each canary event, names its own surface.
    const events = await db.webhookEvent.findMany({ where: { createdAt: { gte: since }, kind: { in: ["alias.moved", "canary.step", "canary.rolled_back", "canary.promoted"] } }, orderBy: { createdAt: "asc" } });
    const data = events.map((e) => ({ kind: e.kind, ...(e.data as { alias?: string; surface?: string; surfaces?: string[]; version?: number; toVersion?: number }) }));
    expect(data.filter((d) => d.kind === "alias.moved" && d.alias!.startsWith("canary@")).map((d) => [d.alias, d.surfaces, d.toVersion])).toEqual([
      ["canary@t-two-a", ["t-two-a"], 3], ["canary@t-two-b", ["t-two-b"], 4], ["canary@t-two-b", ["t-two-b"], 4],
    ]);
    expect(data.filter((d) => d.kind.startsWith("canary.")).map((d) => [d.kind, d.surface, d.version])).toEqual([
      ["canary.step", "t-two-a", 3], ["canary.step", "t-two-b", 4], ["canary.rolled_back", "t-two-b", 4], ["canary.step", "t-two-b", 4], ["canary.promoted", "t-two-a", 3],
    ]);
    await ml.rollouts.abort({ surface: "t-two-b", reason: "done" });
    // Other test files share this database: leave no endpoint behind.
    await db.webhookEndpoint.deleteMany({ where: { name: "t-two" } });
  });

  it("issue #14: a canary may not start or promote on a surface while another surface on the same serving alias has a running or paused rollout", async () => {
    const db = getDb();
    const ml = caller();
    const spec = demoFeatureSpec();
    // t-share-a and t-share-b both serve t-share-a-model production (v1); v4 and v5 are candidates.
    const a = await createTestSurface(db, { key: "t-share-a", bytes: demoModelBytes("linear"), featureSpec: spec, extraVersions: [demoModelBytes("candidate"), linearRankerOnnx([0.3, 1, 5.5, 0.3, -0.05, -0.001, 0.5], 0)] });
    const b = await db.surface.create({ data: { key: "t-share-b", name: "t-share-b", modelId: a.modelId, modelAlias: "production", timeoutMs: 1000 } });
    await ml.rollouts.start({ surface: "t-share-a", version: 4, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "v4 on A" });
    const [onA] = await ml.rollouts.list({ surface: "t-share-a", limit: 1 });
    const refusal = (surface: string, other: string, id: string, status: string, version: number, percent: number, act: string) =>
      `cannot ${act} on "${surface}": t-share-a-model production also serves "${other}", where rollout ${id} is ${status} (v${version} at ${percent} %); promoting here would move the baseline that rollout is judged against. Let it end, or abort it, first`;
    // Starting on B is refused (409), naming A and its rollout; nothing is written.
    await expect(ml.rollouts.start({ surface: "t-share-b", version: 5, reason: "v5 on B" })).rejects.toMatchObject({
      code: "CONFLICT", message: refusal("t-share-b", "t-share-a", onA!.id, "running", 4, 50, "start a canary"),
    });
    // Paused counts too.
    await ml.rollouts.pause({ surface: "t-share-a", reason: "look first" });
    await expect(ml.rollouts.start({ reason: "test change", surface: "t-share-b", version: 5 })).rejects.toThrow(refusal("t-share-b", "t-share-a", onA!.id, "paused", 4, 50, "start a canary"));
    expect(await db.rollout.count({ where: { surfaceId: b.id } })).toBe(0);
    expect(await aliasVersion("t-share-a-model", "canary@t-share-b")).toBeNull();
    await ml.rollouts.resume({ surface: "t-share-a", reason: "go on" });

    // Two at once on the two surfaces (they take the model's lock): exactly one starts.
    await ml.rollouts.abort({ surface: "t-share-a", reason: "race next" });
    const race = await Promise.allSettled([
      ml.rollouts.start({ reason: "test change", surface: "t-share-a", version: 4, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2 }),
      ml.rollouts.start({ reason: "test change", surface: "t-share-b", version: 5, steps: [50] }),
    ]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((race.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT" });
    const running = await db.rollout.findMany({ where: { surface: { key: { in: ["t-share-a", "t-share-b"] } }, status: "running" }, include: { surface: true } });
    expect(running).toHaveLength(1);
    if (running[0]!.surface.key === "t-share-b") {
      await ml.rollouts.abort({ surface: "t-share-b", reason: "keep A for the promotion checks" });
      await ml.rollouts.start({ reason: "test change", surface: "t-share-a", version: 4, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2 });
    }
    const [current] = await ml.rollouts.list({ surface: "t-share-a", limit: 1 });

    // A rollout on B left from before the rule (written directly, as an older release could have): A may not promote over it.
    const v5 = await db.modelVersion.findFirstOrThrow({ where: { modelId: a.modelId!, version: 5 } });
    const v1 = await db.modelVersion.findFirstOrThrow({ where: { modelId: a.modelId!, version: 1 } });
    const legacy = await db.rollout.create({ data: { surfaceId: b.id, modelId: a.modelId!, fromVersionId: v1.id, toVersionId: v5.id, status: "paused", steps: [10], currentPercent: 10, analysis: {}, createdBy: "older release" } });
    await expect(ml.rollouts.promote({ surface: "t-share-a", reason: "looks fine" })).rejects.toMatchObject({
      code: "CONFLICT", message: refusal("t-share-a", "t-share-b", legacy.id, "paused", 5, 10, "promote the canary"),
    });
    // The judge does not promote over it either: A's last step passes, and A pauses with the reason instead.
    await send("t-share-a", users("share", 300));
    const outcome = await judgeRollout(db, current!.id);
    expect(outcome).toMatchObject({ surface: "t-share-a", decision: "pause", status: "paused", percent: 50 });
    const [paused] = await ml.rollouts.list({ surface: "t-share-a", limit: 1 });
    expect(paused).toMatchObject({ status: "paused", history: [] });
    expect(paused!.latest!.reasons[0]).toBe(refusal("t-share-a", "t-share-b", legacy.id, "paused", 5, 10, "promote the canary"));
    expect(await aliasVersion("t-share-a-model", "production")).toBe(1);
    // Once B's rollout ends, A promotes.
    await db.rollout.update({ where: { id: legacy.id }, data: { status: "aborted", endedAt: new Date() } });
    await ml.rollouts.resume({ surface: "t-share-a", reason: "B ended" });
    expect(await ml.rollouts.promote({ surface: "t-share-a", reason: "now" })).toMatchObject({ status: "promoted" });
    expect(await aliasVersion("t-share-a-model", "production")).toBe(4);
  });

  it("issue #14 break test, re-broken: past a step's deadline on a surface that sends outcome events, CTR without its sample pauses the rollout for on-call (never advances on no CTR); resume gives a fresh deadline", async () => {
    const db = getDb();
    const ml = caller();
    await createTestSurface(db, { key: "t-deadline", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), shadowBytes: demoModelBytes("candidate") });
    const pastDeadline = async () => {
      const [r] = await db.rollout.findMany({ where: { surface: { key: "t-deadline" }, status: { in: ["running", "paused"] } } });
      await db.rollout.update({ where: { id: r!.id }, data: { analysis: { ...(r!.analysis as object), stepDeadlineAt: new Date(Date.now() - 1000).toISOString() } } });
    };
    const judge = async () => (await ml.rollouts.analyse()).find((o) => o.surface === "t-deadline")!;
    await db.webhookEndpoint.create({ data: { name: "t-deadline-hook", url: "http://127.0.0.1:9/hook", format: "standard", eventKinds: ["canary.paused", "canary.resumed"], secret: "whsec_dGVzdA==", createdBy: "test" } });
    await ml.rollouts.start({ surface: "t-deadline", version: 3, steps: [50, 60], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, stepDeadlineMinutes: 90, reason: "few outcome events" });
    const [started] = await ml.rollouts.list({ surface: "t-deadline", limit: 1 });
    expect(started!.policy).toMatchObject({ stepDeadlineMinutes: 90, minImpressions: 20_000 });
    expect(new Date(started!.stepDeadlineAt!).getTime() - new Date(started!.stepStartedAt).getTime()).toBeGreaterThan(89 * 60_000);
    // Enough requests in both arms; an impression per request: far short of 20,000 each.
    const served = await send("t-deadline", users("dl", 300));
    await db.$executeRaw`
      INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id)
      SELECT 'imp-' || request_id, ts, request_id, ts, surface, 'impression', 'i1' FROM rerank_requests WHERE surface = 't-deadline'`;
    expect(served.size).toBe(300);
    expect(await judge()).toMatchObject({ decision: "wait", status: "running" });
    const [waiting] = await ml.rollouts.list({ surface: "t-deadline", limit: 1 });
    expect(waiting!.latest!.reasons[0]).toMatch(/^CTR \(clicks per impression\): \d+ canary and \d+ baseline impressions of the 20000 each needed/);

    await pastDeadline();
    expect(await judge()).toMatchObject({ decision: "pause", status: "paused", percent: 50 });
    const [paused] = await ml.rollouts.list({ surface: "t-deadline", limit: 1 });
    expect(paused).toMatchObject({ status: "paused", step: 0, history: [] });
    expect(paused!.latest!.reasons[0]).toBe(
      "paused for on-call: the step's deadline (90 min) passed without the minimum sample of CTR (clicks per impression), which this step needs; resume to wait another 90 min or abort; an ML engineer can promote now",
    );
    expect(paused!.latest!.metrics.find((m) => m.metric === "ctr")).toMatchObject({ classification: "nodata", failed: false });
    const audit = await db.auditLog.findFirst({ where: { action: "rollout.paused", surfaceKeys: { has: "t-deadline" } }, orderBy: { id: "desc" } });
    expect(audit).toMatchObject({ actor: "rollout-analysis", reason: paused!.latest!.reasons[0] });
    // Resume: a fresh deadline, and the step waits again.
    await ml.rollouts.resume({ surface: "t-deadline", reason: "traffic is back" });
    const [resumed] = await ml.rollouts.list({ surface: "t-deadline", limit: 1 });
    expect(resumed!.status).toBe("running");
    expect(new Date(resumed!.stepDeadlineAt!).getTime()).toBeGreaterThan(Date.now() + 80 * 60_000);
    expect(await judge()).toMatchObject({ decision: "wait" });
    await ml.rollouts.abort({ surface: "t-deadline", reason: "done" });
    // On-call hears of the pause and the resume (webhooks), not only from the page.
    const events = await db.webhookEvent.findMany({ where: { kind: { in: ["canary.paused", "canary.resumed"] } }, orderBy: { createdAt: "asc" } });
    const mine = events.map((e) => ({ kind: e.kind, data: e.data as Record<string, unknown> })).filter((e) => e.data.surface === "t-deadline");
    expect(mine.map((e) => [e.kind, e.data.mode ?? null, e.data.percent, e.data.actor])).toEqual([
      ["canary.paused", "automatic", 50, "rollout-analysis"],
      ["canary.resumed", null, 50, expect.any(String)],
    ]);
  });
  it("break test: on a surface that sent impressions before the rollout, a step waits for CTR although the step's events have not arrived yet (flushed 60 s later), and pauses at its deadline; the start is filed under every surface its promotion reaches, with its policy", async () => {
    const db = getDb();
    const ml = caller();
    const a = await createTestSurface(db, { key: "t-late", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), shadowBytes: demoModelBytes("candidate") });
    await db.surface.create({ data: { key: "t-late-b", name: "t-late-b", modelId: a.modelId, modelAlias: "production", timeoutMs: 1000 } });
    // An impression an hour before the rollout: the surface sends outcome events.
    await db.$executeRaw`INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id) VALUES ('late-before', now() - interval '1 hour', 'late-req', now() - interval '1 hour', 't-late', 'impression', 'i1')`;
    await expect(ml.rollouts.start({ surface: "t-late", version: 3, steps: [50], maxFallbackRateIncrease: 1, reason: "loose fallbacks" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^maxFallbackRateIncrease: 1 is above 0\.1/) });
    const started = await ml.rollouts.start({ surface: "t-late", version: 3, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "v3 canary" });
    const entry = await db.auditLog.findFirstOrThrow({ where: { action: "rollout.start", entityId: started.id } });
    expect(entry.surfaceKeys).toEqual(["t-late", "t-late-b"]);
    expect(entry.after).toMatchObject({ policy: { minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, maxFallbackRateIncrease: 0.01 } });
    expect((entry.after as { nonDefault: string[] }).nonDefault).toEqual([
      "minimum requests 100 requests per arm (default 500 requests per arm)",
      "latency tolerance +200 % of the baseline median (default +10 % of the baseline median)",
      "tail tolerance +20 points past the baseline's p99 (default +1 points past the baseline's p99)",
    ]);
    await send("t-late", users("late", 300));
    // Every request has its arms' requests, none of its impressions yet: the old judge advanced (and, on the last step, promoted) here.
    const [outcome] = (await ml.rollouts.analyse()).filter((o) => o.surface === "t-late");
    expect(outcome).toMatchObject({ decision: "wait", status: "running" });
    const [waiting] = await ml.rollouts.list({ surface: "t-late", limit: 1 });
    expect(waiting!.latest!.reasons).toEqual(["CTR (clicks per impression): no impressions in the canary yet"]);
    const [r] = await db.rollout.findMany({ where: { id: started.id } });
    await db.rollout.update({ where: { id: r!.id }, data: { analysis: { ...(r!.analysis as object), stepDeadlineAt: new Date(Date.now() - 1000).toISOString() } } });
    expect((await ml.rollouts.analyse()).find((o) => o.surface === "t-late")).toMatchObject({ decision: "pause", status: "paused" });
    expect(await aliasVersion("t-late-model", "production")).toBe(1);
    await ml.rollouts.abort({ surface: "t-late", reason: "done" });
  });

  it("issue #14 break test: two clicks per impression (or clicks on items never shown) do not crash the judge; CTR counts clicked impressions", async () => {
    const db = getDb();
    const ml = caller();
    await createTestSurface(db, { key: "t-clicks", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), shadowBytes: demoModelBytes("candidate") });
    await ml.rollouts.start({ surface: "t-clicks", version: 3, steps: [50, 60], minRequests: 100, minImpressions: 500, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "clicky clients" });
    await send("t-clicks", users("ck", 300));
    // Each request: one impression of i1, two clicks on i1 (a double tap) and a click on i2 it never reported as shown;
    // and i3–i5 impressed and clicked once each (so each arm has its 500 impressions).
    await db.$executeRaw`
      INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id)
      SELECT kind || '-' || n || '-' || request_id, ts, request_id, ts, surface, kind::"OutcomeType", item
      FROM rerank_requests CROSS JOIN (VALUES ('impression', 1, 'i1'), ('click', 1, 'i1'), ('click', 2, 'i1'), ('click', 3, 'i2'),
        ('impression', 4, 'i3'), ('click', 5, 'i3'), ('impression', 6, 'i4'), ('click', 7, 'i4'), ('impression', 8, 'i5'), ('click', 9, 'i5')) AS e(kind, n, item)
      WHERE surface = 't-clicks'`;
    const outcome = (await ml.rollouts.analyse()).find((o) => o.surface === "t-clicks")!;
    expect(outcome.decision).toBe("advance");
    const [rollout] = await ml.rollouts.list({ surface: "t-clicks", limit: 1 });
    const ctr = rollout!.history[0]!.metrics.find((m) => m.metric === "ctr")!;
    // Every impression was clicked, once: CTR 100 % in both arms, a rate the interval can take.
    expect(ctr).toMatchObject({ canary: 1, baseline: 1, classification: "pass" });
    await ml.rollouts.abort({ surface: "t-clicks", reason: "done" });
  });

  it("#14 break test: the serving alias of a running or paused rollout may not move under it (409 naming the rollout); an on-call rollback moves it and aborts the rollout", async () => {
    const db = getDb();
    const ml = caller();
    const spec = demoFeatureSpec();
    // t-stable-model: production v1 → v5 (history), v4 the canary; t-stable-b shares production.
    const a = await createTestSurface(db, { key: "t-stable", bytes: demoModelBytes("linear"), featureSpec: spec, extraVersions: [demoModelBytes("candidate"), demoModelBytes("popularity")] });
    await db.surface.create({ data: { key: "t-stable-b", name: "t-stable-b", modelId: a.modelId, modelAlias: "production", timeoutMs: 1000 } });
    const id = async (v: number) => (await db.modelVersion.findFirstOrThrow({ where: { modelId: a.modelId!, version: v } })).id;
    await ml.models.setAlias({ versionId: await id(5), alias: "production", reason: "ship v5" });
    await db.webhookEndpoint.create({ data: { name: "t-stable hooks", url: "http://127.0.0.1:35099/none", format: "standard", eventKinds: ["canary.rolled_back"], secret: "whsec_dGVzdA==", createdBy: "test" } });
    await ml.rollouts.start({ surface: "t-stable", version: 4, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "v4 canary" });
    const [rollout] = await ml.rollouts.list({ surface: "t-stable", limit: 1 });
    const refusal = (status: string) =>
      `t-stable-model production is the serving alias (the baseline) of rollout ${rollout!.id} on "t-stable" (${status}, v4 at 50 %): moving it now would change what that canary is judged against. Promote or abort the rollout first (an on-call rollback always works, and aborts it)`;

    // models.setAlias on the baseline: refused, nothing moves.
    await expect(ml.models.setAlias({ versionId: await id(1), alias: "production", reason: "out of band" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal("running") });
    // experiments.ship moves production too: refused the same way, the experiment runs on.
    const pm = callerAs(["pm"], "pm@stable.test");
    await pm.experiments.create(experimentInputSchema.parse({
      key: "t-stable-exp", name: "Stable experiment", surface: "t-stable-b", owner: "pm@stable.test", hypothesis: "x",
      variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelVersionId: await id(1) }],
    }));
    await pm.experiments.start({ key: "t-stable-exp" });
    await expect(pm.experiments.ship({ key: "t-stable-exp", variant: "treat", reason: "ship", override: true })).rejects.toMatchObject({ code: "CONFLICT", message: refusal("running") });
    expect((await db.experiment.findUniqueOrThrow({ where: { key: "t-stable-exp" } })).status).toBe("running");
    await pm.experiments.stop({ key: "t-stable-exp", reason: "test over" });
    // Paused counts too.
    await ml.rollouts.pause({ surface: "t-stable", reason: "look first" });
    await expect(ml.models.setAlias({ versionId: await id(1), alias: "production", reason: "out of band" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal("paused") });
    expect(await aliasVersion("t-stable-model", "production")).toBe(5);
    expect(await aliasVersion("t-stable-model", "canary@t-stable")).toBe(4);

    // The one-button rollback, pressed on the other surface sharing the alias, always works: production v5 → v1, the rollout is aborted.
    const oncall = callerAs(["oncall"], "oncall@stable.test");
    expect(await oncall.oncall.rollback({ surface: "t-stable-b", reason: "incident" })).toMatchObject({ version: 1, surfaces: ["t-stable-b", "t-stable"] });
    expect(await aliasVersion("t-stable-model", "production")).toBe(1);
    expect(await aliasVersion("t-stable-model", "canary@t-stable")).toBeNull();
    expect(await db.rollout.findUniqueOrThrow({ where: { id: rollout!.id } })).toMatchObject({ status: "aborted", currentPercent: 0 });
    expect(await db.auditLog.findFirst({ where: { action: "rollout.aborted", entityId: rollout!.id } })).toMatchObject({ actor: "oncall@stable.test", reason: "serving alias moved by rollback" });
    expect(await db.promotionHistory.findFirst({ where: { rolloutId: rollout!.id, kind: "canary_aborted" } })).toMatchObject({ reason: "serving alias moved by rollback", surfaceKey: "t-stable", percent: 0 });
    const hook = await db.webhookEvent.findFirstOrThrow({ where: { kind: "canary.rolled_back", data: { path: ["rolloutId"], equals: rollout!.id } } });
    expect(hook.data).toMatchObject({ surface: "t-stable", version: 4, percent: 50, mode: "rollback", actor: "oncall@stable.test", reason: "serving alias moved by rollback" });
    // Nothing left to judge; the alias moves freely again.
    expect(await judgeRollout(db, rollout!.id)).toMatchObject({ decision: "skipped", status: "aborted" });
    expect((await ml.models.setAlias({ versionId: await id(5), alias: "production", reason: "fixed" })).to.version).toBe(5);
  });

  it("#14 break test: a canary started before a surface sharing its alias became guarded is not promoted onto it without approval (by hand 409; the judge pauses); an approved canary_promote request promotes it, and the promotion names every surface it reached", async () => {
    const db = getDb();
    const ml = caller();
    const spec = demoFeatureSpec();
    const a = await createTestSurface(db, { key: "t-gate", bytes: demoModelBytes("linear"), featureSpec: spec, extraVersions: [demoModelBytes("candidate")] });
    await db.surface.create({ data: { key: "t-gate-b", name: "t-gate-b", modelId: a.modelId, modelAlias: "production", timeoutMs: 1000 } });
    await db.webhookEndpoint.create({ data: { name: "t-gate hooks", url: "http://127.0.0.1:35099/none", format: "standard", eventKinds: ["canary.promoted"], secret: "whsec_dGVzdA==", createdBy: "test" } });
    await ml.rollouts.start({ surface: "t-gate", version: 4, steps: [50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "v4 canary" });
    const [rollout] = await ml.rollouts.list({ surface: "t-gate", limit: 1 });
    // t-gate-b becomes guarded after the start.
    await callerAs(["admin"], "admin@gate.test").approvals.setRequired({ surface: "t-gate-b", required: true, reason: "guarded now" });
    const refusal = 'surface "t-gate-b" requires approval for this promotion (t-gate-model production serves it too), and the canary\'s start was not approved for it: request a canary promotion (a canary_promote change request), and another person with the permission approves it';
    await expect(ml.rollouts.promote({ surface: "t-gate", reason: "looks fine" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await aliasVersion("t-gate-model", "production")).toBe(1);
    // The judge: the last step passes, and the rollout pauses with the reason instead of promoting.
    await send("t-gate", users("gate", 300));
    expect(await judgeRollout(db, rollout!.id)).toMatchObject({ surface: "t-gate", decision: "pause", status: "paused", percent: 50 });
    const [paused] = await ml.rollouts.list({ surface: "t-gate", limit: 1 });
    expect(paused!.latest!.reasons[0]).toBe(refusal);
    expect(await db.auditLog.findFirst({ where: { action: "rollout.paused", entityId: rollout!.id } })).toMatchObject({ actor: "rollout-analysis", reason: refusal });
    expect(await aliasVersion("t-gate-model", "production")).toBe(1);

    // A canary_promote request, approved by another person, promotes it.
    const ana = await createUser(db, { email: "ana@gate.test", name: "ana", roles: ["ml_engineer"], password: "a long enough password" });
    const bo = await createUser(db, { email: "bo@gate.test", name: "bo", roles: ["ml_engineer"], password: "a long enough password" });
    const as = (u: typeof ana) => createCaller(contextFor({ kind: "user", id: u.user.id, name: u.user.email, displayName: u.user.name, roles: ["ml_engineer"] }));
    const request = await as(ana).approvals.request({ change: { kind: "canary_promote", surface: "t-gate" }, reason: "v4 passed" });
    expect(request).toMatchObject({ kind: "canary_promote", summary: "promote the canary of t-gate-model v4 on t-gate (at 50 %): t-gate-model production v1 → v4; it also serves t-gate-b", payload: { rolloutId: rollout!.id } });
    // A competing request for the same promotion, filed from another tab.
    const twin = await as(bo).approvals.request({ change: { kind: "canary_promote", surface: "t-gate" }, reason: "v4 passed, from bo" });
    expect(await as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    // Once the canary is promoted, the other is stale: the list says why, and approving it is refused so.
    const stale = 'the canary on "t-gate" this request promotes has been promoted since the request was filed: not promoted; file a new request for a canary running now';
    expect((await as(ana).approvals.list({ status: "pending", limit: 100 })).find((r) => r.id === twin.id)?.stale).toBe(stale);
    await expect(as(ana).approvals.decide({ id: twin.id, approve: true, comment: "too" })).rejects.toMatchObject({ code: "CONFLICT", message: stale });
    expect(await aliasVersion("t-gate-model", "production")).toBe(4);
    expect(await db.rollout.findUniqueOrThrow({ where: { id: rollout!.id } })).toMatchObject({ status: "promoted" });
    // The promotion's row and webhook name every surface the alias move reached, as setAlias does.
    expect(await db.promotionHistory.findFirst({ where: { rolloutId: rollout!.id, kind: "canary_promoted" } })).toMatchObject({ surfaceKey: "t-gate", surfaces: ["t-gate", "t-gate-b"] });
    const hook = await db.webhookEvent.findFirstOrThrow({ where: { kind: "canary.promoted", data: { path: ["rolloutId"], equals: rollout!.id } } });
    expect(hook.data).toMatchObject({ surface: "t-gate", alias: "production", surfaces: ["t-gate", "t-gate-b"] });
  });
});
