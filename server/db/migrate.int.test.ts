import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { databaseUrl } from "./client";
import { DEFAULT_MIGRATIONS_DIR, MigrationError, migrate, readMigrations, unknownMigrations } from "./migrate";
import { scratchDatabase, withClient } from "../testing/postgres";

// First-run break test: a database a newer Rerank Console migrated (a row in _prisma_migrations this
// code's prisma/migrations does not have) was accepted silently, by npm start and db:migrate alike.

const scratch: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of scratch) await s.drop();
});

describe("unknownMigrations", () => {
  it("lists the applied migrations this code does not have, once each and in order", () => {
    expect(unknownMigrations(["a", "b", "z2", "z1", "z1"], ["a", "b", "c"])).toEqual(["z1", "z2"]);
    expect(unknownMigrations(["a"], ["a", "b"])).toEqual([]);
  });
});

describe("a database migrated by a newer Rerank Console", () => {
  it("break test: is refused in one line naming the unknown migration and what to do", async () => {
    const db = await scratchDatabase(databaseUrl(), "newer");
    scratch.push(db);
    await migrate(db.url);
    await withClient(db.url, (client) =>
      client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES ('00000000-0000-0000-0000-000000000001', 'x', '29991231000000_from_the_future', now(), now(), 1)`),
    );
    const refused = migrate(db.url);
    await expect(refused).rejects.toThrow(MigrationError);
    await expect(migrate(db.url)).rejects.toThrow(/^This database was migrated by a newer Rerank Console: 29991231000000_from_the_future \(not in prisma\/migrations\); run that version, or restore a backup$/);
  });

  it("names every migration the code lacks (an older checkout on a newer database)", async () => {
    const db = await scratchDatabase(databaseUrl(), "older-code");
    scratch.push(db);
    await migrate(db.url);
    // This code without its last two migrations, the database with all of them: an older checkout.
    const all = await readMigrations();
    const older = await mkdtemp(path.join(os.tmpdir(), "rerank-migrations-"));
    try {
      for (const m of all.slice(0, -2)) await cp(path.join(DEFAULT_MIGRATIONS_DIR, m.name), path.join(older, m.name), { recursive: true });
      const message = await migrate(db.url, { dir: older }).then(() => "migrated", (error: Error) => error.message);
      expect(message).toContain(`This database was migrated by a newer Rerank Console: ${all.slice(-2).map((m) => m.name).join(", ")} (not in `);
    } finally {
      await rm(older, { recursive: true, force: true });
    }
  });
});

// Start break test: a signal during migrations (npm start stops PostgreSQL mid-migration) left a
// _prisma_migrations row started but never finished: the row was committed on its own before the
// migration's transaction, and the ROLLBACK in the catch threw "Connection terminated unexpectedly"
// (a stack trace), so rolled_back_at was never set and every later start refused.

/** A migrations folder of `sqls` (name → SQL), removed by the caller. */
async function migrationsDir(sqls: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "rerank-migrations-"));
  for (const [name, sql] of Object.entries(sqls)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

describe("a migration interrupted by a lost connection", () => {
  it("break test: is one line, leaves no row and no schema, and the next run applies it", async () => {
    const db = await scratchDatabase(databaseUrl(), "killed");
    scratch.push(db);
    const dir = await migrationsDir({
      "20000101000000_first": `CREATE TABLE first_table (id int);`,
      "20000101000001_slow": `CREATE TABLE slow_table (id int);\nSELECT pg_sleep(3);`,
    });
    try {
      const lines: string[] = [];
      const running = migrate(db.url, { dir, log: (line) => lines.push(line) }).then(() => "migrated", (error: Error) => error);
      // Terminate the migrating backend while it sleeps inside the second migration's transaction.
      const name = new URL(db.url).pathname.slice(1);
      await withClient(databaseUrl(), async (c) => {
        for (let i = 0; i < 200; i++) {
          const { rows } = await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()`, [name]);
          if (rows.length) {
            await c.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        throw new Error("the slow migration never started");
      });
      const error = await running;
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(/^Migration 20000101000001_slow was interrupted: the connection to PostgreSQL was lost \(.+\); it was not applied, the next run applies it$/);
      expect((error as Error).message).not.toContain("\n");
      expect(lines).toEqual(["applied migration 20000101000000_first"]);
      const after = await withClient(db.url, async (c) => ({
        rows: (await c.query(`SELECT migration_name, finished_at IS NOT NULL AS finished FROM "_prisma_migrations" ORDER BY migration_name`)).rows,
        slow: (await c.query(`SELECT to_regclass('slow_table') IS NOT NULL AS exists`)).rows[0].exists,
      }));
      expect(after).toEqual({ rows: [{ migration_name: "20000101000000_first", finished: true }], slow: false });

      const again = await migrate(db.url, { dir });
      expect(again.applied).toEqual(["20000101000001_slow"]);
      const rows = await withClient(db.url, (c) => c.query(`SELECT migration_name, checksum, applied_steps_count, finished_at IS NOT NULL AS finished, rolled_back_at IS NULL AS live FROM "_prisma_migrations" ORDER BY migration_name`));
      const files = await readMigrations(dir);
      expect(rows.rows).toEqual(files.map((f) => ({ migration_name: f.name, checksum: f.checksum, applied_steps_count: 1, finished: true, live: true })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("a failing migration is one line and recorded rolled back, with nothing of it kept", async () => {
    const db = await scratchDatabase(databaseUrl(), "failing");
    scratch.push(db);
    const dir = await migrationsDir({ "20000101000000_bad": `CREATE TABLE half (id int);\nSELECT no_such_function();` });
    try {
      await expect(migrate(db.url, { dir })).rejects.toThrow(/^Migration 20000101000000_bad failed and was rolled back: function no_such_function\(\) does not exist$/);
      const rows = await withClient(db.url, (c) => c.query(`SELECT finished_at IS NULL AS unfinished, rolled_back_at IS NOT NULL AS rolled_back, to_regclass('half') IS NULL AS clean FROM "_prisma_migrations"`));
      expect(rows.rows).toEqual([{ unfinished: true, rolled_back: true, clean: true }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a database an earlier runner left with a migration started but never finished", () => {
  it("break test: marks it rolled back in one line and applies it again (every later start refused)", async () => {
    const db = await scratchDatabase(databaseUrl(), "stale");
    scratch.push(db);
    const all = await readMigrations();
    const target = all.findIndex((m) => m.name === "20261129030000_experiment_start_approval");
    expect(target).toBeGreaterThan(0);
    const older = await mkdtemp(path.join(os.tmpdir(), "rerank-migrations-"));
    try {
      for (const m of all.slice(0, target)) await cp(path.join(DEFAULT_MIGRATIONS_DIR, m.name), path.join(older, m.name), { recursive: true });
      await migrate(db.url, { dir: older });
      // What the earlier runner left: its row inserted before the transaction; the transaction rolled back.
      await withClient(db.url, (c) =>
        c.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ('00000000-0000-0000-0000-000000000002', $1, $2, now(), 0)`, [all[target]!.checksum, all[target]!.name]),
      );
      const lines: string[] = [];
      const result = await migrate(db.url, { log: (line) => lines.push(line) });
      expect(result.applied).toEqual(all.slice(target).map((m) => m.name));
      expect(lines[0]).toBe(`migration ${all[target]!.name} was interrupted by an earlier start and rolled back; marked it rolled back, applying it again`);
      expect(lines.slice(1)).toEqual(all.slice(target).map((m) => `applied migration ${m.name}`));
      const rows = await withClient(db.url, (c) => c.query(`SELECT finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back FROM "_prisma_migrations" WHERE migration_name = $1 ORDER BY started_at`, [all[target]!.name]));
      expect(rows.rows).toEqual([{ finished: false, rolled_back: true }, { finished: true, rolled_back: false }]);
      expect((await migrate(db.url)).applied).toEqual([]);
    } finally {
      await rm(older, { recursive: true, force: true });
    }
  }, 60_000);
});
