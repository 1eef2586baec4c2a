import { readFileSync } from "node:fs";
import pg from "pg";
import { resolveDatabase } from "../cli/database";
import { prepareDatabase } from "../db/prepare";
import { requestLogSink, serialiseRequestLogRow, type RequestLogRow } from "../telemetry/streams";

// npm run bench:request-log — the request log writer alone, the format before issue 12 against
// today's, in one run on one database: rows per second (wall clock) and CPU per row, split into this
// process (serialising, the driver) and the PostgreSQL backend that runs the INSERTs (read from
// /proc/<pid>/stat, so PostgreSQL must run on this machine; elsewhere its column says n/a).
//
// before: jsonb_to_recordset, served/context/timings as jsonb, three secondary indexes (the table
//         as migration 20261125000000_init made it, recreated here as rerank_requests_before), the
//         served list as the response's item objects ({ id, score, position, reasons }).
// now:    requestLogSink (server/telemetry/streams.ts) into rerank_requests, the served list in the
//         log's compact format (server/domain/ranking/servedList.ts).
// Rows look like the serving benchmark's: top 20 of 100 candidates, the demo stage timings.

/** Rows per round: `-- --rows N`, default 20,000. */
const rowsArg = process.argv.indexOf("--rows");
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 20_000;
/** Rows per INSERT: `-- --batch N`, default 1,000 (the writer's maxBatch); serving at a few hundred requests per second flushes ~50 every 200 ms. */
const batchArg = process.argv.indexOf("--batch");
const BATCH = batchArg > 0 ? Number(process.argv[batchArg + 1]) : 1000;
const ROUNDS = 3;

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

async function measure(pool: pg.Pool, backendPid: number, run: string, write: (rows: string[]) => Promise<void>, serialise: (row: RequestLogRow) => string) {
  // Serialised at enqueue, as the pipeline does, so the figures include it.
  const cpu0 = process.cpuUsage();
  const pg0 = processCpuSeconds(backendPid);
  const t0 = performance.now();
  for (let start = 0; start < ROWS; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, ROWS - start) }, (_, k) => serialise(row(run, start + k)));
    await write(batch);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rowsPerS: ROWS / seconds, nodeUsPerRow: ((cpu.user + cpu.system) / ROWS), pgUsPerRow: ((processCpuSeconds(backendPid) - pg0) * 1e6) / ROWS };
}

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  try {
    await prepareDatabase(database.url);
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await pool.query(BEFORE_TABLE);
    const backendPid = (await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const now = requestLogSink(pool);
    const before = async (rows: string[]) => { await pool.query(BEFORE_INSERT, [`[${rows.join(",")}]`]); };
    const results: Record<"before" | "now", Array<Awaited<ReturnType<typeof measure>>>> = { before: [], now: [] };
    // A warm-up of each, then alternating rounds, so drift in a shared machine's speed hits both alike.
    await measure(pool, backendPid, "warm-before", before, (r) => JSON.stringify(r));
    await measure(pool, backendPid, "warm-now", async (rows) => { await now.write(rows); }, serialiseRequestLogRow);
    for (let r = 0; r < ROUNDS; r++) {
      results.before.push(await measure(pool, backendPid, `before-${r}`, before, (r) => JSON.stringify(r)));
      results.now.push(await measure(pool, backendPid, `now-${r}`, async (rows) => { await now.write(rows); }, serialiseRequestLogRow));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = (k: "before" | "now") => ({
      rowsPerS: med(results[k].map((x) => x.rowsPerS)), nodeUsPerRow: med(results[k].map((x) => x.nodeUsPerRow)), pgUsPerRow: med(results[k].map((x) => x.pgUsPerRow)),
    });
    const b = summary("before");
    const n = summary("now");
    const size = async (table: string) => (await pool.query<{ b: string }>(`SELECT sum(pg_total_relation_size(inhrelid))::bigint AS b FROM pg_inherits WHERE inhparent = '${table}'::regclass`)).rows[0]!.b;
    console.log(`\nRequest log writer: ${ROWS} rows of top-20 lists in batches of ${BATCH}, medians of ${ROUNDS} alternating rounds`);
    console.log("                         rows/s   node CPU µs/row   PostgreSQL CPU µs/row");
    for (const [name, s] of [["before (jsonb, objects)", b], ["now (json, compact)", n]] as const) {
      console.log(`  ${name.padEnd(24)} ${s.rowsPerS.toFixed(0).padStart(6)}   ${s.nodeUsPerRow.toFixed(1).padStart(15)}   ${Number.isNaN(s.pgUsPerRow) ? "n/a" : s.pgUsPerRow.toFixed(1).padStart(21)}`);
    }
    console.log(`  PostgreSQL CPU per row: ×${(n.pgUsPerRow / b.pgUsPerRow).toFixed(2)} of before; rows/s ×${(n.rowsPerS / b.rowsPerS).toFixed(2)}`);
    console.log(`  on disk (table + indexes): before ${(Number(await size("rerank_requests_before")) / 2 ** 20).toFixed(1)} MiB, now ${(Number(await size("rerank_requests")) / 2 ** 20).toFixed(1)} MiB for the same rows`);
    await pool.end();
  } finally {
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
