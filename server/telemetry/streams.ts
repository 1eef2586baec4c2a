import { createHash } from "node:crypto";
import path from "node:path";
import { databaseUrl } from "../db/client";
import { inUtc } from "../db/pgClient";
import { copyBatch, ThreadedPool, type CopyStatement, type Queryable } from "../db/threadedPool";
import { COPY_NULL, copyTextFieldCount, copyTextLine, parseCopyTextLine } from "../domain/copyText";
import { servedListJson } from "../domain/ranking/servedList";
import { BatchWriter, type BatchSink, type BatchWriterOptions } from "./batchWriter";
import { claimOrphanSpills, ownSpillPath } from "./spillOwnership";
import { metrics } from "./metrics";
import { errorForLog } from "../redact";
import type { TelemetrySink } from "./sink";
import { env } from "../config";

// The telemetry streams of the serving path: the rerank request log, outcome events, shadow
// comparisons and sampled scoring rows. Each is a BatchWriter: enqueue is synchronous, batches are written off the response path
// (the request log, shadow comparisons and scoring samples with COPY, and a replayed batch through a
// staging table and INSERT … ON CONFLICT DO NOTHING; outcome events with one multi-row INSERT … ON
// CONFLICT DO NOTHING: replays after an outage are idempotent), and
// rows that cannot be written yet wait in memory, then in a spill file under .data/spill/.

export interface RequestLogRow {
  requestId: string;
  ts: Date;
  surface: string;
  userKey: string | null;
  sessionKey: string | null;
  context: unknown;
  experimentKey: string | null;
  experimentPhase: number | null;
  variantKey: string | null;
  exposed: boolean;
  modelVersionId: string | null;
  fallbackUsed: boolean;
  fallbackReason: string | null;
  candidateCount: number;
  topK: number;
  /** The served items, best first; written compact (server/domain/ranking/servedList.ts servedListJson). */
  served: ReadonlyArray<{ id: string; score: number; position?: number; reasons?: readonly string[] }>;
  timings: unknown;
  latencyMs: number;
  defaultedFeatures: number;
  /** The feature-read deadline passed (response features.timedOut). Absent in rows spilled before the column existed: false. */
  featuresTimedOut?: boolean;
  /** Whose request id this is (server/rerank/recent.ts requestIdOwner; null: shared): see the column's comment in schema.prisma. */
  caller?: string | null;
}

export interface OutcomeEventRow {
  eventId: string;
  requestTs: Date;
  requestId: string;
  ts: Date;
  surface: string;
  type: "impression" | "click" | "add_to_cart" | "purchase";
  itemId: string;
  position: number | null;
  revenue: number | null;
  userKey: string | null;
  experimentKey: string | null;
  experimentPhase: number | null;
  variantKey: string | null;
  /** Whose request id it is (server/rerank/recent.ts requestIdOwner; null: shared): with the request and event ids, what makes the event one. Absent in rows spilled before it existed: shared. */
  caller?: string | null;
}

/** One mirrored request: the served list against a shadow model's list for the same candidates. */
export interface ShadowRow {
  requestId: string;
  ts: Date;
  surface: string;
  primaryVersionId: string | null;
  shadowVersionId: string;
  primaryRanking: Array<{ id: string; score: number }>;
  shadowRanking: Array<{ id: string; score: number }>;
  overlapAt10: number | null;
  rbo: number | null;
  kendallTau: number | null;
  spearmanRho: number | null;
  primaryLatencyMs: number | null;
  shadowLatencyMs: number | null;
  /** The items the two models disagree about most, with the features they saw (null on errors). */
  moves: ShadowMove[] | null;
  error: string | null;
  /** Its request's owner (server/rerank/recent.ts requestIdOwner; null: shared): part of the row's key with its id and ts. Absent in rows spilled before it existed: shared. */
  caller?: string | null;
}

/**
 * A shadow row as it waits in the buffer: serialised at once (serialiseShadowRow, a COPY text line),
 * like the request log's rows, so ~3 KB of rankings and feature maps per mirrored request wait as one
 * string, not as an object graph that survives young-generation collections. A string that starts
 * with "{" is a row serialised as JSON text by an earlier version (a spill file it left), converted
 * when written. Objects are still accepted (tests, old spills).
 */
export type ShadowEntry = ShadowRow | string;

/**
 * The row as a COPY text line (SHADOW_COLUMNS' order, no final newline; server/domain/copyText.ts),
 * its two rankings in the log's compact format (servedListJson: `[[id, score], …]`).
 */
export const serialiseShadowRow = (row: ShadowRow): string => shadowLine(row, servedListJson(row.primaryRanking), servedListJson(row.shadowRanking));

/** One item of a shadow comparison's largest moves: both ranks and scores, and its feature values by name (null: missing). */
export interface ShadowMove {
  id: string;
  primaryRank: number;
  shadowRank: number;
  move: number;
  primaryScore: number;
  shadowScore: number;
  features: Record<string, number | null>;
  /** Features that got the spec's default (missing, stale or not finite). */
  defaulted: string[];
}

/** The full scoring rows of one sampled request (DEBUG_SAMPLE_RATE, or sent from the Debug page). */
export interface ScoringSampleRow {
  requestId: string;
  ts: Date;
  surface: string;
  modelVersionId: string | null;
  reason: "sampled" | "debug";
  /** The scoring model's feature names in its spec's order ([] when no model scored). */
  featureNames: string[];
  /** Served items, best first: values index-aligned with featureNames (null where not finite); defaulted names the features that fell back to the spec's default. */
  rows: Array<{ id: string; position: number; score: number; values: Array<number | null>; defaulted: string[] }>;
  timings: unknown;
  /** Its request's owner (requestIdOwner; null: shared): part of the row's key with the request id and ts. Absent in rows spilled before it existed: shared. */
  caller?: string | null;
}

/**
 * A request log row as it waits in the buffer: serialised at once (serialiseRequestLogRow), so the
 * buffer holds one flat string per request instead of the response's object graph. Rows that wait
 * ~200 ms for their batch survive young-generation collections; strings are cheap for the collector
 * to copy and mark. A string is a COPY text line; one that starts with "{" is a row serialised as JSON
 * text by an earlier version (a spill file it left), converted when written. Objects are still
 * accepted (tests, old spills).
 */
export type RequestLogEntry = RequestLogRow | string;

/**
 * rerank_requests' columns in the order of the request log's COPY lines. ts comes first, so a line
 * starts with a digit, "+", "-" or "\N", never with "{" (which marks a JSON row of an earlier
 * version); the nine first are what the experiment rollups read (parsed back for experiment rows).
 */
const REQUEST_LOG_COLUMNS = `ts, request_id, user_key, session_key, experiment_key, experiment_phase, variant_key, fallback_used, latency_ms,
  surface, context, exposed, model_version_id, fallback_reason, candidate_count, top_k, served, timings, defaulted_features, features_timed_out, caller`;
export const ROLLUP_COLUMNS = "request_id, ts, user_key, session_key, experiment_key, experiment_phase, variant_key, fallback_used, latency_ms";

/** A Date as COPY's timestamptz text (ISO 8601, UTC); an invalid Date is null (as JSON.stringify has it); a string as it is (a row read from JSON). */
const timeText = (ts: unknown): unknown => (ts instanceof Date ? (Number.isNaN(ts.getTime()) ? null : ts.toISOString()) : ts);
/** A json column's text; null/undefined: `fallback` (the column's default, as coalesce(…) gave it in SQL). */
const jsonText = (value: unknown, fallback: string | null): string | null => (value === undefined || value === null ? fallback : JSON.stringify(value) ?? fallback);

/** One request log row as a COPY text line (REQUEST_LOG_COLUMNS), its served list already JSON text. */
function requestLogLine(row: { [K in keyof RequestLogRow]?: unknown }, served: string | null): string {
  return copyTextLine([
    timeText(row.ts), row.requestId, row.userKey, row.sessionKey, row.experimentKey, row.experimentPhase, row.variantKey, row.fallbackUsed, row.latencyMs,
    row.surface, jsonText(row.context, "{}"), row.exposed, row.modelVersionId, row.fallbackReason, row.candidateCount, row.topK, served,
    jsonText(row.timings, "{}"), row.defaultedFeatures, row.featuresTimedOut ?? false, row.caller,
  ]);
}

/**
 * The row as a line of COPY's text format (server/domain/copyText.ts; columns in REQUEST_LOG_COLUMNS'
 * order, no final newline), its served list in the log's compact format (servedListJson: `[[id,
 * score], [id, score, reasons], …]`), which costs PostgreSQL less than half as much per row to take
 * in as the response's item objects (npm run bench:request-log). A missing context or timings is
 * written as "{}", a missing featuresTimedOut as false (the columns' defaults).
 */
export function serialiseRequestLogRow(row: RequestLogRow): string {
  return requestLogLine(row, servedListJson(row.served));
}

/**
 * A buffered entry as a COPY line: lines as they are; a JSON row of an earlier version (its served
 * list written as it was) and an object converted. Unreadable JSON is a refused row (SQLSTATE 22P02,
 * as PostgreSQL said of it when batches were JSON documents): the writer drops it alone.
 */
function requestLogLineOf(entry: RequestLogEntry): string {
  if (typeof entry !== "string") return serialiseRequestLogRow(entry);
  if (!entry.startsWith("{")) return entry;
  const row = parseJsonRow(entry);
  return requestLogLine(row, jsonText(row.served, null));
}

/** A row serialised as JSON text (spilled by an earlier version); throws a data exception (22P02) when it is not a JSON object. */
function parseJsonRow(text: string): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch {
    row = undefined;
  }
  if (typeof row !== "object" || row === null || Array.isArray(row)) {
    throw Object.assign(new Error(`a spilled row is not a JSON object (${text.length} character${text.length === 1 ? "" : "s"})`), { code: "22P02" });
  }
  return row as Record<string, unknown>;
}

/**
 * The experiment rollups of the request rows in the relation `inserted` (ROLLUP_COLUMNS): one
 * statement that counts each row once per unit (experiment_unit_stats) and per hour
 * (experiment_hourly_stats). Only rows actually inserted may be counted: the relation is either the
 * RETURNING of an INSERT … ON CONFLICT DO NOTHING, or the rows of a COPY that inserted them all.
 */
export const requestLogRollupsSql = (inserted: string) => `WITH ins AS (${inserted}),
  -- The unit is the experiment's randomisation unit (its hash attribute), not whichever key is set.
  exp AS (SELECT e.id, CASE e.hash_attribute WHEN 'sessionKey' THEN i.session_key ELSE i.user_key END AS unit_key, i.*
          FROM ins i JOIN experiments e ON e.key = i.experiment_key WHERE i.experiment_phase IS NOT NULL),
  units AS (
    INSERT INTO experiment_unit_stats (experiment_id, phase, variant_key, unit_key, requests, multiple_exposure, first_seen_at, last_seen_at)
    SELECT id, experiment_phase, min(variant_key), unit_key, count(*), count(DISTINCT variant_key) > 1, min(ts), max(ts) FROM exp WHERE unit_key IS NOT NULL
    GROUP BY id, experiment_phase, unit_key
    ON CONFLICT (experiment_id, phase, unit_key) DO UPDATE SET requests = experiment_unit_stats.requests + EXCLUDED.requests,
      multiple_exposure = experiment_unit_stats.multiple_exposure OR EXCLUDED.multiple_exposure OR experiment_unit_stats.variant_key <> EXCLUDED.variant_key,
      first_seen_at = least(experiment_unit_stats.first_seen_at, EXCLUDED.first_seen_at),
      last_seen_at = greatest(experiment_unit_stats.last_seen_at, EXCLUDED.last_seen_at)
    RETURNING 1)
  INSERT INTO experiment_hourly_stats (experiment_id, phase, variant_key, hour, requests, fallbacks, latency_ms_sum)
  SELECT id, experiment_phase, variant_key, date_trunc('hour', ts), count(*), count(*) FILTER (WHERE fallback_used), sum(latency_ms)
  FROM exp GROUP BY id, experiment_phase, variant_key, date_trunc('hour', ts)
  ON CONFLICT (experiment_id, phase, variant_key, hour) DO UPDATE SET requests = experiment_hourly_stats.requests + EXCLUDED.requests,
    fallbacks = experiment_hourly_stats.fallbacks + EXCLUDED.fallbacks, latency_ms_sum = experiment_hourly_stats.latency_ms_sum + EXCLUDED.latency_ms_sum`;

/** The rollups of rows a direct COPY inserted, from their rollup columns as arrays ($1…$9, ROLLUP_COLUMNS' order). */
const ROLLUPS_OF_COPIED_ROWS = requestLogRollupsSql(`SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int[],
  $7::text[], $8::bool[], $9::float8[]) AS x(${ROLLUP_COLUMNS})`);

/** The replay path: the staged batch inserted without the rows already held, and the rollups of those inserted. */
const MERGE_STAGED_REQUESTS = requestLogRollupsSql(`INSERT INTO rerank_requests (${REQUEST_LOG_COLUMNS})
  SELECT ${REQUEST_LOG_COLUMNS} FROM rerank_requests_staging ON CONFLICT DO NOTHING RETURNING ${ROLLUP_COLUMNS}`);

/**
 * Writes COPY text lines into `table` (columns: `columns`) idempotently, in one transaction: a COPY
 * straight into the table (about half of PostgreSQL's CPU per row of json_to_recordset: npm run
 * bench:request-log), then `after`. A batch that meets rows the table holds already (a replay after an
 * outage or from a spill file: unique violation, 23505) is rolled back and written again through a
 * temporary staging table, `<table>_staging`, and `merge` (an INSERT … SELECT from it … ON CONFLICT
 * DO NOTHING, with whatever must count only the rows inserted). Rejects with PostgreSQL's error
 * (SQLSTATE in `code`; class 22: a refused row, which the writer isolates by halves).
 */
async function copyIdempotently(pool: Queryable, table: string, columns: string, lines: readonly string[], merge: string, after: CopyStatement[] = []): Promise<void> {
  // No rows: nothing to send (COPY would read the lone newline as a row with no fields).
  if (lines.length === 0) return;
  await copyBatch(pool, {
    data: `${lines.join("\n")}\n`,
    copy: `COPY ${table} (${columns}) FROM STDIN`,
    after,
    fallback: {
      // INCLUDING GENERATED: the staged rows compute rerank_requests.owner (part of the key) as the table does.
      before: [{ text: `CREATE TEMP TABLE ${table}_staging (LIKE ${table} INCLUDING GENERATED) ON COMMIT DROP` }],
      copy: `COPY ${table}_staging (${columns}) FROM STDIN`,
      after: [{ text: merge }],
    },
  });
}

/** Whether a request log line's experiment_phase (its sixth field) is set, found without parsing the line. */
function hasExperimentPhase(line: string): boolean {
  let at = -1;
  for (let field = 0; field < 5; field++) {
    at = line.indexOf("\t", at + 1);
    if (at < 0) return false;
  }
  return !line.startsWith(`${COPY_NULL}\t`, at + 1);
}

export function requestLogSink(pool: Queryable): BatchSink<RequestLogEntry> {
  return {
    async write(entries) {
      // The batch travels as COPY text (rows are COPY lines already: serialiseRequestLogRow, so a batch
      // is only joined); the served list, context and timings go into their json columns as the text
      // they are. In the direct path every row is inserted, so the rollups read the experiment rows'
      // own fields, sent as arrays beside the COPY; the replay path counts the rows its INSERT returns.
      const lines = entries.map(requestLogLineOf);
      const columns: Array<Array<string | null>> = Array.from({ length: 9 }, () => []);
      for (const line of lines) {
        if (!hasExperimentPhase(line)) continue;
        const fields = parseCopyTextLine(line, 9);
        // ROLLUP_COLUMNS' order: request_id, ts, then the rest as in the line.
        columns[0]!.push(fields[1] ?? null);
        columns[1]!.push(fields[0] ?? null);
        for (let c = 2; c < 9; c++) columns[c]!.push(fields[c] ?? null);
      }
      const after = columns[0]!.length > 0 ? [{ name: "telemetry_request_log_rollups", text: ROLLUPS_OF_COPIED_ROWS, values: columns }] : [];
      await copyIdempotently(pool, "rerank_requests", REQUEST_LOG_COLUMNS, lines, MERGE_STAGED_REQUESTS, after);
    },
  };
}

/** shadow_records' columns in the order of the shadow log's COPY lines (ts first, as the request log's). */
// owner last: a COPY line of an earlier version (a spill file it left) lacks it, and is given '' (shared) by shadowLineOf.
const SHADOW_COLUMNS = `ts, id, request_id, surface, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking,
  overlap_at_10, rbo, kendall_tau, spearman_rho, primary_latency_ms, shadow_latency_ms, moves, error, owner`;
/** Fields of a shadow COPY line written before rows carried their request's owner (migration 20261211000000). */
const SHADOW_FIELDS_BEFORE_OWNER = 16;

/** One shadow row as a COPY line (SHADOW_COLUMNS), its rankings already JSON text. The id is the request and the shadow version. */
function shadowLine(row: { [K in keyof ShadowRow]?: unknown }, primaryRanking: string | null, shadowRanking: string | null): string {
  const id = row.requestId === undefined || row.requestId === null || row.shadowVersionId === undefined || row.shadowVersionId === null ? null : `${String(row.requestId)}:${String(row.shadowVersionId)}`;
  return copyTextLine([
    timeText(row.ts), id, row.requestId, row.surface, row.primaryVersionId, row.shadowVersionId, primaryRanking, shadowRanking,
    row.overlapAt10, row.rbo, row.kendallTau, row.spearmanRho, row.primaryLatencyMs, row.shadowLatencyMs, jsonText(row.moves, null), row.error,
    row.caller ?? "",
  ]);
}

/** A buffered shadow entry as a COPY line: lines as they are; JSON rows of an earlier version and objects converted. */
function shadowLineOf(entry: ShadowEntry): string {
  if (typeof entry !== "string") return serialiseShadowRow(entry);
  // A line of an earlier version: its request's owner unknown, so shared (as the migration left older rows it could not place).
  if (!entry.startsWith("{")) return copyTextFieldCount(entry) === SHADOW_FIELDS_BEFORE_OWNER ? `${entry}\t` : entry;
  const row = parseJsonRow(entry);
  return shadowLine(row, jsonText(row.primaryRanking, null), jsonText(row.shadowRanking, null));
}

const MERGE_STAGED_SHADOW = `INSERT INTO shadow_records (${SHADOW_COLUMNS}) SELECT ${SHADOW_COLUMNS} FROM shadow_records_staging ON CONFLICT DO NOTHING`;

export function shadowSink(pool: Queryable): BatchSink<ShadowEntry> {
  return {
    async write(entries) {
      // The id is the request and the shadow version, so a batch replayed after an outage adds nothing twice
      // (the replay goes through the staging table). COPY text, as the request log (requestLogSink).
      await copyIdempotently(pool, "shadow_records", SHADOW_COLUMNS, entries.map(shadowLineOf), MERGE_STAGED_SHADOW);
    },
  };
}

const SCORING_SAMPLE_COLUMNS = "ts, request_id, surface, model_version_id, reason, feature_names, rows, timings, owner";
const MERGE_STAGED_SCORING_SAMPLES = `INSERT INTO scoring_samples (${SCORING_SAMPLE_COLUMNS}) SELECT ${SCORING_SAMPLE_COLUMNS} FROM scoring_samples_staging ON CONFLICT DO NOTHING`;

export function scoringSampleSink(pool: Queryable): BatchSink<ScoringSampleRow> {
  return {
    async write(rows) {
      // Keyed by request id and ts like the request log, so a replayed batch adds nothing twice. COPY
      // text, as the request log: the Debug page reads a sample whole, so its feature rows go into
      // json columns as the text they are. Rows wait as objects (few: sampled), converted here.
      const lines = rows.map((r) =>
        copyTextLine([timeText(r.ts), r.requestId, r.surface, r.modelVersionId, r.reason, jsonText(r.featureNames, "[]"), jsonText(r.rows, null), jsonText(r.timings, "{}"), r.caller ?? ""]),
      );
      await copyIdempotently(pool, "scoring_samples", SCORING_SAMPLE_COLUMNS, lines, MERGE_STAGED_SCORING_SAMPLES);
    },
  };
}

export function outcomeEventSink(pool: Queryable): BatchSink<OutcomeEventRow> {
  return {
    async write(rows) {
      const col = <K extends keyof OutcomeEventRow>(k: K) => rows.map((r) => r[k] ?? null);
      // An event is one per (owner, request id, event id), whatever copy of its request (a retried
      // rerank served and logged again by another worker or replica, with its own ts) it refers to:
      // it claims two rows of outcome_event_keys, under its request copy's UTC day and the next, in
      // one order (two batches never wait for each other in a cycle). Any two copies served less
      // than a day apart share a day, so the later event meets the earlier one's row, committed or
      // still being written (the unique index makes it wait), and is not kept. Only events that
      // claimed both rows and are inserted (not replays: the table's own key) update the experiment
      // rollups, in the same statement, which answers the inserted events: the others were held
      // already (a retry through another worker or process, a replay), and are told apart as
      // duplicates (events/service.ts). Within a batch the first of a key is the one kept.
      const { rows: inserted } = await pool.query<{ event_id: string; request_ts: Date; request_id: string; owner: string }>({
        // Named: prepared once per connection, so PostgreSQL plans it once, not on every batch.
        name: "telemetry_outcome_events_v6",
        text: `WITH x AS (
           SELECT DISTINCT ON (coalesce(n, ''), c, a) a, b, c, d, e, f, g, h, i, j, k, l, m, coalesce(n, '') AS owner
           FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::int[],
             $9::float8[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[]) WITH ORDINALITY AS x(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o)
           ORDER BY coalesce(n, ''), c, a, o),
         claimed AS (INSERT INTO outcome_event_keys (day, caller, request_id, event_id)
           SELECT date_trunc('day', b, 'UTC') + s * interval '1 day' AS day, owner, c, a FROM x, (VALUES (0), (1)) AS days(s)
           ORDER BY day, owner, c, a
           ON CONFLICT DO NOTHING
           RETURNING caller, request_id, event_id),
         fresh AS (SELECT caller, request_id, event_id FROM claimed GROUP BY caller, request_id, event_id HAVING count(*) = 2),
         ins AS (INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, position, revenue, user_key,
           experiment_key, experiment_phase, variant_key, owner)
         SELECT a, b, c, d, e, f::"OutcomeType", g, h, i, j, k, m, l, x.owner
         FROM x JOIN fresh ON fresh.caller = x.owner AND fresh.request_id = x.c AND fresh.event_id = x.a
         ON CONFLICT DO NOTHING
         RETURNING event_id, request_ts, request_id, owner, user_key AS unit_key, experiment_key, experiment_phase, variant_key, type, revenue),
         -- An event's user_key is its request's randomisation unit (events/service.ts resolves it).
         exp AS (SELECT e.id, i.* FROM ins i JOIN experiments e ON e.key = i.experiment_key WHERE i.experiment_phase IS NOT NULL),
         units AS (
           INSERT INTO experiment_unit_stats (experiment_id, phase, variant_key, unit_key, impressions, clicks, add_to_carts, purchases, revenue, multiple_exposure, first_seen_at, last_seen_at)
           SELECT id, experiment_phase, min(variant_key), unit_key, count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'click'),
             count(*) FILTER (WHERE type = 'add_to_cart'), count(*) FILTER (WHERE type = 'purchase'), coalesce(sum(revenue), 0), count(DISTINCT variant_key) > 1,
             min(request_ts), max(request_ts)
           FROM exp WHERE unit_key IS NOT NULL GROUP BY id, experiment_phase, unit_key
           ON CONFLICT (experiment_id, phase, unit_key) DO UPDATE SET impressions = experiment_unit_stats.impressions + EXCLUDED.impressions,
             multiple_exposure = experiment_unit_stats.multiple_exposure OR EXCLUDED.multiple_exposure OR experiment_unit_stats.variant_key <> EXCLUDED.variant_key,
             clicks = experiment_unit_stats.clicks + EXCLUDED.clicks, add_to_carts = experiment_unit_stats.add_to_carts + EXCLUDED.add_to_carts,
             purchases = experiment_unit_stats.purchases + EXCLUDED.purchases, revenue = experiment_unit_stats.revenue + EXCLUDED.revenue
           RETURNING 1),
         hourly AS (
         INSERT INTO experiment_hourly_stats (experiment_id, phase, variant_key, hour, impressions, clicks, purchases, revenue)
         SELECT id, experiment_phase, variant_key, date_trunc('hour', request_ts), count(*) FILTER (WHERE type = 'impression'),
           count(*) FILTER (WHERE type = 'click'), count(*) FILTER (WHERE type = 'purchase'), coalesce(sum(revenue), 0)
         FROM exp GROUP BY id, experiment_phase, variant_key, date_trunc('hour', request_ts)
         ON CONFLICT (experiment_id, phase, variant_key, hour) DO UPDATE SET impressions = experiment_hourly_stats.impressions + EXCLUDED.impressions,
           clicks = experiment_hourly_stats.clicks + EXCLUDED.clicks, purchases = experiment_hourly_stats.purchases + EXCLUDED.purchases,
           revenue = experiment_hourly_stats.revenue + EXCLUDED.revenue
         RETURNING 1)
         SELECT event_id, request_ts, request_id, owner FROM ins`,
        values: [
          col("eventId"), col("requestTs"), col("requestId"), col("ts"), col("surface"), col("type"), col("itemId"), col("position"),
          col("revenue"), col("userKey"), col("experimentKey"), col("variantKey"), col("experimentPhase"), col("caller"),
        ],
      });
      // Matched by request id and owner too (outcome_events' key is (event_id, request_ts, owner)): of
      // two callers' events with one event id on requests served in the same millisecond, each is
      // answered by its own row, and a replay of one is answered held, never accepted with the other.
      const key = (eventId: string, requestTs: Date, requestId: string, owner: string) => `${eventId}\u0000${new Date(requestTs).getTime()}\u0000${requestId}\u0000${owner}`;
      const fresh = new Set(inserted.map((r) => key(r.event_id, r.request_ts, r.request_id, r.owner)));
      const held = new Set<number>();
      rows.forEach((row, i) => {
        if (!fresh.has(key(row.eventId, row.requestTs, row.requestId, row.caller ?? ""))) held.add(i);
      });
      return held;
    },
  };
}

/** PostgreSQL data exceptions (SQLSTATE class 22: a value the column cannot hold): no retry helps. */
export const isDataException = (error: unknown) => /^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown }).code ?? ""));

/** The PostgreSQL telemetry sink: the three streams' tables and the experiment rollups, over one pool (closed by close()). */
export function postgresTelemetrySink(pool: Queryable): TelemetrySink {
  return {
    name: "postgresql",
    requests: requestLogSink(pool),
    events: outcomeEventSink(pool),
    shadow: shadowSink(pool),
    scoringSamples: scoringSampleSink(pool),
    isRowError: isDataException,
    close: () => pool.end().catch(() => {}),
  };
}

const reviveDates = <T>(keys: Array<keyof T>) => (row: unknown): T => {
  const r = row as Record<string, unknown>;
  for (const k of keys) r[k as string] = new Date(r[k as string] as string);
  return r as T;
};

/** A spilled shadow row: serialised rows come back as the same string, objects with their Date. */
export const reviveShadowEntry = (raw: unknown): ShadowEntry => (typeof raw === "string" ? raw : reviveDates<ShadowRow>(["ts"])(raw));

/** A spilled request log row: serialised rows come back as the same string, objects with their Date. */
export const reviveRequestLogEntry = (raw: unknown): RequestLogEntry => (typeof raw === "string" ? raw : reviveDates<RequestLogRow>(["ts"])(raw));

interface Streams {
  url: string;
  pool: Queryable;
  sink: TelemetrySink;
  requests: BatchWriter<RequestLogEntry>;
  events: BatchWriter<OutcomeEventRow>;
  shadow: BatchWriter<ShadowEntry>;
  scoringSamples: BatchWriter<ScoringSampleRow>;
  /** Writers replaying spill files of dead processes (claimed at start), until each is empty. */
  replays: Array<{ stream: StreamName; writer: BatchWriter<unknown> }>;
  enabled: boolean;
  /** Set by closeTelemetry: the writers flushed and closed; late rows go to the spill files. */
  closed: boolean;
}

type StreamName = "requests" | "events" | "shadow" | "scoring_samples";

const holder = globalThis as unknown as { __rerankTelemetry?: Streams };

/** How often a replay of a dead process's spill file is tried again while the database is down. */
const REPLAY_RETRY_MS = 2000;

/**
 * The process's telemetry streams, created on first use for the current DATABASE_URL. Each stream
 * spills to a file of its own process (`<database>.<table>.h<host>.b<boot id>.p<pid>.s<start>.jsonl`;
 * `<database>.<table>.copy.h…` for the streams whose rows wait as COPY lines: request log, shadow);
 * spill files of processes that are gone are claimed and replayed (server/telemetry/spillOwnership.ts).
 */
export function telemetry(): Streams {
  const url = databaseUrl();
  if (holder.__rerankTelemetry?.url === url) return holder.__rerankTelemetry;
  const spillDir = env().TELEMETRY_SPILL_DIR;
  // One spill file per database (host, port and name), so rows never replay into another database.
  const dbName = `${new URL(url).pathname.slice(1) || "db"}-${createHash("sha256").update(url).digest("hex").slice(0, 10)}`;
  // A write that hangs (PostgreSQL stopped, not refusing) fails after 5 s, so its rows move to the
  // spill file instead of waiting in memory for as long as the stall lasts.
  // The pool runs in a thread of its own (ThreadedPool): encoding a batch, the socket writes and
  // parsing the answers stay off the event loop that serves requests. Connections the server drops
  // are dropped from the pool; the next write reconnects.
  const pool = new ThreadedPool(inUtc({ connectionString: url, max: 2, connectionTimeoutMillis: 2000, query_timeout: 5000 }));
  const sink = postgresTelemetrySink(pool);
  const replays: Streams["replays"] = [];
  const maxBufferedBytes = env().TELEMETRY_BUFFER_MAX_BYTES;
  // `spillFormat` "copy": the stream's rows wait (and spill) as COPY text lines, and its spill files
  // are named `<database>.<table>.copy.…` so that an earlier build (rolled back to), which reads
  // every line of `<database>.<table>.…` as a JSON row, leaves them alone instead of refusing and
  // dropping each line; this build claims both names (its revive reads JSON rows and COPY lines).
  const open = <T>(stream: StreamName, name: string, sink: BatchSink<T>, streamOptions: Omit<BatchWriterOptions<T>, "name" | "spillPath">, spillFormat: "json" | "copy" = "json"): BatchWriter<T> => {
    const options = { maxBufferedBytes, flushIntervalMs: env().TELEMETRY_FLUSH_INTERVAL_MS, ...streamOptions };
    const prefix = `${dbName}.${name}`;
    const ownPrefix = spillFormat === "copy" ? `${prefix}.copy` : prefix;
    for (const file of [...new Set([prefix, ownPrefix])].flatMap((p) => claimOrphanSpills(spillDir, p))) {
      const writer = new BatchWriter(sink, { ...options, name: `${name} (replaying ${path.basename(file)})`, spillPath: file });
      replays.push({ stream, writer: writer as BatchWriter<unknown> });
    }
    const writer = new BatchWriter(sink, { ...options, name, spillPath: ownSpillPath(spillDir, ownPrefix) });
    writer.start();
    return writer;
  };
  const requests = open("requests", "rerank_requests", sink.requests, { revive: reviveRequestLogEntry, isRowError: sink.isRowError }, "copy");
  const events = open("events", "outcome_events", sink.events, { revive: reviveDates<OutcomeEventRow>(["requestTs", "ts"]), isRowError: sink.isRowError });
  const shadow = open("shadow", "shadow_records", sink.shadow, { revive: reviveShadowEntry, maxBuffered: 10_000, isRowError: sink.isRowError }, "copy");
  // A sample row holds up to SAMPLE_MAX_ITEMS feature vectors: fewer fit the memory bound.
  const scoringSamples = open("scoring_samples", "scoring_samples", sink.scoringSamples, { revive: reviveDates<ScoringSampleRow>(["ts"]), maxBuffered: 5_000, maxBatch: 200, isRowError: sink.isRowError });
  const streams: Streams = { url, pool, sink, requests, events, shadow, scoringSamples, replays, enabled: !env().TELEMETRY_DISABLED, closed: false };
  holder.__rerankTelemetry = streams;
  if (replays.length > 0) retireReplaysWhenDrained(streams);
  return streams;
}

/** Writes each claimed file (retrying while the database is down), then closes its writer. */
function retireReplaysWhenDrained(streams: Streams): void {
  for (const replay of streams.replays) {
    void (async () => {
      // flush() waits for the file to be read, writes it all and removes it; it rejects while the database is down.
      while (!streams.closed && !(await replay.writer.flush().then(() => true, () => false))) {
        await new Promise((resolve) => setTimeout(resolve, REPLAY_RETRY_MS).unref());
      }
      if (streams.closed) return; // closeTelemetry closes it
      streams.replays.splice(streams.replays.indexOf(replay), 1);
      await replay.writer.close();
    })().catch((error: unknown) => {
      // Nothing awaits it: a failed close is logged, never an unhandled rejection (Node 20 ends the process).
      console.error(`[telemetry] closing the replay of ${replay.stream} failed: ${errorForLog(error)}`);
    });
  }
}

/**
 * When the oldest request log row this process was handed and PostgreSQL does not hold yet was
 * enqueued (epoch ms; 0: rows of a dead process's spill file being replayed), or null when every
 * row is written: buffered, being written, or waiting in a spill file (BatchWriter.oldestPendingAt).
 */
export function requestLogPendingSince(): number | null {
  const streams = holder.__rerankTelemetry;
  if (!streams) return null;
  let oldest: number | null = streams.requests.oldestPendingAt();
  for (const replay of streams.replays) {
    if (replay.stream !== "requests") continue;
    const since = replay.writer.oldestPendingAt();
    if (since !== null) oldest = oldest === null ? since : Math.min(oldest, since);
  }
  return oldest;
}

/** Copies writer stats into the Prometheus gauges (called when /api/metrics is scraped). */
export function publishTelemetryStats(): void {
  const streams = holder.__rerankTelemetry;
  if (!streams) return;
  for (const [stream, writer] of [["requests", streams.requests], ["events", streams.events], ["shadow", streams.shadow], ["scoring_samples", streams.scoringSamples]] as const) {
    const s = writer.stats();
    // Rows still being replayed from a dead process's spill file count as this stream's spill.
    for (const replay of streams.replays.filter((r) => r.stream === stream)) {
      const r = replay.writer.stats();
      s.spilledRows += r.spilledRows;
      s.bufferedBytes += r.bufferedBytes;
      s.overflowed += r.overflowed;
      s.spillBytes += r.spillBytes;
      s.written += r.written;
      s.dropped += r.dropped;
      s.failures += r.failures;
    }
    metrics.telemetryBuffered.set({ stream }, s.buffered);
    metrics.telemetryBufferedBytes.set({ stream }, s.bufferedBytes);
    metrics.telemetryOverflowRows.set({ stream }, s.overflowed);
    metrics.telemetrySpilledRows.set({ stream }, s.spilledRows);
    metrics.telemetrySpillBytes.set({ stream }, s.spillBytes);
    metrics.telemetryWritten.set({ stream }, s.written);
    metrics.telemetryDropped.set({ stream }, s.dropped);
    metrics.telemetryFailures.set({ stream }, s.failures);
  }
}

/**
 * Flushes every stream and closes it (what cannot be written is spilled), then ends the pool. The
 * closed streams stay this process's streams: a row that still arrives goes to the spill file
 * instead of a fresh writer that nothing would flush.
 */
export async function closeTelemetry(): Promise<void> {
  const streams = holder.__rerankTelemetry;
  if (!streams || streams.closed) return;
  streams.closed = true;
  await Promise.all([streams.requests.close(), streams.events.close(), streams.shadow.close(), streams.scoringSamples.close(), ...streams.replays.map((r) => r.writer.close())]);
  await streams.sink.close();
}
