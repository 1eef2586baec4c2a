import type pg from "pg";

// Daily range partitions for the high-volume logs. Partitions are created a week ahead; a row
// outside every partition lands in the table's DEFAULT partition, and creating a partition later
// moves such rows out of DEFAULT first (PostgreSQL refuses otherwise).

export const PARTITIONED_TABLES = [
  { table: "rerank_requests", column: "ts" },
  { table: "outcome_events", column: "request_ts" },
  { table: "shadow_records", column: "ts" },
  { table: "scoring_samples", column: "ts" },
] as const;

/**
 * The logs and the tables kept beside them, partitioned and dropped the same way: outcome_event_keys
 * (which events are kept whatever copy of their request they refer to; server/telemetry/streams.ts).
 */
const DAY_PARTITIONED = [...PARTITIONED_TABLES, { table: "outcome_event_keys", column: "day" }] as const;

const DAY_MS = 86_400_000;
/** PostgreSQL's SQLSTATE for a lock not granted within lock_timeout. */
const LOCK_NOT_AVAILABLE = "55P03";

function dayStamp(day: Date): string {
  return day.toISOString().slice(0, 10).replaceAll("-", "");
}

export function partitionName(table: string, day: Date): string {
  return `${table}_p${dayStamp(day)}`;
}

export function utcDay(date: Date): Date {
  return new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
}

type Queryable = Pick<pg.Client, "query">;

/**
 * Ensures a partition exists for every day from `daysBack` before to `daysAhead` after `now`.
 * @param options.lockTimeoutMs wait at most this long for each partition's locks (creating a
 *   partition locks its parent, so waiting behind a long reader would queue the log's INSERTs behind
 *   it); a partition whose locks are busy is skipped and listed in options.deferred, for the next
 *   run (retention creates a week ahead, so a skipped day is made days before it is needed).
 * @returns the partitions created.
 */
export async function ensurePartitions(
  client: Queryable,
  options: { now?: Date; daysBack?: number; daysAhead?: number; lockTimeoutMs?: number; deferred?: string[] } = {},
): Promise<string[]> {
  const today = utcDay(options.now ?? new Date());
  const created: string[] = [];
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY($1)`,
    [DAY_PARTITIONED.map((t) => t.table)],
  );
  const existing = new Set(rows.map((r) => r.relname));
  for (let d = -(options.daysBack ?? 1); d <= (options.daysAhead ?? 7); d++) {
    const from = new Date(today.getTime() + d * DAY_MS);
    const to = new Date(from.getTime() + DAY_MS);
    for (const { table, column } of DAY_PARTITIONED) {
      const name = partitionName(table, from);
      if (existing.has(name)) continue;
      try {
        await createPartition(client, table, column, name, from, to, options.lockTimeoutMs);
      } catch (error) {
        if (options.lockTimeoutMs === undefined || (error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
        options.deferred?.push(name);
        continue;
      }
      created.push(name);
    }
  }
  return created;
}

async function createPartition(client: Queryable, table: string, column: string, name: string, from: Date, to: Date, lockTimeoutMs?: number) {
  const range = [from.toISOString(), to.toISOString()];
  const inRange = `"${column}" >= $1 AND "${column}" < $2`;
  await client.query("BEGIN");
  try {
    if (lockTimeoutMs !== undefined) await client.query(`SET LOCAL lock_timeout = ${Math.round(lockTimeoutMs)}`);
    // Rows that arrived before the partition existed sit in DEFAULT; move them over.
    await client.query(`CREATE TEMP TABLE _moving ON COMMIT DROP AS SELECT * FROM "${table}_default" WHERE ${inRange}`, range);
    await client.query(`DELETE FROM "${table}_default" WHERE ${inRange}`, range);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${name}" PARTITION OF "${table}" FOR VALUES FROM ('${range[0]}') TO ('${range[1]}')`,
    );
    // Generated columns (rerank_requests.owner) are computed again, never inserted: name the others.
    const { rows } = await client.query<{ columns: string }>(
      `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS columns FROM pg_attribute
       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`,
      [`"${table}"`],
    );
    const columns = rows[0]!.columns;
    await client.query(`INSERT INTO "${table}" (${columns}) SELECT ${columns} FROM _moving`);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
}

/** How long one DROP of a partition may wait for its locks before it gives way to the writers (ms). */
export const RETENTION_LOCK_TIMEOUT_MS = 100;
/** Pauses between the attempts to drop a partition whose locks were busy (ms): about 5 s in all. */
export const RETENTION_RETRY_DELAYS_MS = [200, 400, 800, 1_600, 2_000];

export interface DropResult {
  /** Partitions dropped, e.g. rerank_requests_p20261030. */
  dropped: string[];
  /** Partitions due that could not get their locks (a long reader holds the parent): the next run drops them. */
  deferred: string[];
}


/**
 * Drops whole day partitions older than `retentionDays`: the cheap way to expire 100M-row logs.
 *
 * Dropping a partition takes ACCESS EXCLUSIVE locks on it and its parent. Waiting for them behind a
 * long reader would queue every INSERT of the log behind the DROP (PostgreSQL grants locks in
 * order), so each DROP waits at most RETENTION_LOCK_TIMEOUT_MS (`SET lock_timeout`), then gives way
 * and retries after RETENTION_RETRY_DELAYS_MS; one still blocked after the last retry is reported as
 * deferred and dropped by the next run. A writer thus waits at most RETENTION_LOCK_TIMEOUT_MS per
 * attempt. (`DETACH PARTITION … CONCURRENTLY` would avoid even that, but PostgreSQL refuses it on a
 * table with a DEFAULT partition, which every partitioned log here has.)
 * @param options.retryDelaysMs pauses between attempts (tests shorten them).
 */
export async function dropPartitionsOlderThan(
  client: Queryable,
  retentionDays: number,
  now = new Date(),
  options: { retryDelaysMs?: number[]; lockTimeoutMs?: number } = {},
): Promise<DropResult> {
  const cutoff = dayStamp(new Date(utcDay(now).getTime() - retentionDays * DAY_MS));
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY($1)`,
    [DAY_PARTITIONED.map((t) => t.table)],
  );
  let pending = rows.map((r) => r.relname).filter((name) => {
    const match = /_p(\d{8})$/.exec(name);
    return match !== null && match[1]! < cutoff;
  });
  const dropped: string[] = [];
  const delays = options.retryDelaysMs ?? RETENTION_RETRY_DELAYS_MS;
  await client.query(`SET lock_timeout = ${Math.round(options.lockTimeoutMs ?? RETENTION_LOCK_TIMEOUT_MS)}`);
  try {
    for (let attempt = 0; pending.length > 0; attempt++) {
      const blocked: string[] = [];
      for (const relname of pending) {
        try {
          await client.query(`DROP TABLE IF EXISTS "${relname}"`);
          dropped.push(relname);
        } catch (error) {
          if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
          blocked.push(relname);
        }
      }
      pending = blocked;
      if (pending.length === 0 || attempt >= delays.length) break;
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  } finally {
    await client.query("RESET lock_timeout");
  }
  return { dropped, deferred: pending };
}
