import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { connectClient } from "./pgClient";

// Applies prisma/migrations/<timestamp>_<name>/migration.sql in name order, keeping Prisma's
// _prisma_migrations bookkeeping (checksum = sha256 of the file) so that `prisma migrate status`
// agrees wherever the Prisma CLI can run. We run our own because `prisma migrate` cannot run
// offline here (its schema engine is a native download).

/** Any constant shared by every process that migrates this database. */
const MIGRATION_LOCK_KEY = 72_707_369;

export const DEFAULT_MIGRATIONS_DIR = path.join(process.cwd(), "prisma", "migrations");

export class MigrationError extends Error {}

export interface MigrationFile {
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  level: string | null;
}

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

export async function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, "migration.sql");
      const sql = await readFile(file, "utf8");
      return { name, file, sql, checksum: checksumOf(sql) };
    }),
  );
}

/**
 * The applied migrations (rows not rolled back) this code does not have, in order (pure): a newer
 * version of the console migrated the database. Its schema is not what this code expects, and
 * running it there would fail in odd places later, or write what the newer version cannot read.
 */
export function unknownMigrations(applied: string[], known: string[]): string[] {
  const have = new Set(known);
  return [...new Set(applied.filter((name) => !have.has(name)))].sort();
}

const BOOKKEEPING_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Migrates the database at `connectionString`. Safe to run from several processes at once: the
 * whole run holds a session advisory lock, so the second waits and then finds nothing to do.
 */
export async function migrate(
  connectionString: string,
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrationResult> {
  const log = options.log ?? (() => {});
  const files = await readMigrations(options.dir);
  const client = await connectClient({ connectionString });
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(BOOKKEEPING_DDL);
    const { rows } = await client.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"
       WHERE rolled_back_at IS NULL ORDER BY started_at`,
    );
    const byName = new Map(rows.map((r) => [r.migration_name, r]));
    const unknown = unknownMigrations(rows.map((r) => r.migration_name), files.map((f) => f.name));
    if (unknown.length) {
      throw new MigrationError(`This database was migrated by a newer Rerank Console: ${unknown.join(", ")} (not in ${path.relative(process.cwd(), options.dir ?? DEFAULT_MIGRATIONS_DIR) || "."}); run that version, or restore a backup`);
    }
    for (const row of rows) {
      if (row.finished_at === null) {
        throw new MigrationError(
          `Migration ${row.migration_name} failed earlier and is still marked as started; fix the database, then set rolled_back_at on its _prisma_migrations row`,
        );
      }
      const file = files.find((f) => f.name === row.migration_name);
      if (file && file.checksum !== row.checksum) {
        throw new MigrationError(
          `Refusing to migrate: ${path.relative(process.cwd(), file.file)} was edited after it was applied (checksum ${file.checksum.slice(0, 12)}… differs from the applied ${row.checksum.slice(0, 12)}…). Add a new migration instead of editing an applied one.`,
        );
      }
    }
    const applied: string[] = [];
    for (const file of files) {
      if (byName.has(file.name)) continue;
      const id = randomUUID();
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), 0)`,
        [id, file.checksum, file.name],
      );
      try {
        await client.query("BEGIN");
        await client.query(file.sql);
        await client.query(
          `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
          [id],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        const message = error instanceof Error ? error.message : String(error);
        await client.query(`UPDATE "_prisma_migrations" SET logs = $2, rolled_back_at = now() WHERE id = $1`, [id, message]);
        throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${message}`);
      }
      log(`applied migration ${file.name}`);
      applied.push(file.name);
    }
    return { applied, level: files.at(-1)?.name ?? null };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
