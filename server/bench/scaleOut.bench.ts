import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { systemActor } from "../audit/actor";
import { resolveDatabase } from "../cli/database";
import { env, setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { ensurePartitions } from "../db/partitions";
import { prepareDatabase } from "../db/prepare";
import { executiveOverview } from "../executive/service";
import { experimentResults } from "../experiments/results";
import { experimentInputSchema } from "../experiments/schema";
import { createExperiment, startExperiment } from "../experiments/service";
import { oncallOverview, oncallSeries } from "../oncall/service";
import { BatchWriter } from "../telemetry/batchWriter";
import { postgresTelemetrySink, serialiseRequestLogRow, type OutcomeEventRow, type RequestLogEntry } from "../telemetry/streams";

// npm run bench:scale-out — how far one PostgreSQL carries the telemetry (docs/SCALE-OUT.md):
//   1. rows per second the telemetry writer (BatchWriter + the PostgreSQL sink) writes: request log
//      rows outside and inside an experiment (the rollups are maintained by the same statement),
//      outcome events, and three writers at once (three replicas);
//   2. SCALE_ROWS (10,000,000) logged requests generated in the database (generate_series, spread
//      over 7 days, half of them in a two-arm experiment, with impressions and clicks), then the
//      queries the app runs timed: experiment results, the on-call overview and chart, the executive
//      overview. Everything runs in a scratch database, dropped at the end.

const SCALE_ROWS = env().BENCH_SCALE_ROWS;
const WRITE_ROWS = Math.min(200_000, Math.max(20_000, Math.round(SCALE_ROWS / 50)));
const DAYS = 7;
const RESULT_FILE = path.join(".data", "bench", "scale-out.json");

const served = Array.from({ length: 10 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, score: 1 - i / 10, position: i + 1, reasons: [] }));
const timings = { resolve: 0.02, features: 0.05, score: 0.09, constraints: 0.03, total: 0.21 };

async function time<T>(f: () => Promise<T>, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return Math.round(times.sort((a, b) => a - b)[Math.floor(runs / 2)]!);
}

/** Rows per second through the real writer: enqueue `rows`, flush, divide. */
async function writeRate(url: string, rows: number, make: (i: number) => RequestLogEntry, writers = 1): Promise<number> {
  const sinks = Array.from({ length: writers }, () => postgresTelemetrySink(new pg.Pool({ connectionString: url, max: 2 })));
  const batchWriters = sinks.map((sink) => new BatchWriter(sink.requests, { name: "bench", isRowError: sink.isRowError, maxBuffered: rows + 1 }));
  const t = performance.now();
  for (let i = 0; i < rows; i++) batchWriters[i % writers]!.enqueue(make(i));
  await Promise.all(batchWriters.map((w) => w.flush()));
  const seconds = (performance.now() - t) / 1000;
  await Promise.all(batchWriters.map((w) => w.close()));
  await Promise.all(sinks.map((s) => s.close()));
  return Math.round(rows / seconds);
}

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  const figures: Record<string, unknown> = { at: new Date().toISOString(), scaleRows: SCALE_ROWS, writeRows: WRITE_ROWS };
  try {
    await prepareDatabase(database.url, { seed: true });
    setEnv("DATABASE_URL", database.url);
    const db = getDb();
    const input = experimentInputSchema.parse({
      key: "scale-exp", name: "scale", surface: "search", owner: "bench",
      variants: [
        { key: "control", name: "v1", weight: 0.5, isControl: true, modelAlias: "fallback" },
        { key: "treatment", name: "v2", weight: 0.5, modelAlias: "production" },
      ],
    });
    const experiment = await createExperiment(db, input, systemActor("bench"));
    await startExperiment(db, "scale-exp", systemActor("bench"));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await ensurePartitions(client, { daysBack: DAYS + 1, daysAhead: 1 });

    // 1. Write rates through the telemetry writer.
    const now = Date.now();
    const row = (prefix: string, i: number, inExperiment: boolean): RequestLogEntry => serialiseRequestLogRow({
      requestId: `${prefix}${i}`, ts: new Date(now - 3_600_000 + (i % 3_000_000)), surface: "search", userKey: `w${i % 20_000}`, sessionKey: null,
      context: { device: "mobile" }, experimentKey: inExperiment ? "scale-exp" : null, experimentPhase: inExperiment ? 1 : null,
      variantKey: inExperiment ? (i % 2 ? "treatment" : "control") : null, exposed: inExperiment, modelVersionId: null, fallbackUsed: i % 200 === 0,
      fallbackReason: i % 200 === 0 ? "timeout" : null, candidateCount: 100, topK: 10, served, timings, latencyMs: 0.2 + (i % 7) / 10, defaultedFeatures: 0,
    });
    console.log(`writing ${WRITE_ROWS.toLocaleString()} request log rows through the telemetry writer, four ways…`);
    const plain = await writeRate(database.url, WRITE_ROWS, (i) => row("wp", i, false));
    const withExperiment = await writeRate(database.url, WRITE_ROWS, (i) => row("we", i, true));
    const threeWriters = await writeRate(database.url, WRITE_ROWS, (i) => row("w3", i, false), 3);
    const eventSink = postgresTelemetrySink(new pg.Pool({ connectionString: database.url, max: 2 }));
    const eventWriter = new BatchWriter<OutcomeEventRow>(eventSink.events, { name: "bench-events", maxBuffered: WRITE_ROWS + 1 });
    const te = performance.now();
    for (let i = 0; i < WRITE_ROWS; i++) {
      eventWriter.enqueue({ eventId: `ev${i}`, requestTs: new Date(now - 3_600_000 + (i % 3_000_000)), requestId: `we${i}`, ts: new Date(), surface: "search", type: "impression", itemId: "sku-00001", position: 1, revenue: null, userKey: `w${i % 20_000}`, experimentKey: "scale-exp", experimentPhase: 1, variantKey: i % 2 ? "treatment" : "control" });
    }
    await eventWriter.flush();
    const events = Math.round(WRITE_ROWS / ((performance.now() - te) / 1000));
    await eventWriter.close();
    await eventSink.close();
    figures.writeRowsPerSecond = { requestLog: plain, requestLogInExperiment: withExperiment, requestLogThreeWriters: threeWriters, outcomeEvents: events };
    console.log(`  request log ${plain.toLocaleString()} rows/s; in an experiment (rollups) ${withExperiment.toLocaleString()}; three writers ${threeWriters.toLocaleString()}; events ${events.toLocaleString()}`);
    await client.query("TRUNCATE rerank_requests, outcome_events, experiment_unit_stats, experiment_hourly_stats");

    // 2. SCALE_ROWS logged requests over DAYS days, generated in the database.
    const v2 = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "search-ranker" }, version: 2 } });
    const spanMs = DAYS * 86_400_000;
    console.log(`generating ${SCALE_ROWS.toLocaleString()} logged requests over ${DAYS} days (generate_series)…`);
    let t = performance.now();
    const chunk = 1_000_000;
    for (let from = 1; from <= SCALE_ROWS; from += chunk) {
      const to = Math.min(SCALE_ROWS, from + chunk - 1);
      // i → a time spread evenly over the span, a user, an arm (half the traffic is in the experiment), 0.5 % fallbacks, latency 0.2–3 ms with a tail.
      await client.query(
        `INSERT INTO rerank_requests (request_id, ts, surface, user_key, session_key, context, experiment_key, experiment_phase, variant_key, exposed,
           model_version_id, fallback_used, fallback_reason, candidate_count, top_k, served, timings, latency_ms, defaulted_features)
         SELECT 'g' || i, to_timestamp($1::float8 / 1000 - ($2::float8 / 1000) * (1 - i::float8 / $3)),
           CASE WHEN i % 4 = 0 THEN 'home-feed' ELSE 'search' END, 'u' || (i * 7919 % 1000000), NULL, '{"device":"mobile"}',
           CASE WHEN i % 2 = 0 AND i % 4 <> 0 THEN 'scale-exp' END, CASE WHEN i % 2 = 0 AND i % 4 <> 0 THEN 1 END,
           CASE WHEN i % 2 = 0 AND i % 4 <> 0 THEN (CASE WHEN (i * 7919 % 1000000) % 2 = 0 THEN 'control' ELSE 'treatment' END) END,
           i % 2 = 0 AND i % 4 <> 0, $4, i % 200 = 0, CASE WHEN i % 200 = 0 THEN 'timeout' END, 100, 10, $5::jsonb, $6::jsonb,
           0.2 + (i % 97) / 40.0 + CASE WHEN i % 1000 = 0 THEN 60 ELSE 0 END, 0
         FROM generate_series($7::bigint, $8::bigint) AS i`,
        [now, spanMs, SCALE_ROWS, v2.id, JSON.stringify(served), JSON.stringify(timings), from, to],
      );
      process.stdout.write(`\r  ${to.toLocaleString()} rows (${((performance.now() - t) / 1000).toFixed(0)} s)`);
    }
    const generateRequestsS = (performance.now() - t) / 1000;
    t = performance.now();
    // An impression for every request in the experiment and a click for 10 % of them (10.5 % in treatment).
    await client.query(
      `INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, position, revenue, user_key, experiment_key, experiment_phase, variant_key)
       SELECT r.request_id || t.type, r.ts, r.request_id, r.ts, r.surface, t.type::"OutcomeType", 'sku-00001', 1, NULL, r.user_key, r.experiment_key, r.experiment_phase, r.variant_key
       FROM rerank_requests r CROSS JOIN (VALUES ('impression'), ('click')) AS t(type)
       WHERE r.experiment_key = 'scale-exp' AND (t.type = 'impression' OR (hashtext(r.request_id) & 1023) < CASE WHEN r.variant_key = 'treatment' THEN 108 ELSE 102 END)`,
    );
    // The rollups the telemetry writer keeps as it writes, built here in one pass each.
    await client.query(
      `INSERT INTO experiment_unit_stats (experiment_id, phase, variant_key, unit_key, requests, multiple_exposure, first_seen_at, last_seen_at)
       SELECT $1, 1, min(variant_key), user_key, count(*), false, min(ts), max(ts) FROM rerank_requests WHERE experiment_key = 'scale-exp' GROUP BY user_key`,
      [experiment.id],
    );
    await client.query(
      `UPDATE experiment_unit_stats u SET impressions = e.impressions, clicks = e.clicks
       FROM (SELECT user_key, count(*) FILTER (WHERE type = 'impression') AS impressions, count(*) FILTER (WHERE type = 'click') AS clicks
             FROM outcome_events WHERE experiment_key = 'scale-exp' GROUP BY user_key) e
       WHERE u.experiment_id = $1 AND u.unit_key = e.user_key`,
      [experiment.id],
    );
    await client.query(
      `INSERT INTO experiment_hourly_stats (experiment_id, phase, variant_key, hour, requests, fallbacks, latency_ms_sum)
       SELECT $1, 1, variant_key, date_trunc('hour', ts), count(*), count(*) FILTER (WHERE fallback_used), sum(latency_ms)
       FROM rerank_requests WHERE experiment_key = 'scale-exp' GROUP BY variant_key, date_trunc('hour', ts)`,
      [experiment.id],
    );
    await client.query(
      `UPDATE experiment_hourly_stats h SET impressions = e.impressions, clicks = e.clicks
       FROM (SELECT variant_key, date_trunc('hour', request_ts) AS hour, count(*) FILTER (WHERE type = 'impression') AS impressions, count(*) FILTER (WHERE type = 'click') AS clicks
             FROM outcome_events WHERE experiment_key = 'scale-exp' GROUP BY 1, 2) e
       WHERE h.experiment_id = $1 AND h.variant_key = e.variant_key AND h.hour = e.hour`,
      [experiment.id],
    );
    await client.query("VACUUM ANALYZE");
    const generateRestS = (performance.now() - t) / 1000;
    const { rows: sizes } = await client.query<{ requests: string; events: string; bytes: string; window1h: string; window24h: string }>(
      `SELECT (SELECT count(*) FROM rerank_requests) AS requests, (SELECT count(*) FROM outcome_events) AS events,
         (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'rerank_requests') AS bytes,
         (SELECT count(*) FROM rerank_requests WHERE ts >= now() - interval '1 hour') AS window1h,
         (SELECT count(*) FROM rerank_requests WHERE ts >= now() - interval '24 hours') AS window24h`,
    );
    const s = sizes[0]!;
    figures.generated = { requests: Number(s.requests), events: Number(s.events), requestLogBytes: Number(s.bytes), rowsLastHour: Number(s.window1h), rowsLast24h: Number(s.window24h), generateRequestsS: Math.round(generateRequestsS), generateRollupsS: Math.round(generateRestS) };
    console.log(`\r  ${Number(s.requests).toLocaleString()} requests and ${Number(s.events).toLocaleString()} events in ${Math.round(generateRequestsS)} + ${Math.round(generateRestS)} s; request log ${(Number(s.bytes) / 2 ** 30).toFixed(2)} GiB; ${Number(s.window1h).toLocaleString()} rows in the last hour, ${Number(s.window24h).toLocaleString()} in 24 h`);

    // 3. The app's queries at this size (median of 3, after one warm-up each).
    const queries: Array<[string, () => Promise<unknown>]> = [
      ["baseline: count(*) of the log", () => client.query("SELECT count(*) FROM rerank_requests")],
      ["experiment results (all metrics and statistics)", () => experimentResults(db, "scale-exp")],
      ["on-call overview, 1 h window (burn over 5 m … 3 d, alerts)", () => oncallOverview(db, { hours: 1 })],
      ["on-call overview, 24 h window", () => oncallOverview(db, { hours: 24 })],
      ["on-call chart, 1 h (5-minute buckets, markers)", () => oncallSeries(db, { surface: "search", hours: 1 })],
      ["on-call chart, 24 h (hourly)", () => oncallSeries(db, { surface: "search", hours: 24 })],
      ["executive overview, 1 day vs the day before", () => executiveOverview(db, { days: 1 })],
      ["executive overview, 7 days vs the 7 before", () => executiveOverview(db, { days: 7 })],
    ];
    const timed: Record<string, number> = {};
    console.log(`\nQuery times at ${Number(s.requests).toLocaleString()} logged requests (median of 3 after a warm-up)`);
    for (const [name, f] of queries) {
      await f();
      timed[name] = await time(f);
      console.log(`  ${String(timed[name]).padStart(7)} ms  ${name}`);
    }
    figures.queryMs = timed;
    await client.end();
    mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
    writeFileSync(RESULT_FILE, JSON.stringify(figures, null, 2) + "\n");
    console.log(`figures in ${RESULT_FILE}`);
  } finally {
    await disconnectDb();
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
