import { cp, mkdtemp, rm } from "node:fs/promises";
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
