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

/** SQLSTATE classes and node-postgres messages of a connection that ended mid-query (admin shutdown, crash, network). */
function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03")) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /Connection terminated|connection terminated|Client has encountered a connection error|ECONNRESET|EPIPE|ECONNREFUSED|server closed the connection/.test(message);
}

/**
 * An error of a preparation step after the migrations (`step`: the job queue's schema, the log's
 * partitions) as one MigrationError line, as migrate() reports its own: a lost connection (a start
 * stopped meanwhile) says so and that the next run finishes; anything else names the step and the
 * first line of its message. A MigrationError is returned as it is.
 */
export function preparationError(step: string, error: unknown): MigrationError {
  if (error instanceof MigrationError) return error;
  if (isConnectionLost(error)) return new MigrationError(`${step} stopped: the connection to PostgreSQL was lost (${firstLine(error)}); run again to finish`);
  return new MigrationError(`${step} failed: ${firstLine(error)}`);
}

/** The first line of an error's message (a driver's message never becomes a multi-line report). */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.trim();
}

/**
 * Migrates the database at `connectionString`. Safe to run from several processes at once: the
 * whole run holds a session advisory lock, so the second waits and then finds nothing to do.
 *
 * Each migration and its `_prisma_migrations` row (finished_at set, applied_steps_count 1) commit in
 * one transaction: a start stopped mid-migration (a signal that stops PostgreSQL, a lost connection)
 * leaves neither, and the next run applies it again. Every migration runs in a transaction (none of
 * prisma/migrations needs to run outside one). A row an earlier version of this runner left started
 * (finished_at and rolled_back_at NULL: it inserted the row before its transaction, and the
 * transaction never committed) is marked rolled back and the migration applied again, said in one line.
 * @throws MigrationError, one line, for a failed or interrupted migration, a lost connection, a
 *   database a newer console migrated, or an edited applied migration.
 */
export async function migrate(
  connectionString: string,
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrationResult> {
  const log = options.log ?? (() => {});
  const files = await readMigrations(options.dir);
  const client = await connectClient({ connectionString });
  try {
    return await migrateWith(client, files, options.dir, log);
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    if (isConnectionLost(error)) throw new MigrationError(`Migrating the database stopped: the connection to PostgreSQL was lost (${firstLine(error)}); nothing half-applied was kept, run again to finish`);
    throw new MigrationError(`Migrating the database failed: ${firstLine(error)}`);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end().catch(() => {});
  }
}

async function migrateWith(
  client: Awaited<ReturnType<typeof connectClient>>,
  files: MigrationFile[],
  dir: string | undefined,
  log: (line: string) => void,
): Promise<MigrationResult> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  await client.query(BOOKKEEPING_DDL);
  const known = new Set(files.map((f) => f.name));
  // Rows an earlier runner left started: their transaction rolled back (it never committed), so the schema has none of them.
  const { rows: stale } = await client.query<{ id: string; migration_name: string }>(
    `SELECT id, migration_name FROM "_prisma_migrations" WHERE finished_at IS NULL AND rolled_back_at IS NULL ORDER BY started_at`,
  );
  for (const row of stale.filter((r) => known.has(r.migration_name))) {
    await client.query(
      `UPDATE "_prisma_migrations" SET rolled_back_at = now(), logs = concat_ws(E'\n', logs, 'interrupted before its transaction committed; marked rolled back by the next run') WHERE id = $1`,
      [row.id],
    );
    log(`migration ${row.migration_name} was interrupted by an earlier start and rolled back; marked it rolled back, applying it again`);
  }
  const { rows } = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at`,
  );
  const byName = new Map(rows.map((r) => [r.migration_name, r]));
  const unknown = unknownMigrations(rows.map((r) => r.migration_name), files.map((f) => f.name));
  if (unknown.length) {
    throw new MigrationError(`This database was migrated by a newer Rerank Console: ${unknown.join(", ")} (not in ${path.relative(process.cwd(), dir ?? DEFAULT_MIGRATIONS_DIR) || "."}); run that version, or restore a backup`);
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
    try {
      await client.query("BEGIN");
      await client.query(file.sql);
      // In the migration's own transaction: both commit, or neither. started_at is the transaction's start.
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
        [id, file.checksum, file.name],
      );
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      if (isConnectionLost(error)) {
        throw new MigrationError(`Migration ${file.name} was interrupted: the connection to PostgreSQL was lost (${firstLine(error)}); it was not applied, the next run applies it`);
      }
      const message = firstLine(error);
      // Prisma's record of a failed attempt: a row rolled back, with the error in its logs (best effort).
      await client
        .query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, logs, rolled_back_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), $4, now(), 0)`,
          [id, file.checksum, file.name, error instanceof Error ? error.message : String(error)],
        )
        .catch(() => {});
      throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${message}`);
    }
    log(`applied migration ${file.name}`);
    applied.push(file.name);
  }
  return { applied, level: files.at(-1)?.name ?? null };
}
