import { Prisma } from "../db/generated/client";

// The high-volume logs (rerank_requests on ts, outcome_events on request_ts) are partitioned by day:
// a query with no bound on that column probes every day kept (30 and 7 ahead) for its rows. An
// experiment phase's rows lie within the phase, so its queries carry the phase's time as a bound.

/**
 * How far outside its phase's [started_at, ended_at] a row labelled with the phase may lie: a
 * replica serving from a stale config (during a database outage, spilled and written later) labels
 * requests with the phase it still holds. A day: at most a partition or two more read.
 */
export const PHASE_LOG_MARGIN = "1 day";

/**
 * SQL condition: `column` (a timestamp column of a day-partitioned log, e.g. `r.ts`, `o.request_ts`)
 * within phase `phase` of experiment `key`, PHASE_LOG_MARGIN either side (an open phase: no upper
 * bound; an unknown phase: no bound at all, so nothing is lost). The bounds are subqueries, which
 * PostgreSQL evaluates once and prunes partitions by at run time.
 */
export function withinPhase(column: string, key: string, phase: number): Prisma.Sql {
  const col = Prisma.raw(column);
  const margin = Prisma.raw(`interval '${PHASE_LOG_MARGIN}'`);
  const bound = (edge: "started_at" | "ended_at") =>
    Prisma.sql`(SELECT p.${Prisma.raw(edge)} FROM experiment_phases p JOIN experiments x ON x.id = p.experiment_id WHERE x.key = ${key} AND p.phase = ${phase})`;
  return Prisma.sql`${col} >= coalesce(${bound("started_at")} - ${margin}, '-infinity'::timestamptz) AND ${col} <= coalesce(${bound("ended_at")} + ${margin}, 'infinity'::timestamptz)`;
}
