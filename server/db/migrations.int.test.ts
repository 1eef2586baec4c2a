import { mkdtemp, cp, appendFile, readFile, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import prismaInternals from "@prisma/internals";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl } from "./client";
import { DEFAULT_MIGRATIONS_DIR, MigrationError, checksumOf, migrate } from "./migrate";
import { diffSchema, type Datamodel } from "./schemaDrift";
import { ensurePartitions, partitionName } from "./partitions";
import { scratchDatabase as scratchDatabaseOn, withClient } from "../testing/postgres";

const baseUrl = databaseUrl();

/** A second empty database on the same server, so these tests start from nothing. */
const scratchDatabase = (label: string) => scratchDatabaseOn(baseUrl, label);

describe("migrations", () => {
  const scratch: Array<{ drop(): Promise<void> }> = [];
  afterAll(async () => {
    for (const s of scratch) await s.drop();
  });

  it("build exactly what schema.prisma declares (and the check catches drift)", async () => {
    const { getDMMF } = prismaInternals;
    const dmmf = await getDMMF({ datamodel: await readFile(path.join(process.cwd(), "prisma", "schema.prisma"), "utf8") });
    const datamodel = dmmf.datamodel as unknown as Datamodel;
    const db = await scratchDatabase("drift");
    scratch.push(db);
    await migrate(db.url);
    await withClient(db.url, async (client) => {
      expect(await diffSchema(client, datamodel)).toEqual([]);
      expect(datamodel.models.length).toBeGreaterThanOrEqual(20);

      // The comparison must notice each kind of drift.
      await client.query("BEGIN");
      await client.query(`ALTER TABLE users ALTER COLUMN name DROP NOT NULL`);
      await client.query(`ALTER TABLE surfaces ALTER COLUMN timeout_ms SET DEFAULT 99`);
      await client.query(`DROP INDEX audit_log_ts_idx`);
      await client.query(`DROP INDEX models_name_key`);
      await client.query(`ALTER TABLE catalog_items ADD COLUMN colour TEXT`);
      await client.query(`ALTER TABLE rollouts ALTER COLUMN current_percent TYPE integer`);
      const problems = await diffSchema(client, datamodel);
      await client.query("ROLLBACK");
      expect(problems).toEqual(
        expect.arrayContaining([
          "users.name: nullable is YES, schema says NO",
          "surfaces.timeout_ms: default is 99, schema says 50",
          "audit_log: index on (ts) is missing",
          "models: unique index on (name) is missing",
          "catalog_items.colour exists in the database but not in model CatalogItem",
          "rollouts.current_percent: type is integer, schema says double precision",
        ]),
      );
    });
  });

  it("keep Prisma's _prisma_migrations bookkeeping and are idempotent", async () => {
    const db = await scratchDatabase("bookkeeping");
    scratch.push(db);
    const first = await migrate(db.url);
    expect(first.applied.length).toBeGreaterThan(0);
    const second = await migrate(db.url);
    expect(second.applied).toEqual([]);
    expect(second.level).toBe(first.level);
    const rows = await withClient(db.url, (c) =>
      c.query(`SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name`),
    );
    const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, first.applied[0]!, "migration.sql"), "utf8");
    expect(rows.rows[0]).toMatchObject({ migration_name: first.applied[0], checksum: checksumOf(sql), applied_steps_count: 1, rolled_back_at: null });
    expect(rows.rows[0].finished_at).toBeInstanceOf(Date);
  });

  it("are safe from two processes at once", async () => {
    const db = await scratchDatabase("concurrent");
    scratch.push(db);
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect([...a.applied, ...b.applied].sort()).toEqual([...new Set([...a.applied, ...b.applied])].sort());
    expect(a.applied.length + b.applied.length).toBe((await withClient(db.url, (c) => c.query("SELECT 1 FROM _prisma_migrations"))).rowCount);
  });

  it("refuse an applied migration file that was edited, naming the file, and change nothing", async () => {
    const db = await scratchDatabase("edited");
    scratch.push(db);
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const first = await migrate(db.url, { dir });
    const edited = path.join(dir, first.applied[0]!, "migration.sql");
    await appendFile(edited, "\n-- an innocent-looking edit\n");
    const error = await migrate(db.url, { dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(`${first.applied[0]}/migration.sql was edited after it was applied`);
    const count = await withClient(db.url, (c) => c.query("SELECT 1 FROM _prisma_migrations"));
    expect(count.rowCount).toBe(first.applied.length);
  });

  it("keep request log rows written before the lean format readable (jsonb served lists become json, same values)", async () => {
    const db = await scratchDatabase("lean-log");
    scratch.push(db);
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    // The migrations before the lean format; it and the later ones (which build on its columns) come after the old row.
    const LEAN = "20261130020000_lean_request_log";
    const later = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((name) => /^\d{14}_/.test(name) && name >= LEAN).sort();
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true, filter: (src) => !later.includes(path.basename(src)) });
    await migrate(db.url, { dir });
    const served = [{ id: "sku-1", score: 0.75, position: 1, reasons: ["interleaving:a", "interleaving:competitive"] }, { id: "sku-2", score: 0.5, position: 2, reasons: [] }];
    await withClient(db.url, (c) =>
      c.query(`INSERT INTO rerank_requests (request_id, ts, surface, candidate_count, top_k, served, timings, context, latency_ms)
               VALUES ('old-1', now(), 'search', 2, 2, $1::jsonb, '{"total": 1.5}'::jsonb, '{"query": "lamp"}'::jsonb, 1.5)`, [JSON.stringify(served)]));
    for (const name of later) await cp(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
    expect((await migrate(db.url, { dir })).applied).toEqual(later);
    const { rows } = await withClient(db.url, (c) =>
      c.query(`SELECT pg_typeof(served)::text AS type, served, timings, context, features_timed_out, caller, owner,
                 served -> 0 -> 'reasons' ->> -1 AS last_reason FROM rerank_requests WHERE request_id = 'old-1'`));
    expect(rows[0]).toEqual({ type: "json", served, timings: { total: 1.5 }, context: { query: "lamp" }, features_timed_out: false, caller: null, owner: "", last_reason: "interleaving:competitive" });
  });

  it("give experiments shipped before shipped_at existed the time of their ship entry in the audit trail, else their stop", async () => {
    const db = await scratchDatabase("shipped-at");
    scratch.push(db);
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    const SHIPPED_AT = "20261213000000_experiment_shipped_at";
    const later = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((name) => /^\d{14}_/.test(name) && name >= SHIPPED_AT).sort();
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true, filter: (src) => !later.includes(path.basename(src)) });
    await migrate(db.url, { dir });
    await withClient(db.url, async (c) => {
      await c.query(`INSERT INTO surfaces (id, key, name, updated_at) VALUES ('s1', 'search', 'Search', now())`);
      // Stopped on the 1st, shipped on the 5th (twice audited: the newest entry counts); shipped without an entry; still running.
      const experiment = (id: string, status: string, stopped: string | null) =>
        c.query(`INSERT INTO experiments (id, key, name, surface_id, owner, seed, status, stopped_at, updated_at) VALUES ($1, $1, $1, 's1', 'pm', 'x', $2::"ExperimentStatus", $3, now())`, [id, status, stopped]);
      await experiment("audited", "shipped", "2026-11-01T10:00:00Z");
      await experiment("unaudited", "shipped", "2026-11-02T10:00:00Z");
      await experiment("running", "running", null);
      const entry = (id: string, action: string, ts: string) =>
        c.query(`INSERT INTO audit_log (ts, actor, actor_kind, action, entity_type, entity_id, subject_label) VALUES ($3, 'pm', 'user', $2, 'experiment', $1, $1)`, [id, action, ts]);
      await entry("audited", "experiment.stop", "2026-11-01T10:00:00Z");
      await entry("audited", "experiment.ship", "2026-11-04T10:00:00Z");
      await entry("audited", "experiment.ship", "2026-11-05T10:00:00Z");
      await entry("running", "experiment.ship", "2026-11-06T10:00:00Z");
    });
    for (const name of later) await cp(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
    expect((await migrate(db.url, { dir })).applied).toEqual(later);
    const { rows } = await withClient(db.url, (c) => c.query(`SELECT key, shipped_at FROM experiments ORDER BY key`));
    expect(rows).toEqual([
      { key: "audited", shipped_at: new Date("2026-11-05T10:00:00Z") },
      { key: "running", shipped_at: null },
      { key: "unaudited", shipped_at: new Date("2026-11-02T10:00:00Z") },
    ]);
  });

  it("roll back a failing migration and record it", async () => {
    const db = await scratchDatabase("failing");
    scratch.push(db);
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const { mkdir, writeFile } = await import("node:fs/promises");
    await mkdir(path.join(dir, "29990101000000_broken"));
    await writeFile(path.join(dir, "29990101000000_broken", "migration.sql"), "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;");
    await expect(migrate(db.url, { dir })).rejects.toThrow(/29990101000000_broken failed and was rolled back: .*no_such_table/);
    await withClient(db.url, async (c) => {
      expect((await c.query("SELECT to_regclass('half_done') AS t")).rows[0].t).toBeNull();
      expect((await c.query("SELECT rolled_back_at FROM _prisma_migrations WHERE migration_name = '29990101000000_broken'")).rows[0].rolled_back_at).toBeInstanceOf(Date);
    });
  });
});

describe("log partitions", () => {
  beforeAll(async () => {
    await withClient(baseUrl, (c) => ensurePartitions(c));
  });

  it("route rows to their day's partition and move early arrivals out of DEFAULT", async () => {
    const farDay = new Date(Date.UTC(2030, 0, 15, 12));
    await withClient(baseUrl, async (c) => {
      const today = await c.query(`INSERT INTO rerank_requests (request_id, surface, candidate_count, top_k, served, latency_ms)
        VALUES ('r-today', 'search', 3, 3, '[]', 1.5) RETURNING tableoid::regclass::text AS part`);
      expect(today.rows[0].part).toBe(partitionName("rerank_requests", new Date()));
      const early = await c.query(`INSERT INTO rerank_requests (request_id, ts, surface, candidate_count, top_k, served, latency_ms)
        VALUES ('r-2030', $1, 'search', 3, 3, '[]', 1.5) RETURNING tableoid::regclass::text AS part`, [farDay]);
      expect(early.rows[0].part).toBe("rerank_requests_default");
      const created = await ensurePartitions(c, { now: farDay, daysBack: 0, daysAhead: 0 });
      expect(created).toContain(partitionName("rerank_requests", new Date(Date.UTC(2030, 0, 15))));
      const moved = await c.query(`SELECT tableoid::regclass::text AS part FROM rerank_requests WHERE request_id = 'r-2030'`);
      expect(moved.rows).toEqual([{ part: "rerank_requests_p20300115" }]);
    });
  });
});
