// Break test of the on-call rollback (findings 2 and 4): a rollback onto a version whose artifact
// does not open is refused (409) and moves nothing; a rollback names the canaries it aborted (on any
// surface judged against the alias), and the On-call overview lists them before the press.
import { beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../audit/actor";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { setAliasIn } from "../registry/versions";
import { callerAs } from "../testing/callers";
import { corruptModelBytes, createTestSurface } from "../testing/models";

const actor: Actor = { kind: "user", id: null, name: "ml@rerank.test" };
const oncall = () => callerAs(["ml_engineer", "oncall"], "oncall@rerank.test");
const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-rb-model" }, name: "production" }, include: { version: true } })).version.version;
const move = async (version: number) => {
  const db = getDb();
  const row = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-rb-model" }, version } });
  await db.$transaction((tx) => setAliasIn(tx, { versionId: row.id, alias: "production", actor, reason: `ship v${version}` }));
};

beforeAll(async () => {
  const db = getDb();
  // v1 production; v4 an artifact that does not open; v5 and v6 good.
  const surface = await createTestSurface(db, {
    key: "t-rb", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(),
    extraVersions: [corruptModelBytes(), linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([2, 1, 1, 1, 1, 1, 1], 0)],
  });
  // A second surface served by the same alias (as home-feed shares search-ranker production).
  await db.surface.create({ data: { key: "t-rb-feed", name: "t-rb-feed", modelId: surface.modelId!, modelAlias: "production", timeoutMs: 1000, constraints: {} } });
});

describe("on-call rollback", () => {
  it("refuses (409) a rollback onto a version whose artifact does not open, naming the version and why, and moves nothing", async () => {
    await move(4); // a bad artifact served (its requests all fell back)…
    await move(5); // …and was replaced: the one-click target is v4, the version served before
    await expect(oncall().oncall.rollback({ surface: "t-rb", reason: "v5 hurts CTR" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^rollback target: t-rb-model v4 cannot be opened \(.+\), so production was not moved: pick another version on the Serving history page \(toVersion\)$/),
    });
    await expect(oncall().oncall.rollback({ surface: "t-rb", reason: "v5 hurts CTR", toVersion: 4 })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^toVersion: t-rb-model v4 cannot be opened/),
    });
    expect(await production()).toBe(5);
    expect(await getDb().promotionHistory.count({ where: { modelName: "t-rb-model", kind: "rollback" } })).toBe(0);
    // A version that opens is rolled back to.
    expect(await oncall().oncall.rollback({ surface: "t-rb", reason: "v5 hurts CTR", toVersion: 1 })).toMatchObject({ version: 1, aborted: [] });
    expect(await production()).toBe(1);
  }, 60_000);

  it("a rollback on t-rb names the canary of t-rb-feed it aborted (the alias is its baseline); the overview lists it before the press", async () => {
    // v4 and v5 were rolled back past and from: v5 is served again by a move (not a rollback), v1 is below it.
    await move(5);
    const canary = await oncall().rollouts.start({ surface: "t-rb-feed", version: 6, steps: [5, 50], reason: "canary v6 on the feed" });
    const overview = await oncall().oncall.overview({ hours: 1 });
    const card = overview.surfaces.find((s) => s.key === "t-rb")!;
    expect(card.rollbackAborts).toEqual([{ id: canary.id, surface: "t-rb-feed", status: "running", version: 6, percent: 5 }]);

    const result = await oncall().oncall.rollback({ surface: "t-rb", reason: "v5 is slow", toVersion: 1 });
    expect(result).toMatchObject({ version: 1, surfaces: ["t-rb", "t-rb-feed"] });
    expect(result.aborted).toEqual([
      { id: canary.id, surface: "t-rb-feed", status: "aborted", abortedFrom: "running", version: 6, percent: 5, description: `rollout ${canary.id} on "t-rb-feed" (v6 at 5 %, running)` },
    ]);
    expect(await getDb().rollout.findUniqueOrThrow({ where: { id: canary.id } })).toMatchObject({ status: "aborted" });
    // Nothing left to abort.
    expect((await oncall().oncall.overview({ hours: 1 })).surfaces.find((s) => s.key === "t-rb")!.rollbackAborts).toEqual([]);
  }, 60_000);
});
