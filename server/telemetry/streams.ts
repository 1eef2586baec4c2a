import { createHash } from "node:crypto";
import path from "node:path";
import { databaseUrl } from "../db/client";
import { ThreadedPool, type Queryable } from "../db/threadedPool";
import { servedListJson } from "../domain/ranking/servedList";
import { BatchWriter, type BatchSink, type BatchWriterOptions } from "./batchWriter";
import { claimOrphanSpills, ownSpillPath } from "./spillOwnership";
import { metrics } from "./metrics";
import type { TelemetrySink } from "./sink";
import { env } from "../config";

// The telemetry streams of the serving path: the rerank request log, outcome events, shadow
// comparisons and sampled scoring rows. Each is a BatchWriter: enqueue is synchronous, batches are written off the response path with
// one multi-row INSERT … ON CONFLICT DO NOTHING (so replays after an outage are idempotent), and
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
}

/**
 * A shadow row as it waits in the buffer: serialised at once (serialiseShadowRow), like the request
 * log's rows, so ~3 KB of rankings and feature maps per mirrored request wait as one string, not as an
 * object graph that survives young-generation collections. Objects are still accepted (tests, old
 * spills): their rankings are stored as objects, which every reader also reads (readServedList).
 */
export type ShadowEntry = ShadowRow | string;

/** The row as JSON text, its two rankings in the log's compact format (servedListJson: `[[id, score], …]`). */
export const serialiseShadowRow = (row: ShadowRow): string =>
  // The two keys set to undefined are left out by JSON.stringify; the row has other keys, so the text ends in "…}".
  `${JSON.stringify({ ...row, primaryRanking: undefined, shadowRanking: undefined }).slice(0, -1)},"primaryRanking":${servedListJson(row.primaryRanking)},"shadowRanking":${servedListJson(row.shadowRanking)}}`;

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
}

/**
 * A request log row as it waits in the buffer: serialised at once, so the buffer holds one flat
 * string per request instead of the response's object graph. Rows that wait ~200 ms for their batch
 * survive young-generation collections; strings are cheap for the collector to copy and mark.
 */
export type RequestLogEntry = RequestLogRow | string;

/**
 * The row as JSON text, its served list in the log's compact format (servedListJson: `[[id, score],
 * [id, score, reasons], …]`), which costs PostgreSQL less than half as much per row to take in as
 * the response's item objects (npm run bench:request-log).
 */
export function serialiseRequestLogRow(row: RequestLogRow): string {
  // `served: undefined` is left out by JSON.stringify; the row has other keys, so the text ends in "…}".
  return `${JSON.stringify({ ...row, served: undefined }).slice(0, -1)},"served":${servedListJson(row.served)}}`;
}

export function requestLogSink(pool: Queryable): BatchSink<RequestLogEntry> {
  return {
    async write(rows) {
      // The whole batch travels as one JSON document, read with json_to_recordset (json, not jsonb):
      // PostgreSQL only scans the text, and the served list, context and timings go into their json
      // columns as the text they are, instead of being built into a jsonb tree per row (which cost
      // about half of PostgreSQL's CPU per row: npm run bench:request-log). Rows are already JSON text
      // (serialiseRequestLogRow), so a batch is only joined.
      await pool.query({
        // Named: prepared once per connection, so PostgreSQL plans it once, not on every batch.
        name: "telemetry_request_log",
        text: `WITH ins AS (INSERT INTO rerank_requests (request_id, ts, surface, user_key, session_key, context, experiment_key, experiment_phase,
           variant_key, exposed, model_version_id, fallback_used, fallback_reason, candidate_count, top_k, served, timings,
           latency_ms, defaulted_features, features_timed_out, caller)
         SELECT "requestId", ts, surface, "userKey", "sessionKey", coalesce(context, '{}'), "experimentKey", "experimentPhase",
           "variantKey", exposed, "modelVersionId", "fallbackUsed", "fallbackReason", "candidateCount", "topK", served, coalesce(timings, '{}'),
           "latencyMs", "defaultedFeatures", coalesce("featuresTimedOut", false), caller
         FROM json_to_recordset($1::json) AS x("requestId" text, ts timestamptz, surface text, "userKey" text, "sessionKey" text, context json,
           "experimentKey" text, "experimentPhase" int, "variantKey" text, exposed bool, "modelVersionId" text, "fallbackUsed" bool,
           "fallbackReason" text, "candidateCount" int, "topK" int, served json, timings json, "latencyMs" float8, "defaultedFeatures" int,
           "featuresTimedOut" bool, caller text)
         ON CONFLICT DO NOTHING
         RETURNING request_id, ts, user_key, session_key, experiment_key, experiment_phase, variant_key, fallback_used, latency_ms),
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
           fallbacks = experiment_hourly_stats.fallbacks + EXCLUDED.fallbacks, latency_ms_sum = experiment_hourly_stats.latency_ms_sum + EXCLUDED.latency_ms_sum`,
        values: [`[${rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join(",")}]`],
      });
    },
  };
}

export function shadowSink(pool: Queryable): BatchSink<ShadowEntry> {
  return {
    async write(rows) {
      // The id is the request and the shadow version, so a batch replayed after an outage adds nothing twice.
      // Read with json_to_recordset into json columns, as the request log is (requestLogSink): the
      // rankings and moves go in as the text they are, not built into jsonb trees.
      await pool.query({
        // Named: prepared once per connection, so PostgreSQL plans it once, not on every batch.
        name: "telemetry_shadow_v2",
        text: `INSERT INTO shadow_records (id, ts, request_id, surface, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking,
           overlap_at_10, rbo, kendall_tau, spearman_rho, primary_latency_ms, shadow_latency_ms, moves, error)
         SELECT "requestId" || ':' || "shadowVersionId", ts, "requestId", surface, "primaryVersionId", "shadowVersionId", "primaryRanking",
           "shadowRanking", "overlapAt10", rbo, "kendallTau", "spearmanRho", "primaryLatencyMs", "shadowLatencyMs", moves, error
         FROM json_to_recordset($1::json) AS x("requestId" text, ts timestamptz, surface text, "primaryVersionId" text, "shadowVersionId" text,
           "primaryRanking" json, "shadowRanking" json, "overlapAt10" float8, rbo float8, "kendallTau" float8, "spearmanRho" float8,
           "primaryLatencyMs" float8, "shadowLatencyMs" float8, moves json, error text)
         ON CONFLICT DO NOTHING`,
        values: [`[${rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join(",")}]`],
      });
    },
  };
}

export function scoringSampleSink(pool: Queryable): BatchSink<ScoringSampleRow> {
  return {
    async write(rows) {
      // Keyed by request id and ts like the request log, so a replayed batch adds nothing twice. Read
      // with json_to_recordset into json columns, as the request log is: the Debug page reads a sample
      // whole, so its feature rows go in as the text they are, not built into jsonb trees.
      await pool.query({
        // Named: prepared once per connection, so PostgreSQL plans it once, not on every batch.
        name: "telemetry_scoring_sample_v2",
        text: `INSERT INTO scoring_samples (request_id, ts, surface, model_version_id, reason, feature_names, rows, timings)
         SELECT "requestId", ts, surface, "modelVersionId", reason, coalesce("featureNames", '[]'), rows, coalesce(timings, '{}')
         FROM json_to_recordset($1::json) AS x("requestId" text, ts timestamptz, surface text, "modelVersionId" text, reason text,
           "featureNames" json, rows json, timings json)
         ON CONFLICT DO NOTHING`,
        values: [JSON.stringify(rows)],
      });
    },
  };
}

export function outcomeEventSink(pool: Queryable): BatchSink<OutcomeEventRow> {
  return {
    async write(rows) {
      const col = <K extends keyof OutcomeEventRow>(k: K) => rows.map((r) => r[k]);
      // Only events actually inserted (not replays) update the experiment rollups, in the same statement,
      // which answers the inserted events: the others were held already (a retry through another
      // worker or process, a replay), and are told apart as duplicates (events/service.ts).
      const { rows: inserted } = await pool.query<{ event_id: string; request_ts: Date }>({
        // Named: prepared once per connection, so PostgreSQL plans it once, not on every batch.
        name: "telemetry_outcome_events_v2",
        text: `WITH ins AS (INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, position, revenue, user_key,
           experiment_key, experiment_phase, variant_key)
         SELECT a, b, c, d, e, f::"OutcomeType", g, h, i, j, k, m, l
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::int[],
           $9::float8[], $10::text[], $11::text[], $12::text[], $13::int[]) AS x(a, b, c, d, e, f, g, h, i, j, k, l, m)
         ON CONFLICT DO NOTHING
         RETURNING event_id, request_ts, user_key AS unit_key, experiment_key, experiment_phase, variant_key, type, revenue),
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
         SELECT event_id, request_ts FROM ins`,
        values: [
          col("eventId"), col("requestTs"), col("requestId"), col("ts"), col("surface"), col("type"), col("itemId"), col("position"),
          col("revenue"), col("userKey"), col("experimentKey"), col("variantKey"), col("experimentPhase"),
        ],
      });
      const fresh = new Set(inserted.map((r) => `${r.event_id}\u0000${new Date(r.request_ts).getTime()}`));
      const held = new Set<number>();
      rows.forEach((row, i) => {
        if (!fresh.has(`${row.eventId}\u0000${new Date(row.requestTs).getTime()}`)) held.add(i);
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
const reviveShadowEntry = (raw: unknown): ShadowEntry => (typeof raw === "string" ? raw : reviveDates<ShadowRow>(["ts"])(raw));

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
 * spills to a file of its own process (`<database>.<table>.h<host>.b<boot id>.p<pid>.s<start>.jsonl`);
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
  const pool = new ThreadedPool({ connectionString: url, max: 2, connectionTimeoutMillis: 2000, query_timeout: 5000 });
  const sink = postgresTelemetrySink(pool);
  const replays: Streams["replays"] = [];
  const maxBufferedBytes = env().TELEMETRY_BUFFER_MAX_BYTES;
  const open = <T>(stream: StreamName, name: string, sink: BatchSink<T>, streamOptions: Omit<BatchWriterOptions<T>, "name" | "spillPath">): BatchWriter<T> => {
    const options = { maxBufferedBytes, ...streamOptions };
    const prefix = `${dbName}.${name}`;
    for (const file of claimOrphanSpills(spillDir, prefix)) {
      const writer = new BatchWriter(sink, { ...options, name: `${name} (replaying ${path.basename(file)})`, spillPath: file });
      replays.push({ stream, writer: writer as BatchWriter<unknown> });
    }
    const writer = new BatchWriter(sink, { ...options, name, spillPath: ownSpillPath(spillDir, prefix) });
    writer.start();
    return writer;
  };
  const requests = open("requests", "rerank_requests", sink.requests, { revive: reviveRequestLogEntry, isRowError: sink.isRowError });
  const events = open("events", "outcome_events", sink.events, { revive: reviveDates<OutcomeEventRow>(["requestTs", "ts"]), isRowError: sink.isRowError });
  const shadow = open("shadow", "shadow_records", sink.shadow, { revive: reviveShadowEntry, maxBuffered: 10_000, isRowError: sink.isRowError });
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
    })();
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
