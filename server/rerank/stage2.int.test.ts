import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { DEMO_CASCADE_SURFACE } from "../demo/cascade";
import { DEMO_CROSS_ENCODER_NAME } from "../demo/crossEncoder";
import { crossEncoderPool } from "../inference/crossEncoder/pool";
import { peekModel, unloadAll, type CrossEncoderHandle } from "../inference/sessions";
import { servedModelRefs, surfaceConfigs } from "../surfaces/configCache";
import { demoFeatureSpec } from "../demo/models";
import { COMPETITIVE_FLAG, creditOf } from "../domain/interleaving/credit";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { randomEnsemble } from "../domain/onnx/randomEnsemble";
import { createRng } from "../domain/random";
import { InvalidInputError } from "../errors";
import { configureStage2 } from "../surfaces/stage2";
import { testActor } from "../testing/actors";
import { callerAs, keyHeaders } from "../testing/callers";
import { startInterleaving } from "../testing/experiments";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { createTestSurface, failingModelOnnx, slowModelOnnx } from "../testing/models";
import { rerank } from "./pipeline";
import { openServedModels } from "./warm";
import type { RerankRequest, RerankResponse } from "./schema";

// Two-stage cascades end to end on real PostgreSQL and real onnxruntime sessions: a tree ensemble
// as stage 1, a larger tree ensemble as stage 2; a stage 2 that throws, one over its budget, one
// whose breaker is open. Each test surface's own "-model" is also a registry model a stage 2 can name.

const spec = demoFeatureSpec();
const trees = (seed: number, count: number, depth: number) =>
  treeEnsembleOnnx(randomEnsemble(createRng(seed), { trees: count, depth, numFeatures: spec.length, comparison: "<=" }));
const STAGE1 = trees(7, 20, 3);
const STAGE2 = trees(11, 300, 6);

let catalog: Array<{ id: string }>;
const candidates = (n: number, from = 0) => catalog.slice(from, from + n).map((c, i) => ({ id: c.id, retrievalScore: 1 - i / n }));
let frontDoor: TestFrontDoor;
const actor = testActor("cascade-test");

async function cascadeSurface(key: string, stage2Model: string, rerankCount: number, budgetMs: number) {
  await createTestSurface(getDb(), { key, bytes: STAGE1, featureSpec: spec });
  await configureStage2(getDb(), { surface: key, stage2: { model: stage2Model, alias: "production", rerankCount, budgetMs } }, actor);
}

beforeAll(async () => {
  frontDoor = await startTestFrontDoor();
  const db = getDb();
  await seedDemo(db);
  catalog = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" } });
  // Stage 1 alone, and each stage-2 model alone (as the primary of its own surface).
  await createTestSurface(db, { key: "c-stage1", bytes: STAGE1, featureSpec: spec });
  await createTestSurface(db, { key: "c-big", bytes: STAGE2, featureSpec: spec });
  await createTestSurface(db, { key: "c-il-v4", bytes: trees(23, 20, 3), featureSpec: spec });
  await createTestSurface(db, { key: "c-throws", bytes: failingModelOnnx(spec.length), featureSpec: spec });
  // Over a 2 ms budget warm, not only cold: 50 rows through ten 1024-wide layers (~1 GFLOP, 20 ms or
  // more here). A smaller one (8 rows, four layers) timed out only while its session was still
  // opening, which a config's models no longer are by the time it serves (MODEL_WARM_WAIT_MS).
  await createTestSurface(db, { key: "c-slow", bytes: slowModelOnnx(spec.length, 1024, 10), featureSpec: spec });
  await createTestSurface(db, { key: "c-breaks", bytes: failingModelOnnx(spec.length), featureSpec: spec });
  await cascadeSurface("c-two-stage", "c-big-model", 8, 1000);
  await cascadeSurface("c-stage2-throws", "c-throws-model", 8, 1000);
  await cascadeSurface("c-stage2-slow", "c-slow-model", 50, 2);
  await cascadeSurface("c-stage2-breaks", "c-breaks-model", 8, 1000);
}, 120_000);

afterAll(() => frontDoor?.close());

const ids = (r: RerankResponse) => r.items.map((i) => i.id);

describe("a tree stage 1 and a larger tree ensemble as stage 2", () => {
  it("serves stage 2's order over the top rerankCount of stage 1, then stage 1's order, scores monotone", async () => {
    const pool = candidates(40);
    const alone = await rerank({ surface: "c-stage1", topK: 40, candidates: pool });
    const top8 = ids(alone).slice(0, 8);
    const byStage2 = await rerank({ surface: "c-big", topK: 8, candidates: pool.filter((c) => top8.includes(c.id)) });
    const response = await rerank({ surface: "c-two-stage", topK: 20, candidates: pool });

    expect(response.stage2).toMatchObject({ status: "served", reason: null, model: { name: "c-big-model", version: 1, alias: "production" }, rerankCount: 8 });
    expect(response.stage2!.reranked).toEqual(ids(byStage2));
    expect(ids(response)).toEqual([...ids(byStage2), ...ids(alone).slice(8, 20)]);
    const scores = response.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Every stage-2 item above every stage-1-only item (floor + 1 at least).
    expect(scores[7]! - scores[8]!).toBeGreaterThanOrEqual(1 - 1e-5);
    expect(response.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
    expect(response.modelVersion).toMatchObject({ name: "c-two-stage-model" });
  });

  it("times both stages: score (stage 1) and rescore (stage 2)", async () => {
    const response = await rerank({ surface: "c-two-stage", topK: 10, candidates: candidates(30) });
    expect(Object.keys(response.timings).sort()).toEqual(["constraints", "features", "rescore", "resolve", "score", "total"]);
    expect(response.timings.rescore).toBeGreaterThan(0);
    expect(response.stage2!.ms).toBeLessThanOrEqual(response.timings.rescore! + 0.01);
    // A surface without stage 2 has neither.
    const plain = await rerank({ surface: "c-stage1", topK: 10, candidates: candidates(30) });
    expect(plain.stage2).toBeUndefined();
    expect(plain.timings.rescore).toBeUndefined();
  });

  it("rescores every candidate when rerankCount exceeds them", async () => {
    const pool = candidates(5, 100);
    const response = await rerank({ surface: "c-two-stage", topK: 5, candidates: pool });
    const byStage2 = await rerank({ surface: "c-big", topK: 5, candidates: pool });
    expect(ids(response)).toEqual(ids(byStage2));
    expect(response.stage2!.reranked).toEqual(ids(byStage2));
  });
});

describe("the demo cascade: a tabular stage 1 and the demo cross-encoder as stage 2", () => {
  it("rescores the top 20 against the query in the cross-encoder's order (as the text surface alone orders them)", async () => {
    const pool = candidates(60, 500);
    const context = { query: "wireless headphones" };
    const alone = await rerank({ surface: "search", topK: 60, context, candidates: pool });
    const top20 = ids(alone).slice(0, 20);
    // In stage 1's order, so that equal cross-encoder scores (items with the same title) keep the same order.
    const byCrossEncoder = await rerank({ surface: "product-qa", topK: 20, context, candidates: top20.map((id) => pool.find((c) => c.id === id)!) });
    expect(byCrossEncoder.modelVersion).toMatchObject({ name: "demo-cross-encoder" });
    const response = await rerank({ surface: "product-search", topK: 30, context, candidates: pool });
    expect(response.stage2).toMatchObject({ status: "served", model: { name: "demo-cross-encoder", alias: "production" }, rerankCount: 20 });
    expect(response.stage2!.reranked).toEqual(ids(byCrossEncoder));
    expect(ids(response)).toEqual([...ids(byCrossEncoder), ...ids(alone).slice(20, 30)]);
    expect(response.items.slice(0, 20).every((i) => i.reasons.includes("stage2"))).toBe(true);
    expect(response.items.slice(20).some((i) => i.reasons.includes("stage2"))).toBe(false);
  });
});

describe("an interleaving experiment on a cascade surface: each arm's own stage 2, both reported", () => {
  it("reports stage2 for the first arm and stage2Arms for both; each item says stage2 when its own arm's stage 2 placed it", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "c-il", bytes: STAGE1, featureSpec: spec, extraVersions: [trees(23, 20, 3)] });
    await configureStage2(db, { surface: "c-il", stage2: { model: "c-big-model", alias: "production", rerankCount: 6, budgetMs: 2000 } }, actor);
    const v4 = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "c-il-model" }, version: 4 } });
    await startInterleaving("c-il-exp", "c-il", [{ key: "control", name: "stage 1 v1", modelAlias: "production" }, { key: "treatment", name: "stage 1 v4", modelVersionId: v4.id }]);

    const pool = candidates(40, 600);
    const response = await rerank({ surface: "c-il", topK: 12, userKey: "u-il", candidates: pool });
    expect(response.variant).toMatchObject({ experiment: "c-il-exp", key: "interleaved" });
    expect(Object.keys(response.stage2Arms!).sort()).toEqual(["control", "treatment"]);
    expect(response.stage2).toEqual(response.stage2Arms!.control);
    // Each arm's stage 2 rescored the top 6 of that arm's own stage-1 order, as the big trees order them.
    const byStage2 = async (stage1: RerankResponse) => {
      const top6 = ids(stage1).slice(0, 6);
      return ids(await rerank({ surface: "c-big", topK: 6, candidates: pool.filter((c) => top6.includes(c.id)) }));
    };
    const controlStage1 = await rerank({ surface: "c-stage1", topK: 40, candidates: pool });
    const treatmentStage1 = await rerank({ surface: "c-il-v4", topK: 40, candidates: pool });
    for (const [arm, stage1] of [["control", controlStage1], ["treatment", treatmentStage1]] as const) {
      expect(response.stage2Arms![arm]).toMatchObject({ status: "served", reason: null, model: { name: "c-big-model" }, rerankCount: 6 });
      expect(response.stage2Arms![arm]!.reranked).toEqual(await byStage2(stage1));
    }
    // The two stage-1 rankers differ, so their stage 2s saw different items.
    expect(response.stage2Arms!.control!.reranked).not.toEqual(response.stage2Arms!.treatment!.reranked);
    for (const item of response.items) {
      const arm = creditOf(item.reasons) ?? "control";
      expect(item.reasons.includes("stage2")).toBe(response.stage2Arms![arm]!.reranked.includes(item.id));
    }
    // "stage2" sits before the interleaving credit: the competitive flag stays the first item's last reason.
    if (response.items[0]!.reasons.includes(COMPETITIVE_FLAG)) expect(response.items[0]!.reasons.at(-1)).toBe(COMPETITIVE_FLAG);
    // A surface with one arm reports no stage2Arms.
    expect((await rerank({ surface: "c-two-stage", topK: 5, candidates: pool })).stage2Arms).toBeUndefined();
  });
});

describe("a cross-encoder stage 2 counts its truncations", () => {
  it("stage2.truncated and text.truncated count the documents stage 2 cut to the model's length", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "c-text2", bytes: STAGE1, featureSpec: spec });
    await configureStage2(db, { surface: "c-text2", stage2: { model: DEMO_CROSS_ENCODER_NAME, alias: "production", rerankCount: 20, budgetMs: 10_000 } }, actor);
    const long = "a soft wireless headphone with a long battery and a folding band ".repeat(60);
    // 20 candidates, all rescored by stage 2; three of them carry a document longer than the model's sequence.
    const pool = candidates(20, 700).map((c, i) => ({ ...c, text: i % 7 === 0 ? long : `short document ${i}` }));
    const response = await rerank({ surface: "c-text2", topK: 20, context: { query: "wireless headphones" }, candidates: pool });
    expect(response.stage2).toMatchObject({ status: "served", model: { name: DEMO_CROSS_ENCODER_NAME }, truncated: 3 });
    expect(response.text).toEqual({ truncated: 3 });
    // Nothing cut: both say 0; a tree stage 2 reports neither.
    const short = await rerank({ surface: "c-text2", topK: 20, context: { query: "wireless headphones" }, candidates: pool.map((c, i) => ({ ...c, text: `short document ${i}` })) });
    expect(short.stage2).toMatchObject({ status: "served", truncated: 0 });
    expect(short.text).toEqual({ truncated: 0 });
    const treeStage2 = await rerank({ surface: "c-two-stage", topK: 5, candidates: candidates(10) });
    expect(treeStage2.stage2!.truncated).toBeUndefined();
    expect(treeStage2.text).toBeUndefined();
  });
});

describe("a failing stage 2 serves stage 1's order, marked, never a 5xx", () => {
  const post = async (body: RerankRequest) => frontDoor.post("/api/v1/rerank", body, { headers: await keyHeaders("serving") });

  it("stage 2 throws: stage 1's order, stage2 error, 200", async () => {
    const pool = candidates(30, 200);
    const alone = await rerank({ surface: "c-stage1", topK: 10, candidates: pool });
    const res = await post({ surface: "c-stage2-throws", topK: 10, candidates: pool });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RerankResponse;
    expect(body.stage2).toMatchObject({ status: "error", reason: "model_error", model: { name: "c-throws-model" }, reranked: [] });
    expect(ids(body)).toEqual(ids(alone));
    expect(body.items.map((i) => i.score)).toEqual(alone.items.map((i) => i.score));
    expect(body.fallback.used).toBe(false);
  });

  it("stage 2 over its budget: stage 1's order, stage2 timeout, 200", async () => {
    const pool = candidates(50, 300);
    const alone = await rerank({ surface: "c-stage1", topK: 10, candidates: pool });
    const res = await post({ surface: "c-stage2-slow", topK: 10, candidates: pool });
    expect(res.status).toBe(200);
    const body = (await res.json()) as RerankResponse;
    expect(body.stage2).toMatchObject({ status: "timeout", reason: "timeout", reranked: [] });
    expect(ids(body)).toEqual(ids(alone));
  });

  it("stage 2's breaker opens after repeated faults: skipped, stage 1 untouched", async () => {
    const pool = candidates(20, 400);
    const alone = await rerank({ surface: "c-stage1", topK: 10, candidates: pool });
    const statuses: string[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await rerank({ surface: "c-stage2-breaks", topK: 10, candidates: pool })).stage2!.status);
    expect(statuses.slice(0, 5)).toEqual(["error", "error", "error", "error", "error"]);
    expect(statuses.at(-1)).toBe("skipped");
    const last = await rerank({ surface: "c-stage2-breaks", topK: 10, candidates: pool });
    expect(last.stage2).toMatchObject({ status: "skipped", reason: "circuit_open" });
    expect(ids(last)).toEqual(ids(alone));
    // Stage 1's own breaker (scope: the surface) stayed closed: the surface's model served.
    expect(last.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
  });
});

describe("configuring stage 2", () => {
  it("refuses a model or alias that does not exist, and the surface's own serving version, naming the field", async () => {
    await createTestSurface(getDb(), { key: "c-config", bytes: STAGE1, featureSpec: spec });
    const set = (stage2: { model: string; alias: string }) => configureStage2(getDb(), { surface: "c-config", stage2: { ...stage2, rerankCount: 10, budgetMs: 50 } }, actor);
    await expect(set({ model: "no-such-model", alias: "production" })).rejects.toMatchObject({ field: "stage2.model" });
    await expect(set({ model: "c-big-model", alias: "canary" })).rejects.toThrow('c-big-model has no alias "canary" (it has: production)');
    await expect(set({ model: "c-config-model", alias: "production" })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("through tRPC: bounds named, audited, applied at once, and removed with null", async () => {
    const caller = callerAs(["ml_engineer"]);
    await expect(caller.surfaces.configureStage2({ surface: "c-config", stage2: { model: "c-big-model", alias: "production", rerankCount: 0, budgetMs: 50 }, reason: "try it" })).rejects.toThrow(/rerankCount/);
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: { model: "c-big-model", alias: "production", rerankCount: 4, budgetMs: 500 }, reason: "try the big trees" });
    const served = await rerank({ surface: "c-config", topK: 5, candidates: candidates(10) });
    expect(served.stage2).toMatchObject({ status: "served", rerankCount: 4 });
    expect(served.stage2!.reranked).toHaveLength(4);
    // The same stage 2 again (a repeated press) writes nothing.
    const stage2Entries = () => getDb().auditLog.count({ where: { action: "surface.stage2" } });
    const entriesBefore = await stage2Entries();
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: { model: "c-big-model", alias: "production", rerankCount: 4, budgetMs: 500 }, reason: "pressed again" });
    expect(await stage2Entries()).toBe(entriesBefore);
    await expect(caller.surfaces.configureStage2({ surface: "c-config", stage2: null } as never)).rejects.toThrow(/^reason: /);
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: null, reason: "back to one stage" });
    expect((await rerank({ surface: "c-config", topK: 5, candidates: candidates(10) })).stage2).toBeUndefined();
    const audit = await getDb().auditLog.findMany({ where: { action: "surface.stage2" }, orderBy: { ts: "asc" }, select: { after: true, reason: true } });
    expect(audit.at(-2)).toMatchObject({ after: { model: "c-big-model", rerankCount: 4 }, reason: "try the big trees" });
    expect(audit.at(-1)!.after).toBeNull();
    await expect(callerAs(["viewer"]).surfaces.configureStage2({ surface: "c-config", stage2: null, reason: "not mine" })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("a change pinned to the stage 2 it showed is refused once another change landed, and the newest change restores in one step (break test: a stale dialog's save overwrote a newer stage 2)", async () => {
    const caller = callerAs(["ml_engineer"]);
    const big = { model: "c-big-model", alias: "production", rerankCount: 4, budgetMs: 500 };
    const wider = { ...big, rerankCount: 8 };
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: big, reason: "set big", expectBefore: null });
    // Two people opened the dialog on `big`: one widens it, the other's save of a new budget then meets a 409 naming both.
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: wider, reason: "wider", expectBefore: big });
    const entries = await getDb().auditLog.count({ where: { action: "surface.stage2" } });
    await expect(caller.surfaces.configureStage2({ surface: "c-config", stage2: { ...big, budgetMs: 80 }, reason: "faster", expectBefore: big }))
      .rejects.toThrow("stage 2 of c-config changed since it was shown (it showed c-big-model production over the top 4 within 500 ms, it is now c-big-model production over the top 8 within 500 ms)");
    await expect(caller.surfaces.configureStage2({ surface: "c-config", stage2: null, reason: "remove", expectBefore: big })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await getDb().auditLog.count({ where: { action: "surface.stage2" } })).toBe(entries);
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "c-config" } })).stage2).toEqual(wider);

    // The newest change, and its undo: what it was before, pinned to what it left.
    const last = await caller.surfaces.lastStage2Change({ surface: "c-config" });
    expect(last).toMatchObject({ before: big, after: wider, reason: "wider", current: true });
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: last!.before, reason: "undo wider", expectBefore: last!.after });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "c-config" } })).stage2).toEqual(big);
    expect((await rerank({ surface: "c-config", topK: 5, candidates: candidates(10) })).stage2).toMatchObject({ rerankCount: 4 });
    // Undoing the undo brings `wider` back; undoing a removal sets stage 2 again.
    expect(await caller.surfaces.lastStage2Change({ surface: "c-config" })).toMatchObject({ before: wider, after: big, current: true });
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: null, reason: "remove", expectBefore: big });
    const removal = await caller.surfaces.lastStage2Change({ surface: "c-config" });
    expect(removal).toMatchObject({ before: big, after: null, current: true });
    await caller.surfaces.configureStage2({ surface: "c-config", stage2: removal!.before, reason: "undo removal", expectBefore: null });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "c-config" } })).stage2).toEqual(big);
    // A stage 2 changed without an audited change (a direct database edit): the newest change no longer describes it.
    await getDb().surface.update({ where: { key: "c-config" }, data: { stage2: wider } });
    expect(await caller.surfaces.lastStage2Change({ surface: "c-config" })).toMatchObject({ after: big, current: false });
    await getDb().surface.update({ where: { key: "c-config" }, data: { stage2: big } });
    // No change recorded: null; an unknown surface: 404.
    await createTestSurface(getDb(), { key: "c-unchanged", bytes: STAGE1, featureSpec: spec });
    expect(await caller.surfaces.lastStage2Change({ surface: "c-unchanged" })).toBeNull();
    await expect(caller.surfaces.lastStage2Change({ surface: "no-such-surface" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // Restore on a surface that requires approval is a change request like any stage 2 change.
    await getDb().surface.update({ where: { key: "c-config" }, data: { requireApproval: true } });
    await expect(caller.surfaces.configureStage2({ surface: "c-config", stage2: null, reason: "undo", expectBefore: big })).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "c-config" } })).stage2).toEqual(big);
    await getDb().surface.update({ where: { key: "c-config" }, data: { requireApproval: false } });
  });
});

describe("warm-up", () => {
  it("opens stage 2's model with the surface's others (servedModelRefs), the cross-encoder in its pool, so a cascade's first request after a start finds it loaded", async () => {
    const config = await surfaceConfigs().get(DEMO_CASCADE_SURFACE);
    const stage2 = config.stage2!.ref!;
    expect(servedModelRefs(config).map((r) => r.versionId)).toContain(stage2.versionId);
    await unloadAll();
    expect(peekModel(stage2.versionId)).toBeUndefined();
    await openServedModels(() => {});
    const handle = peekModel(stage2.versionId);
    expect(handle?.kind).toBe("cross-encoder");
    expect(crossEncoderPool().has((handle as CrossEncoderHandle).sha256)).toBe(true);
    const response = await rerank({ surface: DEMO_CASCADE_SURFACE, topK: 10, context: { query: "lamp" }, candidates: candidates(30) });
    expect(response.stage2).toMatchObject({ status: "served", reason: null });
  });
});
