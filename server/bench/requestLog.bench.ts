import { readFileSync } from "node:fs";
import pg from "pg";
import { resolveDatabase } from "../cli/database";
import { prepareDatabase } from "../db/prepare";
import { servedListJson } from "../domain/ranking/servedList";
import { requestLogRollupsSql, requestLogSink, ROLLUP_COLUMNS, serialiseRequestLogRow, serialiseShadowRow, shadowSink, type RequestLogRow, type ShadowRow } from "../telemetry/streams";

// npm run bench:request-log — the request log writer alone, the ways it has written a batch, in one
// run on one database: rows per second (wall clock) and CPU per row, split into this process
// (serialising, the driver) and the PostgreSQL backend that takes the rows in (read from
// /proc/<pid>/stat, so PostgreSQL must run on this machine; elsewhere its column says n/a).
//
// before: jsonb_to_recordset, served/context/timings as jsonb, three secondary indexes (the table
//         as migration 20261125000000_init made it, recreated here as rerank_requests_before), the
//         served list as the response's item objects ({ id, score, position, reasons }).
// json:   the batch as one JSON document read with json_to_recordset into rerank_requests, INSERT …
//         ON CONFLICT DO NOTHING with the experiment rollups in its CTE (requestLogSink until issue 12's
//         COPY path), the served list in the log's compact format (server/domain/ranking/servedList.ts).
// copy:   requestLogSink (server/telemetry/streams.ts): COPY text straight into rerank_requests, in a
//         transaction (BEGIN, COPY, COMMIT; the rollups only for rows in an experiment: none here).
// replay: requestLogSink given batches whose first row is held already: the COPY stops at that row's
//         unique violation and the batch goes through the staging table and INSERT … ON CONFLICT.
// Rows look like the serving benchmark's: top 20 of 100 candidates, the demo stage timings.
// Then the shadow log the same way (json_to_recordset against COPY), a quarter as many rows: 20-item
// rankings and 5 moves of 10 features, as the demo's mirrored requests carry.

/** Rows per round: `-- --rows N`, default 20,000. */
const rowsArg = process.argv.indexOf("--rows");
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 20_000;
/** Rows per INSERT: `-- --batch N`, default 1,000 (the writer's maxBatch); serving at a few hundred requests per second flushes ~50 every 200 ms. */
const batchArg = process.argv.indexOf("--batch");
const BATCH = batchArg > 0 ? Number(process.argv[batchArg + 1]) : 1000;
const ROUNDS = 3;

/** The request log's statement before the COPY path: what the "json" rows are written with. */
const JSON_INSERT = requestLogRollupsSql(`INSERT INTO rerank_requests (request_id, ts, surface, user_key, session_key, context, experiment_key, experiment_phase,
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
   RETURNING ${ROLLUP_COLUMNS}`);

/** The request log row as JSON text, as serialiseRequestLogRow wrote it before the COPY path. */
const requestJson = (row: RequestLogRow) => `${JSON.stringify({ ...row, served: undefined }).slice(0, -1)},"served":${servedListJson(row.served)}}`;

/** The shadow log's statement before the COPY path. */
const SHADOW_JSON_INSERT = `INSERT INTO shadow_records (id, ts, request_id, surface, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking,
     overlap_at_10, rbo, kendall_tau, spearman_rho, primary_latency_ms, shadow_latency_ms, moves, error)
   SELECT "requestId" || ':' || "shadowVersionId", ts, "requestId", surface, "primaryVersionId", "shadowVersionId", "primaryRanking",
     "shadowRanking", "overlapAt10", rbo, "kendallTau", "spearmanRho", "primaryLatencyMs", "shadowLatencyMs", moves, error
   FROM json_to_recordset($1::json) AS x("requestId" text, ts timestamptz, surface text, "primaryVersionId" text, "shadowVersionId" text,
     "primaryRanking" json, "shadowRanking" json, "overlapAt10" float8, rbo float8, "kendallTau" float8, "spearmanRho" float8,
     "primaryLatencyMs" float8, "shadowLatencyMs" float8, moves json, error text)
   ON CONFLICT DO NOTHING`;

/** The shadow row as JSON text, as serialiseShadowRow wrote it before the COPY path. */
const shadowJson = (row: ShadowRow) =>
  `${JSON.stringify({ ...row, primaryRanking: undefined, shadowRanking: undefined }).slice(0, -1)},"primaryRanking":${servedListJson(row.primaryRanking)},"shadowRanking":${servedListJson(row.shadowRanking)}}`;

function shadowRow(run: string, i: number): ShadowRow {
  const ranking = (salt: number) => Array.from({ length: 20 }, (_, k) => ({ id: `sku-${String((i * 7 + k * salt) % 5000).padStart(5, "0")}`, score: Math.round(Math.sin(i + k * salt) * 1e6) / 1e6 }));
  const features = Object.fromEntries(Array.from({ length: 10 }, (_, f) => [`feature_${f}`, f === 3 ? null : Math.round(Math.cos(i + f) * 1e4) / 1e4]));
  return {
    requestId: `${run}-${i}`, ts: new Date(), surface: "search", primaryVersionId: "cm0demo0search0ranker0v2", shadowVersionId: "cm0demo0search0ranker0v3",
    primaryRanking: ranking(1), shadowRanking: ranking(3), overlapAt10: 0.7, rbo: 0.81, kendallTau: 0.42, spearmanRho: 0.55, primaryLatencyMs: 0.26, shadowLatencyMs: 0.31,
    moves: Array.from({ length: 5 }, (_, m) => ({ id: `sku-${m}`, primaryRank: m + 1, shadowRank: 12 - m, move: 11 - 2 * m, primaryScore: 0.9, shadowScore: 0.4, features, defaulted: ["feature_3"] })),
    error: null,
  };
}

const BEFORE_TABLE = `
  CREATE TABLE rerank_requests_before (
    request_id TEXT NOT NULL, ts TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, surface TEXT NOT NULL, user_key TEXT, session_key TEXT,
    context JSONB NOT NULL DEFAULT '{}', experiment_key TEXT, experiment_phase INTEGER, variant_key TEXT, exposed BOOLEAN NOT NULL DEFAULT false,
    model_version_id TEXT, fallback_used BOOLEAN NOT NULL DEFAULT false, fallback_reason TEXT, candidate_count INTEGER NOT NULL, top_k INTEGER NOT NULL,
    served JSONB NOT NULL, timings JSONB NOT NULL DEFAULT '{}', latency_ms DOUBLE PRECISION NOT NULL, defaulted_features INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, ts)) PARTITION BY RANGE (ts);
  CREATE TABLE rerank_requests_before_default PARTITION OF rerank_requests_before DEFAULT;
  CREATE INDEX ON rerank_requests_before (surface, ts);
  CREATE INDEX ON rerank_requests_before (experiment_key, ts);
  CREATE INDEX ON rerank_requests_before (model_version_id, ts);`;

/** The INSERT of the request log before issue 12 (its experiment rollups left out: these rows have no experiment). */
const BEFORE_INSERT = `
  INSERT INTO rerank_requests_before (request_id, ts, surface, user_key, session_key, context, experiment_key, experiment_phase,
    variant_key, exposed, model_version_id, fallback_used, fallback_reason, candidate_count, top_k, served, timings, latency_ms, defaulted_features)
  SELECT "requestId", ts, surface, "userKey", "sessionKey", coalesce(context, '{}'), "experimentKey", "experimentPhase",
    "variantKey", exposed, "modelVersionId", "fallbackUsed", "fallbackReason", "candidateCount", "topK", served, coalesce(timings, '{}'),
    "latencyMs", "defaultedFeatures"
  FROM jsonb_to_recordset($1::jsonb) AS x("requestId" text, ts timestamptz, surface text, "userKey" text, "sessionKey" text, context jsonb,
    "experimentKey" text, "experimentPhase" int, "variantKey" text, exposed bool, "modelVersionId" text, "fallbackUsed" bool,
    "fallbackReason" text, "candidateCount" int, "topK" int, served jsonb, timings jsonb, "latencyMs" float8, "defaultedFeatures" int)
  ON CONFLICT DO NOTHING`;

function row(run: string, i: number): RequestLogRow {
  return {
    requestId: `${run}-${i}`, ts: new Date(), surface: "search", userKey: `u${i % 997}`.padEnd(64, "0"), sessionKey: null, context: {},
    experimentKey: null, experimentPhase: null, variantKey: null, exposed: false, modelVersionId: "cm0demo0search0ranker0v2", fallbackUsed: false,
    fallbackReason: null, candidateCount: 100, topK: 20,
    served: Array.from({ length: 20 }, (_, k) => ({ id: `sku-${String((i * 7 + k) % 5000).padStart(5, "0")}`, score: Math.round(Math.sin(i + k) * 1e6) / 1e6, position: k + 1, reasons: [] })),
    timings: { resolve: 0.012, features: 0.081, score: 0.143, constraints: 0.009, total: 0.262 }, latencyMs: 0.262, defaultedFeatures: 0,
    featuresTimedOut: false, caller: null,
  };
}

/** CPU seconds (user + system) of a process from /proc, or NaN when it is not on this machine. */
function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK 100)
  } catch {
    return NaN;
  }
}

type Measured = { rowsPerS: number; nodeUsPerRow: number; pgUsPerRow: number };

/** `rows` rows made by `make`, serialised (at enqueue, as the pipeline does, so the figures include it) and written in batches of BATCH. */
async function measure(backendPid: number, run: string, rows: number, make: (run: string, i: number) => string, write: (rows: string[]) => Promise<void>): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const pg0 = processCpuSeconds(backendPid);
  const t0 = performance.now();
  for (let start = 0; start < rows; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rows - start) }, (_, k) => make(run, start + k));
    await write(batch);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rowsPerS: rows / seconds, nodeUsPerRow: (cpu.user + cpu.system) / rows, pgUsPerRow: ((processCpuSeconds(backendPid) - pg0) * 1e6) / rows };
}

/** A warm-up of each way, then ROUNDS alternating rounds (drift in a shared machine's speed hits all alike); the medians. */
async function compare<K extends string>(backendPid: number, rows: number, ways: Record<K, { make: (run: string, i: number) => string; write: (rows: string[]) => Promise<void> }>) {
  const names = Object.keys(ways) as K[];
  const results = Object.fromEntries(names.map((k) => [k, [] as Measured[]])) as Record<K, Measured[]>;
  for (const k of names) await measure(backendPid, `warm-${k}`, rows, ways[k].make, ways[k].write);
  for (let r = 0; r < ROUNDS; r++) for (const k of names) results[k].push(await measure(backendPid, `${k}-${r}`, rows, ways[k].make, ways[k].write));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return Object.fromEntries(names.map((k) => [k, {
    rowsPerS: med(results[k].map((x) => x.rowsPerS)), nodeUsPerRow: med(results[k].map((x) => x.nodeUsPerRow)), pgUsPerRow: med(results[k].map((x) => x.pgUsPerRow)),
  }])) as Record<K, Measured>;
}

function print(title: string, rows: Array<[string, Measured]>) {
  console.log(`\n${title}`);
  console.log("                                        rows/s   node CPU µs/row   PostgreSQL CPU µs/row");
  for (const [name, s] of rows) {
    console.log(`  ${name.padEnd(38)} ${s.rowsPerS.toFixed(0).padStart(6)}   ${s.nodeUsPerRow.toFixed(1).padStart(15)}   ${Number.isNaN(s.pgUsPerRow) ? "n/a" : s.pgUsPerRow.toFixed(1).padStart(21)}`);
  }
}

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  try {
    await prepareDatabase(database.url);
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await pool.query(BEFORE_TABLE);
    const backendPid = (await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const sink = requestLogSink(pool);
    // The row every replay batch starts with: held already, so the direct COPY meets a unique violation.
    const held = serialiseRequestLogRow(row("held", 0));
    await sink.write([held]);
    const log = await compare(backendPid, ROWS, {
      before: { make: (run, i) => JSON.stringify(row(run, i)), write: async (rows) => { await pool.query(BEFORE_INSERT, [`[${rows.join(",")}]`]); } },
      json: { make: (run, i) => requestJson(row(run, i)), write: async (rows) => { await pool.query({ name: "bench_request_log_json", text: JSON_INSERT, values: [`[${rows.join(",")}]`] }); } },
      copy: { make: (run, i) => serialiseRequestLogRow(row(run, i)), write: (rows) => sink.write(rows) as Promise<void> },
      replay: { make: (run, i) => serialiseRequestLogRow(row(run, i)), write: (rows) => sink.write([held, ...rows.slice(1)]) as Promise<void> },
    });
    print(`Request log writer: ${ROWS} rows of top-20 lists in batches of ${BATCH}, medians of ${ROUNDS} alternating rounds`, [
      ["before (jsonb, objects)", log.before], ["json (json_to_recordset)", log.json], ["copy (COPY text)", log.copy], ["replay (COPY → staging, ON CONFLICT)", log.replay],
    ]);
    console.log(`  PostgreSQL CPU per row: copy ×${(log.copy.pgUsPerRow / log.json.pgUsPerRow).toFixed(2)} of json (replay ×${(log.replay.pgUsPerRow / log.json.pgUsPerRow).toFixed(2)}); rows/s ×${(log.copy.rowsPerS / log.json.rowsPerS).toFixed(2)}`);
    const perRow = async (table: string) => (await pool.query<{ b: string }>(`SELECT (sum(pg_total_relation_size(inhrelid)) / (SELECT count(*) FROM ${table}))::bigint AS b FROM pg_inherits WHERE inhparent = '${table}'::regclass`)).rows[0]!.b;
    console.log(`  on disk per row (table + indexes): before ${await perRow("rerank_requests_before")} B, json and copy ${await perRow("rerank_requests")} B`);

    const shadowRows = Math.max(BATCH, Math.round(ROWS / 4));
    const shadow = shadowSink(pool);
    const mirrored = await compare(backendPid, shadowRows, {
      json: { make: (run, i) => shadowJson(shadowRow(run, i)), write: async (rows) => { await pool.query({ name: "bench_shadow_json", text: SHADOW_JSON_INSERT, values: [`[${rows.join(",")}]`] }); } },
      copy: { make: (run, i) => serialiseShadowRow(shadowRow(run, i)), write: (rows) => shadow.write(rows) as Promise<void> },
    });
    print(`Shadow log writer: ${shadowRows} rows (20-item rankings, 5 moves of 10 features) in batches of ${BATCH}`, [["json (json_to_recordset)", mirrored.json], ["copy (COPY text)", mirrored.copy]]);
    console.log(`  PostgreSQL CPU per row: copy ×${(mirrored.copy.pgUsPerRow / mirrored.json.pgUsPerRow).toFixed(2)} of json; rows/s ×${(mirrored.copy.rowsPerS / mirrored.json.rowsPerS).toFixed(2)}`);
    await pool.end();
  } finally {
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
