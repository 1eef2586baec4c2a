import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { DEFAULT_MIGRATIONS_DIR, migrate } from "../db/migrate";
import { scratchDatabase, withClient } from "../testing/postgres";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { testActor } from "../testing/actors";
import { setAliasIn } from "../registry/versions";
import { configureStage2 } from "../surfaces/stage2";

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

  it("rolls back to an earlier version the present state rests on, with a reason, never through approvals; never to one a rollback left (lever break test)", async () => {
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: true } });
    await expect(moveTo(3, "ship v3")).rejects.toThrow('surface "t-hist" requires approval');
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: false } });
    await pause();
    await moveTo(3, "ship v3");
    times.push(new Date());
    await getDb().surface.update({ where: { key: "t-hist" }, data: { requireApproval: true } });
    // Serving v3; the history went v1, v2, v1, v2 (a rollback from v1), v3. v1 was rolled back from:
    // serving it again is an alias move (which waits for approval here), not a rollback.
    const before = await oncall().history.surface({ surface: "t-hist" });
    expect(before.rollback.target?.version).toBe(2);
    expect(before.rollback.options.map((o) => o.version)).toEqual([2]);
    expect(before.rollback.ruledOut).toEqual([{ versionId: ids[1], version: 1, why: "v1 was rolled back from" }]);
    await expect(oncall().oncall.rollback({ surface: "t-hist", reason: "test", toVersion: 3 })).rejects.toThrow(
      "toVersion: v3 is serving now, so t-hist-model production on t-hist was not moved (rollback targets: v2)",
    );
    await expect(oncall().oncall.rollback({ surface: "t-hist", reason: "test", toVersion: 1 })).rejects.toThrow(
      "toVersion: v1 was rolled back from: re-serving it is an alias move, not a rollback, so t-hist-model production on t-hist was not moved (rollback targets: v2)",
    );
    await expect(oncall().oncall.rollback({ surface: "t-hist", reason: "", toVersion: 2 })).rejects.toThrow("reason: say why (at least 3 characters)");
    const done = await oncall().oncall.rollback({ surface: "t-hist", reason: "v3 is bad", toVersion: 2 });
    expect(done).toEqual({ surface: "t-hist", stage: 1, surfaces: ["t-hist"], alias: "production", model: "t-hist-model", version: 2, aborted: [] });
    expect((await surfaceOf("t-hist")).serving?.version).toBe(2);
    const [latest] = (await oncall().history.surface({ surface: "t-hist", limit: 1 })).rows;
    expect(latest).toMatchObject({ kind: "rollback", fromVersion: 3, toVersion: 2, actor: "oncall@rerank.local", reason: "rollback: v3 is bad" });
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
  it("production created at v4 with no earlier row (as the seed does at v2), v5 shipped and rolled back: no one-click target (v1 never served production), never v5", async () => {
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
    // The history has nothing before v4 (and v5 was just rolled back): v1 never served production, so
    // there is no one-click target (rollouts break test: presses walked onto never-served versions,
    // one scoring NaN); the overview and the history page say why.
    expect(after.rollback).toBeNull();
    expect(after.rollbackUnavailable).toBe("every version that served this alias before is ruled out (v5 was rolled back from)");
    const history = await oncall().history.surface({ surface: "t-hist-seed" });
    expect(history.rollback.options).toEqual([]);
    expect(history.rollback.unavailable).toBe("every version that served this alias before is ruled out (v5 was rolled back from)");
    await expect(oncall().oncall.rollback({ surface: "t-hist-seed", reason: "v4 regressed too" })).rejects.toThrow(
      "surface: t-hist-seed-model production has no rollback target: every version that served this alias before is ruled out (v5 was rolled back from). Serving another version is an alias move (Models page), which needs models.write and any approval the surface requires",
    );
    // A rollback goes only to a version the present state rests on: v1 never served, v5 was rolled back from; both are moves.
    await expect(oncall().oncall.rollback({ surface: "t-hist-seed", reason: "v4 regressed too", toVersion: 1 })).rejects.toThrow("toVersion: v1 never served this alias (a rollback goes back to what served; another version is an alias move), so t-hist-seed-model production on t-hist-seed was not moved (no rollback target)");
    await expect(oncall().oncall.rollback({ surface: "t-hist-seed", reason: "v4 regressed too", toVersion: 5 })).rejects.toThrow("toVersion: v5 was rolled back from: re-serving it is an alias move, not a rollback");
    expect((await surfaceOf("t-hist-seed")).serving?.version).toBe(4);
  });
});

describe("a shared alias in the history (issue #14)", () => {
  it("names every surface a move reached, in the row, the audit entry, the webhook and the rollback's answer; each surface's history and servingAt find it", async () => {
    const db = getDb();
    const spec = demoFeatureSpec();
    // t-share-h and t-share-h-feed serve t-share-h-model production; t-share-h-cascade (another model) uses it as stage 2
    // and t-share-h-shadow only mirrors to it. Versions 1 (production), 4 and 5.
    const main = await createTestSurface(db, { key: "t-share-h", bytes: demoModelBytes("linear"), featureSpec: spec, extraVersions: [demoModelBytes("popularity"), demoModelBytes("candidate")] });
    await db.surface.create({ data: { key: "t-share-h-feed", name: "t-share-h-feed", modelId: main.modelId, modelAlias: "production" } });
    await createTestSurface(db, { key: "t-share-h-cascade", bytes: demoModelBytes("popularity"), featureSpec: spec });
    await db.surface.update({ where: { key: "t-share-h-cascade" }, data: { stage2: { model: "t-share-h-model", alias: "production", rerankCount: 5, budgetMs: 100 } } });
    await db.surface.create({ data: { key: "t-share-h-shadow", name: "t-share-h-shadow", modelId: main.modelId, modelAlias: "other", shadowAlias: "production" } });
    const all = ["t-share-h", "t-share-h-cascade", "t-share-h-feed", "t-share-h-shadow"];
    const id = async (v: number) => (await db.modelVersion.findFirstOrThrow({ where: { modelId: main.modelId!, version: v } })).id;
    await db.webhookEndpoint.create({ data: { name: "t-share-h", url: "http://127.0.0.1:9/hook", format: "standard", eventKinds: ["rollback", "alias.moved"], secret: "whsec_dGVzdA==", createdBy: "test" } });

    const beforeShip = new Date();
    await pause();
    const shipped = await ml().models.setAlias({ versionId: await id(4), alias: "production", reason: "ship v4", expectFromVersionId: await id(1) });
    expect(shipped.surfaces).toEqual(all);
    expect(shipped.reached.map((r) => [r.key, r.roles])).toEqual([["t-share-h", ["serving"]], ["t-share-h-cascade", ["stage2"]], ["t-share-h-feed", ["serving"]], ["t-share-h-shadow", ["shadow"]]]);
    await pause();
    const shippedAt = new Date();
    await pause();

    // The dialogs' list, before the press: the alias's reach with each surface's role, the pressed surface first.
    const overview = (await oncall().oncall.overview({ hours: 1 })).surfaces;
    const feed = overview.find((s) => s.key === "t-share-h-feed")!;
    expect(feed.reach).toEqual([
      { key: "t-share-h-feed", roles: ["serving"] }, { key: "t-share-h", roles: ["serving"] }, { key: "t-share-h-cascade", roles: ["stage2"] }, { key: "t-share-h-shadow", roles: ["shadow"] },
    ]);
    expect(feed.sharedWith).toEqual(["t-share-h", "t-share-h-cascade", "t-share-h-shadow"]);
    expect((await oncall().history.surface({ surface: "t-share-h" })).reach.map((r) => r.key)).toEqual(all);

    // Rolled back from the feed: one row, naming every surface; the answer, the audit entry and the webhook name the same list.
    const done = await oncall().oncall.rollback({ surface: "t-share-h-feed", reason: "feed CTR fell", expectFromVersionId: await id(4) });
    expect(done.surfaces).toEqual(["t-share-h-feed", "t-share-h", "t-share-h-cascade", "t-share-h-shadow"]);
    const row = await db.promotionHistory.findFirstOrThrow({ where: { modelId: main.modelId!, kind: "rollback" } });
    expect(row).toMatchObject({ alias: "production", fromVersion: 4, toVersion: 1, surfaces: all });
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "model.alias.set", entityId: main.modelId!, reason: "rollback: feed CTR fell" } });
    expect(audit.surfaceKeys).toEqual(all);
    const events = (await db.webhookEvent.findMany({ where: { kind: { in: ["rollback", "alias.moved"] }, createdAt: { gte: beforeShip } }, orderBy: { createdAt: "asc" } }))
      .map((e) => ({ kind: e.kind, ...(e.data as { model?: string; surfaces?: string[]; toVersion?: number }) }))
      .filter((e) => e.model === "t-share-h-model");
    expect(events.map((e) => [e.kind, e.toVersion, [...e.surfaces!].sort()])).toEqual([["alias.moved", 4, all], ["alias.moved", 1, all], ["rollback", 1, all]]);

    // Each surface's history finds the rows, whichever surface they were pressed on; another model's surface too (its stage 2).
    for (const key of all) {
      const rows = (await oncall().history.surface({ surface: key, limit: 10 })).rows.filter((r) => r.modelName === "t-share-h-model");
      expect(rows.map((r) => [r.kind, r.fromVersion, r.toVersion, r.surfaces])).toEqual([["rollback", 4, 1, all], ["alias_move", 1, 4, all]]);
    }
    // What served on each surface, per surface: the feed's rollback moved the main surface too.
    const at = (surface: string, t: Date) => oncall().history.servingAt({ surface, at: t });
    expect((await at("t-share-h", shippedAt)).serving).toMatchObject({ known: true, version: 4, kind: "alias_move", surfaces: all });
    expect((await at("t-share-h", new Date())).serving).toMatchObject({ known: true, version: 1, kind: "rollback", by: "oncall@rerank.local", surfaces: all });
    expect((await at("t-share-h-feed", new Date())).serving).toMatchObject({ known: true, version: 1, kind: "rollback" });
    // A canary on the main surface is its own: the feed's answer shows none.
    await ml().rollouts.start({ surface: "t-share-h", version: 5, steps: [10, 50], reason: "v5 on the main surface" });
    expect((await at("t-share-h", new Date())).canary).toMatchObject({ version: 5, percent: 10 });
    expect((await at("t-share-h-feed", new Date())).canary).toBeNull();
    await ml().rollouts.abort({ surface: "t-share-h", reason: "done" });
    await db.webhookEndpoint.deleteMany({ where: { name: "t-share-h" } });
  });

  it("moves an alias only from the version the page showed: of two moves from one page state, one applies, the other is a 409", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "t-race-move", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity"), demoModelBytes("candidate")] });
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-race-move-model" }, include: { versions: true } });
    const id = (v: number) => model.versions.find((x) => x.version === v)!.id;
    const move = (v: number) => ml().models.setAlias({ versionId: id(v), alias: "production", reason: `to v${v}`, expectFromVersionId: id(1) });
    const results = await Promise.allSettled([move(4), move(5)]);
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof move>>> => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const winner = ok[0]!.value.to.version;
    expect(refused[0]!.reason).toMatchObject({ code: "CONFLICT", message: `move of production refused: t-race-move-model production changed since it was read (was v1, now v${winner}); reload and check` });
    const production = await db.modelAlias.findFirstOrThrow({ where: { modelId: model.id, name: "production" }, include: { version: true } });
    expect(production.version.version).toBe(winner);
    expect(await db.promotionHistory.count({ where: { modelId: model.id, alias: "production" } })).toBe(1);
    expect(await db.auditLog.count({ where: { action: "model.alias.set", entityId: model.id } })).toBe(1);
    // From "unset" (null) on an alias that exists: refused too; a stale page on a rollback likewise.
    await expect(ml().models.setAlias({ versionId: id(4), alias: "production", reason: "stale page", expectFromVersionId: null })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(oncall().oncall.rollback({ surface: "t-race-move", reason: "stale page", expectFromVersionId: id(1) })).rejects.toMatchObject({
      code: "CONFLICT", message: `rollback of t-race-move refused: t-race-move-model production changed since it was read (was v1, now v${winner}); reload and check`,
    });
    // Without the field the move is not checked (API callers that read nothing first).
    expect((await ml().models.setAlias({ versionId: id(1), alias: "production", reason: "unchecked" })).to.version).toBe(1);
  });
});

describe("the history_surfaces migration", () => {
  it("fills each row's surfaces from the audit entry of its move, else its own surface, and leaves the table append-only", async () => {
    const scratch = await scratchDatabase(databaseUrl(), "h_rollouts_hist_surfaces");
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      for (const name of await readdir(dir)) if (/^\d{14}_/.test(name) && name >= "20261201030000") await rm(path.join(dir, name), { recursive: true });
      await migrate(scratch.url, { dir });
      await withClient(scratch.url, async (c) => {
        // A move of production v1 → v2 (its audit entry named search and feed), a clear of search's canary alias, a kill
        // switch, a move with no audit entry, and a fallback move whose audit entry must not be taken for production's.
        await c.query(`INSERT INTO audit_log (ts, actor, actor_kind, action, entity_type, entity_id, subject_label, surface_keys, after) VALUES
          ('2026-11-01T10:00:00.000Z', 'ana', 'user', 'model.alias.set', 'model', 'm1', 'ranker', '{feed,search}', '{"alias": "production", "versionId": "v2", "version": 2}'),
          ('2026-11-01T10:00:00.000Z', 'ana', 'user', 'model.alias.set', 'model', 'm1', 'ranker', '{elsewhere}', '{"alias": "fallback", "versionId": "v2", "version": 2}'),
          ('2026-11-01T11:00:00.000Z', 'rollout-analysis', 'system', 'model.alias.clear', 'model', 'm1', 'ranker', '{search}', '{"alias": "canary@search"}')`);
        await c.query(`INSERT INTO promotion_history (ts, kind, model_id, model_name, alias, surface_key, from_version_id, from_version, to_version_id, to_version, kill_switch, actor, actor_kind) VALUES
          ('2026-11-01T10:00:00.000Z', 'alias_move', 'm1', 'ranker', 'production', NULL, 'v1', 1, 'v2', 2, NULL, 'ana', 'user'),
          ('2026-11-01T11:00:00.000Z', 'alias_move', 'm1', 'ranker', 'canary@search', 'search', 'v3', 3, NULL, NULL, NULL, 'rollout-analysis', 'system'),
          ('2026-11-01T12:00:00.000Z', 'kill_switch', 'm1', 'ranker', NULL, 'feed', NULL, NULL, NULL, NULL, true, 'bo', 'user'),
          ('2026-11-01T13:00:00.000Z', 'rollback', 'm1', 'ranker', 'production', NULL, 'v2', 2, 'v1', 1, NULL, 'bo', 'user')`);
      });
      await migrate(scratch.url);
      const rows = await withClient(scratch.url, (c) => c.query(`SELECT kind, alias, surfaces FROM promotion_history ORDER BY id`));
      expect(rows.rows.map((r) => [r.kind, r.alias, r.surfaces])).toEqual([
        ["alias_move", "production", ["feed", "search"]],
        ["alias_move", "canary@search", ["search"]],
        ["kill_switch", null, ["feed"]],
        ["rollback", "production", []],
      ]);
      await expect(withClient(scratch.url, (c) => c.query(`UPDATE promotion_history SET reason = 'x'`))).rejects.toThrow(/append-only/);
      const kinds = await withClient(scratch.url, (c) => c.query(`SELECT unnest(enum_range(NULL::"ChangeRequestKind"))::text AS kind`));
      expect(kinds.rows.map((r) => r.kind)).toContain("surface_stage2");
    } finally {
      await rm(dir, { recursive: true, force: true });
      await scratch.drop();
    }
  });

  it("#14 break test: stage-2 changes are history rows (which surface, which stage), and servingAt answers both stages of a cascade surface", async () => {
    const db = getDb();
    const spec = demoFeatureSpec();
    await createTestSurface(db, { key: "t-h-cas", bytes: demoModelBytes("linear"), featureSpec: spec });
    await createTestSurface(db, { key: "t-h-cas2", bytes: demoModelBytes("popularity"), featureSpec: spec, extraVersions: [demoModelBytes("candidate")] });
    const v4 = (await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-h-cas2-model" }, version: 4 } })).id;
    const at = async (t: Date) => oncall().history.servingAt({ surface: "t-h-cas", at: t });
    const before = new Date();
    await pause();
    await ml().surfaces.configureStage2({ surface: "t-h-cas", stage2: { model: "t-h-cas2-model", alias: "production", rerankCount: 5, budgetMs: 100 }, reason: "rescore the top 5" });
    const configured = new Date();
    await pause();
    await ml().models.setAlias({ versionId: v4, alias: "production", reason: "v4 rescores better" });
    const moved = new Date();
    await pause();

    const rows = (await oncall().history.surface({ surface: "t-h-cas", limit: 10 })).rows;
    expect(rows.map((r) => [r.kind, r.stage, r.modelName, r.alias, r.fromVersion, r.toVersion, r.stage2Surfaces])).toEqual([
      ["alias_move", 2, "t-h-cas2-model", "production", 1, 4, ["t-h-cas"]],
      ["stage2", 2, "t-h-cas2-model", "production", null, 1, ["t-h-cas"]],
    ]);
    expect(rows[1]).toMatchObject({ surfaceKey: "t-h-cas", actor: "ml@rerank.local", reason: "rescore the top 5" });
    // On the surface t-h-cas2-model serves as stage 1, the same move is a stage-1 row.
    expect((await oncall().history.surface({ surface: "t-h-cas2", limit: 1 })).rows[0]).toMatchObject({ kind: "alias_move", stage: 1, surfaces: ["t-h-cas", "t-h-cas2"] });

    expect((await at(before)).stage2).toBeNull();
    // Stage 1 (t-h-cas-model production, set before any history row) is not known; stage 2 is.
    expect((await at(configured))).toMatchObject({ serving: { known: false }, stage2: { known: true, model: "t-h-cas2-model", alias: "production", version: 1, by: "ml@rerank.local" } });
    expect((await at(moved)).stage2).toMatchObject({ known: true, model: "t-h-cas2-model", alias: "production", version: 4 });
    await ml().surfaces.configureStage2({ surface: "t-h-cas", stage2: null, reason: "not worth it" });
    const removed = await at(new Date());
    expect(removed.stage2).toBeNull();
    expect((await oncall().history.surface({ surface: "t-h-cas", limit: 1 })).rows[0]).toMatchObject({ kind: "stage2", stage: 2, alias: "production", toVersion: null, reason: "not worth it" });
    // Configured before stage-2 rows existed (written directly): unknown rather than "none".
    await db.surface.update({ where: { key: "t-h-cas2" }, data: { stage2: { model: "t-h-cas-model", alias: "production", rerankCount: 5, budgetMs: 100 } } });
    expect((await oncall().history.servingAt({ surface: "t-h-cas2", at: new Date() })).stage2).toEqual({ known: false });
  });

  it("a stage 2 repointed at an alias while a move of that alias waited after reading its reach: the surface's rows list the move that changed its stage 2, as its stage-2 versions do (break test: the rows left it out)", async () => {
    const db = getDb();
    const spec = demoFeatureSpec();
    await createTestSurface(db, { key: "t-h-race", bytes: demoModelBytes("linear"), featureSpec: spec, extraVersions: [demoModelBytes("popularity")] });
    await createTestSurface(db, { key: "t-h-race-cas", bytes: demoModelBytes("linear"), featureSpec: spec });
    const v4 = (await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-h-race-model" }, version: 4 } })).id;
    let reachRead!: () => void;
    let release!: () => void;
    const read = new Promise<void>((resolve) => { reachRead = resolve; });
    const gate = new Promise<void>((resolve) => { release = resolve; });
    // The move reads the surfaces its alias reaches under the model's lock, then waits (as behind an approval's check).
    const move = db.$transaction((tx) => setAliasIn(tx, { versionId: v4, alias: "production", actor: testActor("mover@rerank.local"), reason: "v4", underLock: async () => { reachRead(); await gate; } }));
    await read;
    const repoint = configureStage2(db, { surface: "t-h-race-cas", stage2: { model: "t-h-race-model", alias: "production", rerankCount: 5, budgetMs: 100 }, reason: "rescore the top 5" }, testActor("ml@rerank.local"));
    // The repoint commits while the move waits (its row written first, at v1), unless it waits for the move (then it comes after it, at v4).
    await Promise.race([repoint, new Promise((resolve) => setTimeout(resolve, 1000))]);
    release();
    await move;
    await repoint;
    const history = await oncall().history.surface({ surface: "t-h-race-cas", limit: 10 });
    expect(history.stage2?.serving?.version).toBe(4);
    // Whichever order they took: every move the stage-2 versions show since the configuration is a stage-2 row of the surface's history.
    const movedTo = history.stage2!.stints.filter((x) => x.kind !== null).map((x) => x.version);
    expect(history.rows.filter((r) => r.kind !== "stage2" && r.stage === 2).map((r) => r.toVersion)).toEqual(movedTo);
    const configured = history.rows.find((r) => r.kind === "stage2")!;
    expect(movedTo).toEqual(configured.toVersion === 1 ? [4] : []);
  });

  it("pages back without skipping rows of one millisecond, and says when there is no older row (break test: `before` alone lost the rest of a millisecond at a page boundary)", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "t-h-page", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
    // Five kill-switch rows written in one millisecond (a script toggling, or one transaction's rows).
    const ts = new Date(Date.now() - 1000);
    for (let i = 0; i < 5; i++) {
      await db.promotionHistory.create({ data: { ts, kind: "kill_switch", surfaceKey: "t-h-page", surfaces: ["t-h-page"], killSwitch: i % 2 === 0, actor: "oncall@rerank.local", actorKind: "user", reason: `toggle ${i}` } });
    }
    const all = await oncall().history.surface({ surface: "t-h-page", limit: 500 });
    expect(all.older).toBeNull();
    expect(all.rows.filter((r) => r.kind === "kill_switch").map((r) => r.reason)).toEqual(["toggle 4", "toggle 3", "toggle 2", "toggle 1", "toggle 0"]);
    const paged: string[] = [];
    let cursor: { before: Date; beforeId: string } | null | undefined;
    for (let pages = 0; cursor !== null && pages < 50; pages++) {
      const page = await oncall().history.surface({ surface: "t-h-page", limit: 2, ...(cursor ?? {}) });
      expect(page.rows.length).toBeLessThanOrEqual(2);
      paged.push(...page.rows.map((r) => r.id));
      cursor = page.older;
      if (cursor) expect(page.rows).toHaveLength(2);
    }
    expect(paged).toEqual(all.rows.map((r) => r.id));
    // `before` alone still means "older than that time"; beforeId needs before; an id that is not one is a 400 naming it.
    expect((await oncall().history.surface({ surface: "t-h-page", limit: 500, before: ts })).rows.map((r) => r.id)).toEqual(all.rows.filter((r) => r.ts < ts).map((r) => r.id));
    await expect(oncall().history.surface({ surface: "t-h-page", limit: 5, beforeId: "12" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^beforeId: /) });
    await expect(oncall().history.surface({ surface: "t-h-page", limit: 5, before: ts, beforeId: "12a" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "beforeId: a history row's id" });
    await expect(oncall().history.surface({ surface: "t-h-page", limit: 5, before: ts, beforeId: "9223372036854775808" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "beforeId: a history row's id" });
  });

  it("#14 break test: servingAt.at and history.surface.before take strict ISO 8601 only, 400 naming the field", async () => {
    const hint = "an ISO 8601 date (2026-11-28) or date-time with its offset (2026-11-28T14:02:00Z)";
    for (const loose of ["12", "2026-02-30", "2026-11-28T14:02:00Z\u0000", "2026-11-28T14:02", "Nov 28 2026"]) {
      await expect(oncall().history.servingAt({ surface: "t-hist", at: loose as unknown as Date })).rejects.toMatchObject({ code: "BAD_REQUEST", message: `at: give a date and time (${hint})` });
      await expect(oncall().history.surface({ surface: "t-hist", limit: 5, before: loose as unknown as Date })).rejects.toMatchObject({ code: "BAD_REQUEST", message: `before: give a date and time (${hint})` });
      await expect(callerAs(["admin"]).audit.list({ filter: { from: loose as unknown as Date } })).rejects.toMatchObject({ code: "BAD_REQUEST", message: `filter.from: must be ${hint}` });
      await expect(callerAs(["admin"]).debug.request({ requestId: "r-1", ts: loose as unknown as Date })).rejects.toMatchObject({ code: "BAD_REQUEST", message: `ts: must be ${hint}` });
    }
    // Text that is strict ISO is read exactly; a Date (what superjson sends) as it is.
    const day = await oncall().history.servingAt({ surface: "t-hist", at: "2026-11-28" as unknown as Date });
    expect(day.at.toISOString()).toBe("2026-11-28T00:00:00.000Z");
    const offset = await oncall().history.servingAt({ surface: "t-hist", at: "2026-11-28T14:02:00+01:00" as unknown as Date });
    expect(offset.at.toISOString()).toBe("2026-11-28T13:02:00.000Z");
    expect((await oncall().history.servingAt({ surface: "t-hist", at: new Date("2026-11-28T14:02:00Z") })).at.toISOString()).toBe("2026-11-28T14:02:00.000Z");
  });
});
