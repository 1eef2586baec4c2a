// Lever break test (finding 1): on a surface that requires approval, on-call (no models.write) could
// re-ship with `oncall.rollback { toVersion }` a version just rolled back from, or one newer than the
// version a rollback went back to, where the alias move itself waits for approval. A rollback goes
// back to what the present state rests on; anything else is refused naming toVersion, and the pages
// offer exactly the versions the lever accepts.
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";

const oncall = () => callerAs(["oncall"], "oncall@guarded.test");
const ml = () => callerAs(["ml_engineer"], "ml@guarded.test");
const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-rbg-model" }, name: "production" }, include: { version: true } })).version.version;
const versionId = async (version: number) => (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-rbg-model" }, version } })).id;
const setAlias = async (version: number) => ml().models.setAlias({ versionId: await versionId(version), alias: "production", reason: `ship v${version}` });
/** What the On-call page and the Serving history page offer. */
const offered = async () => {
  const card = (await oncall().oncall.overview({ hours: 1 })).surfaces.find((s) => s.key === "t-rbg")!;
  const history = await oncall().history.surface({ surface: "t-rbg", limit: 50 });
  return { oneClick: card.rollback?.version ?? null, pageTarget: history.rollback.target?.version ?? null, options: history.rollback.options.map((o) => o.version) };
};

beforeAll(async () => {
  // v1 serves; v4, v5, v6 good versions.
  await createTestSurface(getDb(), {
    key: "t-rbg", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(),
    extraVersions: [1, 2, 3].map((w) => linearRankerOnnx(demoFeatureSpec().map(() => 0.1 * w), 0)),
  });
});

describe("rollback on a surface that requires approval", () => {
  it("never re-ships the version just rolled back from: toVersion of it is a 400 naming toVersion, and nothing moves", async () => {
    await setAlias(4);
    await setAlias(5);
    expect(await oncall().oncall.rollback({ surface: "t-rbg", reason: "v5 hurts CTR" })).toMatchObject({ version: 4 });
    await callerAs(["admin"], "admin@guarded.test").approvals.setRequired({ surface: "t-rbg", required: true, reason: "production surface" });
    // The move itself waits for approval…
    await expect(setAlias(5)).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("requires approval") });
    // …and the rollback lever is not a way around it.
    await expect(oncall().oncall.rollback({ surface: "t-rbg", reason: "bring v5 back", toVersion: 5 })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: "toVersion: v5 was rolled back from: re-serving it is an alias move, not a rollback, so t-rbg-model production on t-rbg was not moved (rollback targets: v1)",
    });
    await expect(oncall().oncall.rollback({ surface: "t-rbg", reason: "try v6", toVersion: 6 })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringMatching(/^toVersion: v6 never served this alias/),
    });
    await expect(oncall().oncall.rollback({ surface: "t-rbg", reason: "v4 again", toVersion: 4 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^toVersion: v4 is serving now/) });
    expect(await production()).toBe(4);
    expect(await getDb().promotionHistory.count({ where: { modelName: "t-rbg-model", kind: "rollback" } })).toBe(1);
    // Both pages offer exactly what the lever accepts.
    expect(await offered()).toEqual({ oneClick: 1, pageTarget: 1, options: [1] });
  }, 60_000);

  it("never re-ships a version newer than the one an explicit rollback went back to", async () => {
    await callerAs(["admin"], "admin@guarded.test").approvals.setRequired({ surface: "t-rbg", required: false, reason: "ship a train" });
    await setAlias(5);
    await setAlias(6);
    // 4 → 5 → 6 (and 1 below): an explicit rollback to v4 goes past v5.
    expect((await offered()).options).toEqual([5, 4, 1]);
    await callerAs(["admin"], "admin@guarded.test").approvals.setRequired({ surface: "t-rbg", required: true, reason: "production surface" });
    expect(await oncall().oncall.rollback({ surface: "t-rbg", reason: "v6 and v5 suspect", toVersion: 4 })).toMatchObject({ version: 4 });
    for (const [version, why] of [[5, "was rolled back past"], [6, "was rolled back from"]] as const) {
      await expect(oncall().oncall.rollback({ surface: "t-rbg", reason: "forward again", toVersion: version })).rejects.toMatchObject({
        code: "BAD_REQUEST", message: `toVersion: v${version} ${why}: re-serving it is an alias move, not a rollback, so t-rbg-model production on t-rbg was not moved (rollback targets: v1)`,
      });
    }
    expect(await production()).toBe(4);
    expect(await offered()).toEqual({ oneClick: 1, pageTarget: 1, options: [1] });
    // The one click walks further back, never forward.
    expect(await oncall().oncall.rollback({ surface: "t-rbg", reason: "further back" })).toMatchObject({ version: 1 });
    expect(await offered()).toEqual({ oneClick: null, pageTarget: null, options: [] });
  }, 60_000);
});
