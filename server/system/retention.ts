import { systemActor, type Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { env } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { dropPartitionsOlderThan, ensurePartitions, RETENTION_LOCK_TIMEOUT_MS, utcDay } from "../db/partitions";
import { subjects } from "../domain/audit/subject";
import { connectClient } from "../db/pgClient";

// Retention (issue 15, Deliver 7): the day partitions of the request log, outcome events and shadow
// records older than RETENTION_DAYS are dropped (DROP TABLE of a day: instant, no vacuum debt),
// and the webhook delivery log of the same age deleted. Rollups (experiment_unit_stats,
// experiment_hourly_stats) and the audit trail stay. The same run creates the coming week's
// partitions, so a server that runs for weeks never writes into the DEFAULT partitions. Runs daily
// from the job queue's crontab (server/jobs/schedules.ts) and now with `npm run db:retention`.

export const RETENTION_ACTOR = systemActor("retention");

export interface RetentionResult {
  retentionDays: number;
  /** The first day kept (UTC, YYYY-MM-DD): partitions of earlier days are dropped. */
  keptFrom: string;
  /** Partitions dropped, e.g. rerank_requests_p20261030. */
  dropped: string[];
  /** Partitions due to be dropped, or created ahead, whose locks a long reader held: the next run does them. */
  deferred: string[];
  /** Partitions created ahead. */
  created: string[];
  webhookDeliveries: number;
  webhookEvents: number;
  /** Minutes of the 5xx tally (rerank_errors) older than keptFrom, deleted. */
  errorMinutes: number;
}

/** The first instant retention keeps as of `now`: the start of the UTC day `retentionDays` before today's (earlier day partitions are dropped). */
export const retainedFrom = (now: Date, retentionDays: number): Date => new Date(utcDay(now).getTime() - retentionDays * 86_400_000);

/** How far after now a logged row may be stamped (ms): a replica whose clock runs ahead. A day: at most one partition more read. */
export const LOG_CLOCK_MARGIN_MS = 86_400_000;

/**
 * The log time a lookup by request id reads in the day-partitioned logs (rerank_requests and
 * shadow_records on ts) when it has no time of its own, as of `now`: `from` retainedFrom(now,
 * retentionDays) (earlier days are dropped by the next run: a request older is no longer kept), `to`
 * LOG_CLOCK_MARGIN_MS after now. Bounded so (`ts >= from AND ts <= to`), PostgreSQL reads the kept
 * days' partitions only, not the week created ahead, nor DEFAULT while day partitions cover the span.
 * @param retentionDays default RETENTION_DAYS.
 */
export function keptLogSpan(now: Date = new Date(), retentionDays: number = env().RETENTION_DAYS): { from: Date; to: Date } {
  return { from: retainedFrom(now, retentionDays), to: new Date(now.getTime() + LOG_CLOCK_MARGIN_MS) };
}

/**
 * Applies retention as of `now` (default: now) keeping `retentionDays` (default RETENTION_DAYS)
 * whole UTC days before today. Writes one audit entry (action retention.drop) when it removed
 * anything, and one log line always. @returns what it did.
 */
export async function runRetention(options: { retentionDays?: number; now?: Date; actor?: Actor; log?: (line: string) => void; retryDelaysMs?: number[] } = {}): Promise<RetentionResult> {
  const retentionDays = options.retentionDays ?? env().RETENTION_DAYS;
  const now = options.now ?? new Date();
  const keptFrom = retainedFrom(now, retentionDays);
  const client = await connectClient({ connectionString: databaseUrl() });
  let created: string[];
  let dropped: string[];
  let deferred: string[];
  try {
    deferred = [];
    created = await ensurePartitions(client, { now, daysBack: 0, lockTimeoutMs: RETENTION_LOCK_TIMEOUT_MS, deferred });
    const notCreated = deferred;
    ({ dropped, deferred } = await dropPartitionsOlderThan(client, retentionDays, now, { retryDelaysMs: options.retryDelaysMs }));
    deferred = [...notCreated, ...deferred];
  } finally {
    await client.end();
  }
  const db = getDb();
  const webhookDeliveries = (await db.webhookDelivery.deleteMany({ where: { createdAt: { lt: keptFrom } } })).count;
  const webhookEvents = (await db.webhookEvent.deleteMany({ where: { createdAt: { lt: keptFrom } } })).count;
  // The per-minute 5xx tally behind the availability SLI (server/telemetry/errorTally.ts) ages out with the logs it completes.
  const errorMinutes = (await db.rerankErrorMinute.deleteMany({ where: { minute: { lt: keptFrom } } })).count;
  const result = { retentionDays, keptFrom: keptFrom.toISOString().slice(0, 10), dropped: dropped.sort(), deferred: deferred.sort(), created, webhookDeliveries, webhookEvents, errorMinutes };
  if (dropped.length > 0 || webhookDeliveries > 0 || webhookEvents > 0 || errorMinutes > 0) {
    await recordAudit(db, {
      action: "retention.drop", actor: options.actor ?? RETENTION_ACTOR, subject: subjects.system("retention", "retention"),
      after: { retentionDays, keptFrom: result.keptFrom, dropped: result.dropped, webhookDeliveries, webhookEvents, errorMinutes },
    });
  }
  (options.log ?? console.log)(
    `[retention] keeping ${retentionDays} days (from ${result.keptFrom}): dropped ${dropped.length} partitions${dropped.length ? ` (${result.dropped.join(", ")})` : ""}, ` +
      (deferred.length ? `deferred ${deferred.length} whose locks a long reader held (${result.deferred.join(", ")}; the next run does them), ` : "") +
      `${webhookDeliveries} webhook deliveries, ${webhookEvents} events and ${errorMinutes} error-tally minutes deleted, ${created.length} partitions created ahead`,
  );
  return result;
}
