import { getDb, type Db } from "../db/client";

// Rerank requests answered with a 5xx, per surface and minute, for the On-call page's availability
// SLI (server/oncall/service.ts): such a request never reaches the request log. Counted in memory at
// once and added to rerank_errors every FLUSH_INTERVAL_MS; a flush that fails (the database is what
// is down, most often) keeps its counts for the next one, so an outage is counted once it is over.

const FLUSH_INTERVAL_MS = 5_000;

/** Counts waiting for the next flush: "surface\tminute-epoch-ms" → count. */
const holder = globalThis as unknown as { __rerankErrorTally?: { pending: Map<string, number>; timer: NodeJS.Timeout | null } };
const tally = (holder.__rerankErrorTally ??= { pending: new Map(), timer: null });

/** Counts one error answer of `surface` ("unknown" when none was read) at `at`. */
export function countRerankError(surface: string, at = new Date()): void {
  const minute = Math.floor(at.getTime() / 60_000) * 60_000;
  const key = `${surface}\t${minute}`;
  tally.pending.set(key, (tally.pending.get(key) ?? 0) + 1);
  if (!tally.timer) {
    tally.timer = setInterval(() => void flushRerankErrors().catch(() => undefined), FLUSH_INTERVAL_MS);
    tally.timer.unref();
  }
}

/** Adds the pending counts to rerank_errors; on failure they stay pending and the error is thrown. */
export async function flushRerankErrors(db: Db = getDb()): Promise<void> {
  if (tally.pending.size === 0) return;
  const batch = [...tally.pending];
  tally.pending.clear();
  try {
    // One statement: all counts are added, or none (no count is added twice on a retry).
    const rows = batch.map(([key, count]) => ({ surface: key.split("\t")[0]!, minute: new Date(Number(key.split("\t")[1])), count }));
    await db.$executeRaw`
      INSERT INTO rerank_errors (surface, minute, count)
      SELECT * FROM unnest(${rows.map((r) => r.surface)}::text[], ${rows.map((r) => r.minute)}::timestamptz[], ${rows.map((r) => r.count)}::int[])
      ON CONFLICT (surface, minute) DO UPDATE SET count = rerank_errors.count + EXCLUDED.count`;
  } catch (error) {
    for (const [key, count] of batch) tally.pending.set(key, (tally.pending.get(key) ?? 0) + count);
    throw error;
  }
}
