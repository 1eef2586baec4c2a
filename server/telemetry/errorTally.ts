import { getDb, type Db } from "../db/client";

// Rerank requests answered with a 5xx, per surface and minute, for the On-call page's availability
// SLI (server/oncall/service.ts): such a request never reaches the request log. Counted in memory at
// once and added to rerank_errors every FLUSH_INTERVAL_MS; a flush that fails (the database is what
// is down, most often) keeps its counts for the next one, so an outage is counted once it is over.

const FLUSH_INTERVAL_MS = 5_000;

/**
 * The one label of 5xx answers that no surface can be charged with (attributedSurface below):
 * answered before a surface was known — the key check failed with the database
 * down — or for a surface the server's config does not know. The On-call page shows their count and
 * burn on a card of their own (server/oncall/service.ts unattributedErrors), as Prometheus sees the
 * rerank_requests_total{surface="unattributed",outcome="error"} series.
 */
export const UNATTRIBUTED_SURFACE = "unattributed";

/** What the server knows of an answer's surface: the name the client sent, or a key resolved from the database. */
export type AnswerAbout = { named: string } | { resolved: string };

/**
 * The surface label of a 5xx: a surface the server's own config knows — the cached config of the
 * surface the client named (surfaceConfigs().peek), or the key text reranking resolved from the
 * database — else UNATTRIBUTED_SURFACE. Never the client's text as sent: an outage must not let a
 * caller mint Prometheus label values or rerank_errors rows. Answered before the surface is known
 * (the key check failed with the database down, say), a 5xx is unattributed.
 */
export function attributedSurface(about: AnswerAbout | undefined, known: (surface: string) => boolean): string {
  if (!about) return UNATTRIBUTED_SURFACE;
  if ("resolved" in about) return about.resolved;
  return known(about.named) ? about.named : UNATTRIBUTED_SURFACE;
}

/** Counts waiting for the next flush: "surface\tminute-epoch-ms" → count. */
const holder = globalThis as unknown as { __rerankErrorTally?: { pending: Map<string, number>; timer: NodeJS.Timeout | null } };
const tally = (holder.__rerankErrorTally ??= { pending: new Map(), timer: null });

/** Counts one error answer of `surface` (a known surface's key, or UNATTRIBUTED_SURFACE) at `at`. */
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
