// On-call rollback on a cascade surface: the one click rolls back the stage that changed last. A
// stage-2 regression (the cross-encoder's alias moved) used to move stage 1's serving alias, which
// had not changed, and left the bad stage 2 serving.
import { beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../audit/actor";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { setAliasIn } from "../registry/versions";
import { configureStage2 } from "../surfaces/stage2";
import { callerAs } from "../testing/callers";
import { addTestVersion, createTestSurface } from "../testing/models";

const actor: Actor = { kind: "user", id: null, name: "ml@rerank.test" };
const oncall = () => callerAs(["ml_engineer", "oncall"], "oncall@rerank.test");
const db = () => getDb();
const serving = async (model: string) => (await db().modelAlias.findFirstOrThrow({ where: { model: { name: model }, name: "production" }, include: { version: true } })).version.version;
const move = async (model: string, version: number) => {
  const row = await db().modelVersion.findFirstOrThrow({ where: { model: { name: model }, version } });
  await db().$transaction((tx) => setAliasIn(tx, { versionId: row.id, alias: "production", actor, reason: `ship ${model} v${version}` }));
};
const card = async (key: string) => (await oncall().oncall.overview({ hours: 1 })).surfaces.find((s) => s.key === key)!;

beforeAll(async () => {
  // t-cas: stage 1 t-cas-model production (v1; v4 another version); stage 2 t-cas-s2 production (v1; v2 another version).
  await createTestSurface(db(), { key: "t-cas", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0)] });
  const stage2 = await db().model.create({ data: { name: "t-cas-s2", owner: "test" } });
  const v1 = await addTestVersion(db(), { modelId: stage2.id, version: 1, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  await addTestVersion(db(), { modelId: stage2.id, version: 2, bytes: linearRankerOnnx([2, 1, 1, 1, 1, 1, 1], 0), featureSpec: demoFeatureSpec() });
  // Set as the seed sets it: an alias move from nothing, which leaves nothing to roll back to.
  await db().$transaction((tx) => setAliasIn(tx, { versionId: v1.id, alias: "production", actor, reason: "registered" }));
  await db().surface.update({ where: { key: "t-cas" }, data: { stage2: { model: "t-cas-s2", alias: "production", rerankCount: 5, budgetMs: 500 } } });
  // An endpoint subscribed to rollbacks, so that the event is stored.
  await db().webhookEndpoint.create({ data: { name: "ops", url: "https://example.com/ops", format: "standard", eventKinds: ["rollback"], secret: "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==", createdBy: "test" } });
  // A surface without a cascade, for the stage-2 refusal.
  await createTestSurface(db(), { key: "t-cas-plain", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
});

describe("on-call rollback on a cascade surface", () => {
  it("stage 2 moved after stage 1: the overview offers stage 2 as the one click, and a rollback that names no stage moves stage 2, not stage 1", async () => {
    // Stage 2's first setting is no change to roll back: the one click stays on stage 1.
    expect(await card("t-cas")).toMatchObject({ rollbackStage: 1, stages: [{ stage: 1, lastChange: null }, { stage: 2, lastChange: null }] });
    await move("t-cas-model", 4);
    await move("t-cas-s2", 2);
    const before = await card("t-cas");
    expect(before.rollbackStage).toBe(2);
    expect(before.stages.map((s) => ({ stage: s.stage, model: s.modelName, serving: s.serving?.version, target: s.rollback?.version, kind: s.lastChange?.kind }))).toEqual([
      { stage: 1, model: "t-cas-model", serving: 4, target: 1, kind: "alias_move" },
      { stage: 2, model: "t-cas-s2", serving: 2, target: 1, kind: "alias_move" },
    ]);
    // The stage-1 fields of the card are stage 1's, as before.
    expect(before.rollback?.version).toBe(1);

    const done = await oncall().oncall.rollback({ surface: "t-cas", reason: "cross-encoder v2 hurts CTR" });
    expect(done).toMatchObject({ surface: "t-cas", stage: 2, model: "t-cas-s2", alias: "production", version: 1 });
    expect(await serving("t-cas-s2")).toBe(1);
    expect(await serving("t-cas-model")).toBe(4);
    // The history files it under stage 2 of t-cas.
    const history = await oncall().history.surface({ surface: "t-cas", limit: 5 });
    expect(history.rows[0]).toMatchObject({ kind: "rollback", modelName: "t-cas-s2", stage: 2, toVersion: 1 });
    // Its webhook says which stage.
    const event = await db().webhookEvent.findFirst({ where: { kind: "rollback" }, orderBy: { createdAt: "desc" } });
    expect(event?.data).toMatchObject({ surface: "t-cas", stage: 2, model: "t-cas-s2", fromVersion: 2, toVersion: 1 });
  }, 60_000);

  it("stage 2 rolled back: its change no longer stands, so the one click is stage 1's; stage 2 has no further target", async () => {
    const after = await card("t-cas");
    expect(after.rollbackStage).toBe(1);
    expect(after.stages[1]).toMatchObject({ stage: 2, rollback: null, rollbackUnavailable: expect.stringContaining("v2 was rolled back from") });
    await expect(oncall().oncall.rollback({ surface: "t-cas", reason: "again", stage: 2 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("t-cas-s2 production has no rollback target") });
    // A retry of the bare call (break test: it rolled back stage 1's alias, shared by every surface it serves) is refused: name a stage.
    await expect(oncall().oncall.rollback({ surface: "t-cas", reason: "retry after a timeout" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^rollback of t-cas refused: stage 2 \(t-cas-s2 production\) was rolled back by oncall@rerank\.test at .+; a rollback that names no stage does not go on to the other stage: name stage 1 or 2$/),
    });
    expect(await serving("t-cas-model")).toBe(4);
    // A stage-1 rollback pinned as the page pins it.
    const one = after.stages[0]!;
    const done = await oncall().oncall.rollback({ surface: "t-cas", stage: 1, reason: "stage 1 too", expectFromVersionId: one.serving!.versionId, expectVersionId: one.rollback!.versionId });
    expect(done).toMatchObject({ stage: 1, model: "t-cas-model", version: 1 });
    expect(await serving("t-cas-model")).toBe(1);
    expect(await serving("t-cas-s2")).toBe(1);
  }, 60_000);

  it("a rollback that pins a version without naming a stage (the Serving history page's toVersion, an older client) is stage 1's, even when stage 2 changed last", async () => {
    await move("t-cas-model", 4);
    await move("t-cas-s2", 2);
    expect((await card("t-cas")).rollbackStage).toBe(2);
    const done = await oncall().oncall.rollback({ surface: "t-cas", reason: "stage 1 from history", toVersion: 1 });
    expect(done).toMatchObject({ stage: 1, model: "t-cas-model", version: 1 });
    expect(await serving("t-cas-s2")).toBe(2);
    await move("t-cas-s2", 1);
  }, 60_000);

  it("stage 2 reconfigured after every alias move: no one click (a configuration is no alias move), and the new alias's moves count only from then", async () => {
    await move("t-cas-model", 4);
    const model = await db().model.findUniqueOrThrow({ where: { name: "t-cas-s2" } });
    const v1 = await db().modelVersion.findFirstOrThrow({ where: { modelId: model.id, version: 1 } });
    const v2 = await db().modelVersion.findFirstOrThrow({ where: { modelId: model.id, version: 2 } });
    // The candidate alias has a history of its own before it rescores t-cas: v2 → v1.
    await db().$transaction((tx) => setAliasIn(tx, { versionId: v2.id, alias: "candidate", actor, reason: "registered" }));
    await db().$transaction((tx) => setAliasIn(tx, { versionId: v1.id, alias: "candidate", actor, reason: "v2 worse offline" }));
    await configureStage2(db(), { surface: "t-cas", stage2: { model: "t-cas-s2", alias: "candidate", rerankCount: 5, budgetMs: 500 }, reason: "try the candidate" }, actor);
    const after = await card("t-cas");
    expect(after.rollbackStage).toBeNull();
    // Re-break: the candidate's v2, dropped before it was configured here, was offered as stage 2's rollback target.
    expect(after.stages[1]).toMatchObject({ stage: 2, alias: "candidate", lastChange: null, configured: { actor: "ml@rerank.test" }, rollback: null });
    await expect(oncall().oncall.rollback({ surface: "t-cas", reason: "CTR fell" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining("rollback of t-cas refused: stage 2 was reconfigured to t-cas-s2 candidate by ml@rerank.test"),
    });
    expect(await serving("t-cas-model")).toBe(4);
    // A move of the candidate after it was configured is this surface's change: the one click is stage 2's.
    await db().$transaction((tx) => setAliasIn(tx, { versionId: v2.id, alias: "candidate", actor, reason: "v2 again" }));
    expect((await card("t-cas")).rollbackStage).toBe(2);
    // A budget-only edit of stage 2 is no reconfiguration (re-break: it hid the standing v2 move and refused the one click).
    await configureStage2(db(), { surface: "t-cas", stage2: { model: "t-cas-s2", alias: "candidate", rerankCount: 5, budgetMs: 600 }, reason: "more time" }, actor);
    expect((await card("t-cas")).rollbackStage).toBe(2);
    // The Serving history page lists stage 2's versions beside stage 1's, and rolls stage 2 back to any of its options.
    const history = await oncall().history.surface({ surface: "t-cas", limit: 10 });
    expect(history.stage2).toMatchObject({ model: "t-cas-s2", alias: "candidate", serving: { version: 2 }, rollback: { target: { version: 1 } } });
    // Only what the candidate served since it rescores t-cas: v1 when configured, v2 now (its earlier v2 → v1 was not this surface's).
    expect(history.stage2!.stints.map((x) => x.version)).toEqual([2, 1]);
    const done = await oncall().oncall.rollback({ surface: "t-cas", stage: 2, reason: "from Serving history", toVersion: 1, expectFromVersionId: history.stage2!.serving!.versionId });
    expect(done).toMatchObject({ stage: 2, model: "t-cas-s2", alias: "candidate", version: 1 });
  }, 60_000);

  it("a press that read stage 2 before it was reconfigured is refused (expectAlias), and the dialog's alias is never moved for a stage that no longer uses it", async () => {
    const model = await db().model.findUniqueOrThrow({ where: { name: "t-cas-s2" } });
    const v2 = await db().modelVersion.findFirstOrThrow({ where: { modelId: model.id, version: 2 } });
    await db().$transaction((tx) => setAliasIn(tx, { versionId: v2.id, alias: "candidate", actor, reason: "v2 once more" }));
    // The on-call page is read (stage 2: t-cas-s2 candidate at v2, target v1) ...
    const read = (await card("t-cas")).stages[1]!;
    expect(read).toMatchObject({ modelName: "t-cas-s2", alias: "candidate", serving: { version: 2 }, rollback: { version: 1 } });
    // ... then someone points stage 2 at production, and the press comes with what the page showed.
    await configureStage2(db(), { surface: "t-cas", stage2: { model: "t-cas-s2", alias: "production", rerankCount: 5, budgetMs: 500 }, reason: "back to production" }, actor);
    const candidate = async () => (await db().modelAlias.findFirstOrThrow({ where: { modelId: model.id, name: "candidate" }, include: { version: true } })).version.version;
    await expect(oncall().oncall.rollback({ surface: "t-cas", stage: 2, reason: "CTR fell", expectAlias: { model: read.modelName, alias: read.alias }, expectFromVersionId: read.serving!.versionId })).rejects.toMatchObject({
      code: "CONFLICT", message: "rollback of t-cas stage 2 refused: t-cas stage 2 uses t-cas-s2 production, not the t-cas-s2 candidate that was read (expectAlias); reload and check",
    });
    expect(await candidate()).toBe(2);
    // Stage 1 pinned to an alias it does not use: refused the same way.
    await expect(oncall().oncall.rollback({ surface: "t-cas", stage: 1, reason: "stage 1 pinned", expectAlias: { model: "t-cas-model", alias: "candidate" } })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining("t-cas stage 1 uses t-cas-model production, not the t-cas-model candidate that was read (expectAlias)"),
    });
    // Without `stage`, the pin picks the stage that uses the alias it names (review: it went to stage 1 and was refused).
    const two = (await card("t-cas")).stages[1]!;
    expect(two).toMatchObject({ alias: "production", serving: { version: 1 } });
    await move("t-cas-s2", 2);
    const done = await oncall().oncall.rollback({ surface: "t-cas", reason: "pinned stage 2", expectAlias: { model: "t-cas-s2", alias: "production" } });
    expect(done).toMatchObject({ stage: 2, model: "t-cas-s2", alias: "production", version: 1 });
    // A pinned stage 2 removed since it was read: the page is stale (409), nothing moves.
    await configureStage2(db(), { surface: "t-cas", stage2: null, reason: "no cascade for a while" }, actor);
    await expect(oncall().oncall.rollback({ surface: "t-cas", stage: 2, reason: "stale page", expectAlias: { model: "t-cas-s2", alias: "production" } })).rejects.toMatchObject({
      code: "CONFLICT", message: "rollback of t-cas stage 2 refused: t-cas has no stage 2 now (removed since it was read); reload and check",
    });
    // Without `stage`, a pin no stage uses now is stale too: a 409 that names what each stage uses.
    await expect(oncall().oncall.rollback({ surface: "t-cas", reason: "stale page", expectAlias: { model: "t-cas-s2", alias: "production" } })).rejects.toMatchObject({
      code: "CONFLICT", message: "rollback of t-cas refused: no stage of t-cas uses t-cas-s2 production now (expectAlias; stage 1: t-cas-model production); reload and check",
    });
    // Unpinned, stage 2 of a surface without one is the caller's mistake: 400 naming `stage`.
    await expect(oncall().oncall.rollback({ surface: "t-cas", stage: 2, reason: "no cascade", toVersion: 1 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("stage:") });
    await configureStage2(db(), { surface: "t-cas", stage2: { model: "t-cas-s2", alias: "production", rerankCount: 5, budgetMs: 500 }, reason: "cascade back" }, actor);
    // The input names the field: a model or alias that is no id string.
    await expect(oncall().oncall.rollback({ surface: "t-cas", stage: 2, reason: "bad pin", expectAlias: { model: "", alias: "candidate" } })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("expectAlias.model") });
  }, 60_000);

  it("a stage the surface lacks, or a stage that is neither 1 nor 2, is refused naming `stage`; nothing moves", async () => {
    await expect(oncall().oncall.rollback({ surface: "t-cas-plain", reason: "bad", stage: 2 })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: 'stage: "t-cas-plain" has no stage 2 to roll back (no cascade, or its stage 2 names no registered model)',
    });
    await expect(oncall().oncall.rollback({ surface: "t-cas", reason: "bad", stage: 3 as 2 })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringContaining("stage: 1 (the serving alias) or 2"),
    });
    expect(await db().promotionHistory.count({ where: { modelName: "t-cas-model", kind: "rollback" } })).toBe(2);
  }, 60_000);
});
