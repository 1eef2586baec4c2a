import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { DEFAULT_MIGRATIONS_DIR, migrate } from "../db/migrate";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { subjects } from "../domain/audit/subject";
import { createTestSurface } from "../testing/models";
import { scratchDatabase, withClient } from "../testing/postgres";
import { callerAs } from "../testing/callers";
import { createApiKey } from "../auth/apiKeys";
import { actorOf } from "./actor";
import { recordAudit } from "./record";
import { CSV_COLUMNS } from "./service";

// The audit trail on real PostgreSQL: recordAudit stores every field, the database refuses to
// change or remove an entry, actions through tRPC carry who, from where and on which surface, and
// the list and the CSV export filter, page and describe them.

const baseUrl = () => databaseUrl();
const as = (user: string, requestId = "req-1", address = "203.0.113.7") => {
  const headers = new Headers({ "x-request-id": requestId, "x-forwarded-for": `${address}, 10.0.0.1` });
  return callerAs(["admin"], user, (ctx) => ({ ...ctx, actor: actorOf(ctx.principal, headers) }));
};

beforeAll(async () => {
  await createTestSurface(getDb(), { key: "t-audit", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
}, 60_000);

describe("recordAudit", () => {
  it("stores every field of the entry", async () => {
    const db = getDb();
    // A real key: the writer re-checks that a key acting is not revoked (server/audit/record.ts).
    const owner = await db.user.upsert({ where: { email: "key-owner@audit.test" }, create: { email: "key-owner@audit.test", name: "Key owner", roles: ["admin"] }, update: {} });
    const { apiKey } = await createApiKey(db, { name: "ci-pipeline", kind: "automation", roles: ["oncall"] }, owner.id);
    const id = await db.$transaction((tx) =>
      recordAudit(tx, {
        action: "surface.kill_switch",
        actor: { kind: "api_key", id: apiKey.id, name: "ci-pipeline", requestId: "req-42", clientAddress: "198.51.100.9" },
        subject: subjects.surface("surface-id-1", "t-audit"),
        surfaces: ["t-audit", "b-other", "t-audit"],
        before: { killSwitch: false },
        after: { killSwitch: true, surface: "t-audit" },
        reason: "INC-7",
      }),
    );
    const row = await db.auditLog.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      action: "surface.kill_switch", actor: "ci-pipeline", actorKind: "api_key", actorId: apiKey.id, requestId: "req-42", clientAddress: "198.51.100.9",
      entityType: "surface", entityId: "surface-id-1", subjectLabel: "t-audit", surfaceKeys: ["b-other", "t-audit"],
      before: { killSwitch: false }, after: { killSwitch: true, surface: "t-audit" }, reason: "INC-7",
    });
    expect(row.ts.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("writes SQL NULL, not JSON null, for a missing before, and null for what a system job does not have", async () => {
    const db = getDb();
    const id = await recordAudit(db, { action: "seed.demo", actor: { kind: "system", id: null, name: "seed" }, subject: subjects.system("demo", "demo data"), after: { items: 3 } });
    const raw = await db.$queryRaw<Array<{ before_is_null: boolean; actor_id: string | null; request_id: string | null; reason: string | null }>>`
      SELECT before IS NULL AS before_is_null, actor_id, request_id, reason FROM audit_log WHERE id = ${id}`;
    expect(raw[0]).toEqual({ before_is_null: true, actor_id: null, request_id: null, reason: null });
  });
});

describe("the audit_log table", () => {
  it("refuses UPDATE, DELETE and TRUNCATE, and the entry stays as written", async () => {
    const db = getDb();
    const id = await recordAudit(db, { action: "seed.demo", actor: { kind: "system", id: null, name: "seed" }, subject: subjects.system("demo", "demo data"), after: { items: 1 } });
    await withClient(baseUrl(), async (c) => {
      await expect(c.query(`UPDATE audit_log SET reason = 'tampered' WHERE id = $1`, [id.toString()])).rejects.toThrow("audit_log is append-only: UPDATE is refused");
      await expect(c.query(`DELETE FROM audit_log WHERE id = $1`, [id.toString()])).rejects.toThrow("audit_log is append-only: DELETE is refused");
      await expect(c.query(`TRUNCATE audit_log`)).rejects.toThrow("audit_log is append-only: TRUNCATE is refused");
      // Even a statement that matches no row: the table is not for changing.
      await expect(c.query(`DELETE FROM audit_log WHERE false`)).rejects.toThrow("append-only");
      const error = await c.query(`UPDATE audit_log SET actor = 'x' WHERE id = $1`, [id.toString()]).catch((e: pg.DatabaseError) => e);
      expect(error).toMatchObject({ code: "42501", hint: expect.stringContaining("Record a new entry") });
    });
    await expect(db.auditLog.update({ where: { id }, data: { reason: "tampered" } })).rejects.toThrow(/append-only/);
    await expect(db.auditLog.deleteMany({})).rejects.toThrow(/append-only/);
    expect(await db.auditLog.findUniqueOrThrow({ where: { id } })).toMatchObject({ reason: null, actor: "seed", after: { items: 1 } });
  });
});

describe("audited actions through tRPC", () => {
  it("record who (from the request), the request id, the client address and the surfaces", async () => {
    await as("ana@corp", "req-kill", "203.0.113.7").oncall.killSwitch({ surface: "t-audit", on: true, reason: "p99 over target, INC-9" });
    await as("ana@corp", "req-kill-off").oncall.killSwitch({ surface: "t-audit", on: false, reason: "recovered" });
    const { entries } = await as("viewer@corp").audit.list({ filter: { surface: "t-audit", action: "surface.kill_switch", actor: "ana@corp" } });
    expect(entries.map((e) => e.description.text)).toEqual(["ana@corp turned off the kill switch of t-audit", "ana@corp turned on the kill switch of t-audit"]);
    expect(entries[1]).toMatchObject({
      actor: { kind: "user", name: "ana@corp", id: "test-ana@corp" }, requestId: "req-kill", clientAddress: "203.0.113.7", reason: "p99 over target, INC-9",
      subject: { kind: "surface", label: "t-audit" }, surfaces: ["t-audit"], title: "Kill switch",
      description: { details: [{ field: "kill switch", before: "off", after: "on" }] },
    });
    expect(entries[1]!.description.parts).toContainEqual({ text: "t-audit", href: "/dashboards/oncall#surface-t-audit" });
  });

  it("say an alias move in words, link the versions, and file it under every surface the alias serves", async () => {
    const model = await getDb().model.findUniqueOrThrow({ where: { name: "t-audit-model" }, include: { versions: true } });
    const v4 = model.versions.find((v) => v.version === 4)!;
    await as("ben@corp").models.setAlias({ versionId: v4.id, alias: "production", reason: "ship v4" });
    const { entries } = await as("viewer@corp").audit.list({ filter: { surface: "t-audit", actor: "ben@corp" } });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.description.text).toBe("ben@corp moved t-audit-model production from v1 to v4");
    expect(entries[0]!.description.parts).toEqual([
      { text: "ben@corp " }, { text: "moved " }, { text: "t-audit-model", href: "/models/t-audit-model" }, { text: " production from " },
      { text: "v1", href: "/models/t-audit-model/v/1" }, { text: " to " }, { text: "v4", href: "/models/t-audit-model/v/4" },
    ]);
    expect(entries[0]!.surfaces).toEqual(["t-audit"]);
  });

  it("page newest first with a cursor, and filter by time", async () => {
    const caller = as("pager@corp");
    for (let i = 0; i < 5; i++) await caller.oncall.killSwitch({ surface: "t-audit", on: i % 2 === 0, reason: `page test ${i}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await caller.audit.list({ filter: { actor: "pager@corp" }, cursor, limit: 2 });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.reason!));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(["page test 4", "page test 3", "page test 2", "page test 1", "page test 0"]);
    expect((await caller.audit.list({ filter: { actor: "pager@corp", from: new Date(Date.now() + 60_000) } })).entries).toEqual([]);
    expect((await caller.audit.list({ filter: { actor: "pager@corp", from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) } })).entries).toHaveLength(5);
    await expect(caller.audit.list({ filter: { from: new Date(), to: new Date(Date.now() - 1000) } })).rejects.toThrow("from: from must be before to");
    await expect(caller.audit.list({ filter: { action: "surface.delete" as "surface.kill_switch" } })).rejects.toThrow(/^filter\.action: /);
  });

  it("export the filter as CSV (RFC 4180), neutralising cells a spreadsheet would run as formulas", async () => {
    // Off first: a press that changes nothing writes no entry.
    await as("setup@corp").oncall.killSwitch({ surface: "t-audit", on: false, reason: "off before the test" });
    await as("=cmd|' /C calc'!A0").oncall.killSwitch({ surface: "t-audit", on: true, reason: '@SUM(1+1), "quoted"\nsecond line' });
    const out = await as("viewer@corp").audit.export({ surface: "t-audit", action: "surface.kill_switch", actor: "=cmd|' /C calc'!A0" });
    expect(out).toMatchObject({ rows: 1, truncated: false });
    const [header, ...rest] = out.csv.split("\r\n");
    expect(header).toBe(CSV_COLUMNS.join(","));
    const row = rest.join("\r\n");
    // The actor and the reason start with = and @: each gets a leading apostrophe; quotes are doubled and the line break kept inside quotes.
    expect(row).toContain(`,'=cmd|' /C calc'!A0,user,test-=cmd|' /C calc'!A0,surface.kill_switch,surface,`);
    expect(row).toContain(`"'@SUM(1+1), ""quoted""\nsecond line"`);
    expect(row).toContain(`,'=cmd|' /C calc'!A0 turned on the kill switch of t-audit,`);
    expect(out.csv.endsWith("\r\n")).toBe(true);
    const facets = await as("viewer@corp").audit.facets();
    expect(facets.actors).toContainEqual({ name: "ana@corp", kind: "user" });
    expect(facets.actions.map((a) => a.name)).toContain("model.alias.set");
  });
});

describe("the audit_trail migration", () => {
  it("fills kind, label and surfaces of entries written before it, and changes nothing they recorded", async () => {
    const db = await scratchDatabase(baseUrl(), "audit_backfill");
    const url = db.url;
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      // The audit trail's migration and every later one (some read the columns it adds) come after the old entries.
      for (const name of await readdir(dir)) if (/^\d{14}_/.test(name) && name >= "20261129010000") await rm(path.join(dir, name), { recursive: true });
      await migrate(url, { dir });
      await withClient(url, async (c) => {
        await c.query(`INSERT INTO surfaces (id, key, name, model_alias, updated_at) VALUES ('s1', 'search', 'Search', 'production', now()), ('s2', 'feed', 'Feed', 'production', now())`);
        await c.query(`INSERT INTO models (id, name, owner, surface_id) VALUES ('m1', 'ranker', 'ml', 's1')`);
        await c.query(`UPDATE surfaces SET model_id = 'm1'`);
        await c.query(`INSERT INTO model_versions (id, model_id, version, sha256, size_bytes, input_name, output_name, feature_spec) VALUES ('v1', 'm1', 1, 'a', 1, 'f', 's', '[]'), ('v3', 'm1', 3, 'b', 1, 'f', 's', '[]')`);
        await c.query(`INSERT INTO rollouts (id, surface_id, model_id, to_version_id, status, created_by) VALUES ('r1', 's1', 'm1', 'v3', 'running', 'ana')`);
        await c.query(`INSERT INTO audit_log (actor, action, entity_type, entity_id, before, after, reason) VALUES
          ('ana', 'surface.kill_switch', 'surface', 's1', '{"killSwitch": false}', '{"killSwitch": true, "surface": "search"}', 'why'),
          ('system', 'model.alias.set', 'model', 'm1', NULL, '{"alias": "production", "versionId": "v1", "version": 1, "model": "ranker"}', 'demo seed'),
          ('system', 'model.version.create', 'model_version', 'v3', NULL, '{"model": "ranker", "version": 3}', NULL),
          ('rollout-analysis', 'rollout.rolled_back', 'rollout', 'r1', '{"percent": 5}', '{"surface": "search", "percent": 0, "status": "rolled_back"}', 'p99 up'),
          ('system', 'seed.demo', 'system', 'demo', NULL, '{"items": 3}', NULL)`);
      });
      await migrate(url);
      const rows = await withClient(url, (c) =>
        c.query(`SELECT actor, actor_kind, action, subject_label, surface_keys, reason, after FROM audit_log ORDER BY id`),
      );
      expect(rows.rows.map((r) => [r.actor, r.actor_kind, r.subject_label, r.surface_keys])).toEqual([
        ["ana", "user", "search", ["search"]],
        ["system", "system", "ranker", ["feed", "search"]],
        ["system", "system", "ranker v3", ["search"]],
        ["rollout-analysis", "system", "ranker v3 on search", ["search"]],
        ["system", "system", "demo", []],
      ]);
      expect(rows.rows[0]).toMatchObject({ action: "surface.kill_switch", reason: "why", after: { killSwitch: true, surface: "search" } });
      await expect(withClient(url, (c) => c.query(`DELETE FROM audit_log`))).rejects.toThrow("append-only");
      // The promotion history (20261129110000) starts from the alias moves, kill switches and canary changes recorded here.
      const history = await withClient(url, (c) => c.query(`SELECT kind, model_name, alias, surface_key, to_version, kill_switch, percent, actor, actor_kind FROM promotion_history ORDER BY id`));
      expect(history.rows.map((r) => Object.values(r))).toEqual([
        ["alias_move", "ranker", "production", null, 1, null, null, "system", "system"],
        ["kill_switch", "ranker", null, "search", null, true, null, "ana", "user"],
        ["canary_rolled_back", "ranker", null, "search", 3, null, 0, "rollout-analysis", "system"],
        // 20261130010000: the fixture's rollout row is still running, so it gets its surface's own canary alias.
        ["alias_move", "ranker", "canary@search", "search", 3, null, null, "migration 20261130010000", "system"],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
