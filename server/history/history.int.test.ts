import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";

// The promotion history on real PostgreSQL: every alias move, rollback, canary change and kill
// switch leaves a row; rollback targets come from the distinct versions served; "what served at T"
// is answered from it.

const ml = () => callerAs(["ml_engineer"], "ml@rerank.local");
const oncall = () => callerAs(["oncall"], "oncall@rerank.local");
const ids: Record<number, string> = {};
const moveTo = async (version: number, reason: string) => ml().models.setAlias({ versionId: ids[version]!, alias: "production", reason });
const pause = () => new Promise((r) => setTimeout(r, 15));
const surfaceOf = async (key: string) => (await oncall().oncall.overview({ hours: 1 })).surfaces.find((s) => s.key === key)!;

beforeAll(async () => {
  const db = getDb();
  const spec = demoFeatureSpec();
  await createTestSurface(db, { key: "t-hist", bytes: demoModelBytes("linear"), featureSpec: spec, fallbackBytes: demoModelBytes("popularity"), shadowBytes: demoModelBytes("candidate") });
  for (const v of await db.modelVersion.findMany({ where: { model: { name: "t-hist-model" } } })) ids[v.version] = v.id;
}, 120_000);

describe("promotion history", () => {
  const times: Date[] = [];

  it("issue #14 point 1: production v2 → v1, then v1 set again → the rollback target stays v2", async () => {
    await moveTo(2, "ship v2");
    times.push(new Date());
    await pause();
    await moveTo(1, "back to v1 by hand");
    times.push(new Date());
    await pause();
    // Re-applying what serves: a no-op for serving, kept in the history but not a new stint.
    await moveTo(1, "re-apply v1");
    const s = await surfaceOf("t-hist");
    expect(s.serving?.version).toBe(1);
    expect(s.rollback).toMatchObject({ version: 2, versionId: ids[2], movedBy: "ml@rerank.local" });
    const history = await oncall().history.surface({ surface: "t-hist" });
    expect(history.rows.map((r) => [r.kind, r.fromVersion, r.toVersion, r.noop, r.reason])).toEqual([
      ["alias_move", 1, 1, true, "re-apply v1"], ["alias_move", 2, 1, false, "back to v1 by hand"], ["alias_move", 1, 2, false, "ship v2"],
    ]);
    expect(history.stints.map((x) => x.version)).toEqual([1, 2, 1]);
    expect(history.rollback.options.map((o) => o.version)).toEqual([2]);
    const done = await oncall().oncall.rollback({ surface: "t-hist", reason: "v1 regressed", expectVersionId: ids[2] });
    expect(done.version).toBe(2);
  });

  it("rolls back to any earlier version from the history: two moves back, with a reason, never through approvals", async () => {
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: true } });
    await expect(moveTo(3, "ship v3")).rejects.toThrow('surface "t-hist" requires approval');
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: false } });
    await pause();
    await moveTo(3, "ship v3");
    times.push(new Date());
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: true } });
    // Serving v3; the history went v1, v2, v1, v2 (rollback), v3. v1 is two distinct moves back.
    const before = await oncall().history.surface({ surface: "t-hist" });
    expect(before.rollback.target?.version).toBe(2);
    expect(before.rollback.options.map((o) => o.version)).toEqual([2, 1]);
    await expect(oncall().oncall.rollback({ surface: "t-hist", reason: "test", toVersion: 3 })).rejects.toThrow(
      "toVersion: v3 is not an earlier version of t-hist-model production on t-hist (the history has v2, v1)",
    );
    await expect(oncall().oncall.rollback({ surface: "t-hist", reason: "", toVersion: 1 })).rejects.toThrow("reason: say why (at least 3 characters)");
    const done = await oncall().oncall.rollback({ surface: "t-hist", reason: "both v2 and v3 are bad", toVersion: 1 });
    expect(done).toEqual({ surface: "t-hist", surfaces: ["t-hist"], alias: "production", model: "t-hist-model", version: 1 });
    expect((await surfaceOf("t-hist")).serving?.version).toBe(1);
    const [latest] = (await oncall().history.surface({ surface: "t-hist", limit: 1 })).rows;
    expect(latest).toMatchObject({ kind: "rollback", fromVersion: 3, toVersion: 1, actor: "oncall@rerank.local", reason: "rollback: both v2 and v3 are bad" });
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: false } });
  });

  it("answers what was serving at a time, with the kill switch and a canary", async () => {
    const at = async (t: Date) => oncall().history.servingAt({ surface: "t-hist", at: t });
    expect((await at(times[0]!)).serving).toMatchObject({ known: true, version: 2, by: "ml@rerank.local", reason: "ship v2" });
    expect((await at(times[1]!)).serving).toMatchObject({ known: true, version: 1, reason: "back to v1 by hand" });
    expect((await at(times[2]!)).serving).toMatchObject({ known: true, version: 3 });
    // Before the first recorded move, the version it moved away from (since unknown).
    expect((await at(new Date(times[0]!.getTime() - 60_000))).serving).toMatchObject({ known: true, version: 1, since: null });

    await oncall().oncall.killSwitch({ surface: "t-hist", on: true, reason: "incident 7" });
    await ml().rollouts.start({ surface: "t-hist", version: 3, steps: [10, 50], reason: "try v3 again" });
    const now = await at(new Date());
    expect(now.killSwitch).toMatchObject({ on: true });
    expect(now.canary).toMatchObject({ version: 3, percent: 10, paused: false });
    expect((await at(times[2]!)).canary).toBeNull();
    await ml().rollouts.abort({ surface: "t-hist", reason: "not now" });
    await oncall().oncall.killSwitch({ surface: "t-hist", on: false, reason: "resolved" });
    const after = await at(new Date());
    expect(after.canary).toBeNull();
    expect(after.killSwitch).toMatchObject({ on: false });
    await expect(oncall().history.servingAt({ surface: "t-hist", at: "yesterday-ish" as unknown as Date })).rejects.toThrow("at: give a date and time");
    await expect(oncall().history.servingAt({ surface: "nowhere", at: new Date() })).rejects.toThrow('surface "nowhere" does not exist');
    const rows = (await oncall().history.surface({ surface: "t-hist", limit: 4 })).rows.map((r) => [r.kind, r.killSwitch ?? r.percent]);
    expect(rows).toEqual([["kill_switch", false], ["canary_aborted", 0], ["canary_start", 10], ["kill_switch", true]]);
  });

  it("keeps a per-model history and is append-only", async () => {
    const rows = await oncall().history.model({ model: "t-hist-model", alias: "canary@t-hist" });
    // The surface's canary alias (canary@t-hist) was pointed at v3 and cleared when the rollout ended.
    expect(rows.map((r) => [r.kind, r.fromVersion, r.toVersion])).toEqual([["alias_move", 3, null], ["alias_move", null, 3]]);
    await expect(getDb().$executeRaw`UPDATE promotion_history SET reason = 'x'`).rejects.toThrow(/append-only/);
    await expect(getDb().$executeRaw`DELETE FROM promotion_history`).rejects.toThrow(/append-only/);
  });
});

describe("the one-click rollback after a rollback (issue #14 break test)", () => {
  it("production created at v4 with no earlier row (as the seed does at v2), v5 shipped and rolled back: the next target is v1, never v5", async () => {
    const db = getDb();
    const spec = demoFeatureSpec();
    await createTestSurface(db, { key: "t-hist-seed", bytes: demoModelBytes("popularity"), featureSpec: spec, extraVersions: [demoModelBytes("linear"), demoModelBytes("candidate")] });
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-hist-seed-model" }, include: { versions: true } });
    const id = (v: number) => model.versions.find((x) => x.version === v)!.id;
    // Versions 1, 4 and 5; production starts at v4 with no earlier row, as the seed starts at v2.
    await db.modelAlias.deleteMany({ where: { modelId: model.id, name: "production" } });
    await ml().models.setAlias({ versionId: id(4), alias: "production", reason: "seed" });
    await pause();
    await ml().models.setAlias({ versionId: id(5), alias: "production", reason: "ship" });
    await pause();
    expect((await surfaceOf("t-hist-seed")).rollback).toMatchObject({ version: 4, basis: "history" });
    await oncall().oncall.rollback({ surface: "t-hist-seed", reason: "v5 regressed" });
    const after = await surfaceOf("t-hist-seed");
    expect(after.serving?.version).toBe(4);
    // The history has nothing before v4 (and v5 was just rolled back): the model's next earlier version.
    expect(after.rollback).toEqual({ versionId: id(1), version: 1, basis: "earlier_version", movedAt: null, movedBy: null });
    const history = await oncall().history.surface({ surface: "t-hist-seed" });
    expect(history.rollback.options.map((o) => [o.version, o.servedUntil === null])).toEqual([[5, false], [1, true]]);
    await pause();
    const done = await oncall().oncall.rollback({ surface: "t-hist-seed", reason: "v4 regressed too", expectVersionId: id(1) });
    expect(done.version).toBe(1);
    // From the oldest version, with v5 and v4 both rolled back from: no one-click target.
    expect((await surfaceOf("t-hist-seed")).rollback).toBeNull();
  });
});
