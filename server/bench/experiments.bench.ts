import pg from "pg";
import { resolveDatabase } from "../cli/database";
import { env, setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import { assignVariant } from "../domain/assignment/assign";
import { createRng } from "../domain/random";
import { experimentLiftOverTime } from "../experiments/liftOverTime";
import { experimentResults } from "../experiments/results";
import { experimentInputSchema } from "../experiments/schema";
import { createExperiment, startExperiment } from "../experiments/service";
import { outcomeEventSink, requestLogSink, type OutcomeEventRow, type RequestLogRow } from "../telemetry/streams";
import { systemActor } from "../audit/actor";

// npm run bench:experiments — an experiment with REQUESTS logged requests (default 1,000,000) and
// their impressions and clicks, written through the real telemetry sinks (which maintain the
// rollups), then the results page's query timed against the 2 s target, and the page's lift-over-time
// panel (its own query, refreshed every minute: it passes over the phase's kept events) reported beside
// it without a target. Baseline in the same run: a plain count(*) of the experiment's logged requests.

const REQUESTS = env().BENCH_REQUESTS;
const USERS = Math.max(1000, Math.round(REQUESTS / 10));
const BATCH = 10_000;

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  try {
    await prepareDatabase(database.url, { seed: true });
    setEnv("DATABASE_URL", database.url);
    const db = getDb();
    const input = experimentInputSchema.parse({
      key: "bench-exp", name: "bench", surface: "search", owner: "bench",
      variants: [
        { key: "control", name: "v1", weight: 0.5, isControl: true, modelAlias: "fallback" },
        { key: "treatment", name: "v2", weight: 0.5, modelAlias: "production" },
      ],
    });
    const created = await createExperiment(db, input, systemActor("bench"));
    await startExperiment(db, "bench-exp", systemActor("bench"));
    const def = { key: created.key, seed: created.seed, hashVersion: 2 as const, hashAttribute: "userKey" as const, coverage: 1, variants: input.variants, namespace: null, targeting: [], phase: 1 };
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    const requests = requestLogSink(pool);
    const events = outcomeEventSink(pool);
    const rng = createRng(7);
    const started = Date.now();
    const now = Date.now();
    for (let offset = 0; offset < REQUESTS; offset += BATCH) {
      const rows: RequestLogRow[] = [];
      const outcomes: OutcomeEventRow[] = [];
      for (let i = offset; i < Math.min(REQUESTS, offset + BATCH); i++) {
        const userKey = `u${rng.int(0, USERS - 1)}`;
        const a = assignVariant(def, { userKey, attributes: {} });
        const variantKey = a.inExperiment ? a.variant : "none";
        const ts = new Date(now - (REQUESTS - i) * 10);
        const requestId = `b${i}`;
        rows.push({
          requestId, ts, surface: "search", userKey, sessionKey: null, context: {}, experimentKey: "bench-exp", experimentPhase: 1, variantKey, exposed: true,
          modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 100, topK: 10,
          served: [{ id: "sku-00001", score: 1, position: 1, reasons: [] }], timings: {}, latencyMs: 1 + rng.next() * 3, defaultedFeatures: 0,
        });
        const base = { requestTs: ts, requestId, ts, surface: "search", itemId: "sku-00001", position: 1, revenue: null, userKey, experimentKey: "bench-exp", experimentPhase: 1, variantKey };
        outcomes.push({ ...base, eventId: `${requestId}-i`, type: "impression" });
        if (rng.next() < (variantKey === "treatment" ? 0.105 : 0.1)) outcomes.push({ ...base, eventId: `${requestId}-c`, type: "click" });
      }
      await requests.write(rows);
      await events.write(outcomes);
      if ((offset / BATCH) % 20 === 0) process.stdout.write(`\rlogged ${offset + rows.length} requests (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    console.log(`\rlogged ${REQUESTS} requests with impressions and clicks in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    await pool.query("ANALYZE");

    const time = async (f: () => Promise<unknown>, runs = 5) => {
      const times: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        await f();
        times.push(performance.now() - t);
      }
      return times.sort((x, y) => x - y)[Math.floor(runs / 2)]!;
    };
    const baseline = await time(() => db.rerankRequest.count({ where: { experimentKey: "bench-exp" } }));
    const results = await time(() => experimentResults(db, "bench-exp"));
    const liftOverTime = await time(() => experimentLiftOverTime(db, "bench-exp"));
    const r = await experimentResults(db, "bench-exp");
    const points = (await experimentLiftOverTime(db, "bench-exp")).points;
    const ctr = r.metrics.find((m) => m.metric === "ctr")!;
    console.log(`\nExperiment results benchmark (${REQUESTS.toLocaleString()} logged requests, ${r.variants.reduce((s, v) => s + v.units, 0).toLocaleString()} users)`);
    console.log(`  baseline: count(*) of the experiment's requests   median ${baseline.toFixed(0)} ms`);
    console.log(`  results page query (all metrics and statistics) median ${results.toFixed(0)} ms   ×${(results / baseline).toFixed(2)} of baseline   target < 2000 ms: ${results < 2000 ? "meets target" : "MISSES target"}`);
    console.log(`  lift over time (its own panel, every minute)    median ${liftOverTime.toFixed(0)} ms   ×${(liftOverTime / baseline).toFixed(2)} of baseline   no target: reported (${points.length} points)`);
    const c = ctr.comparisons[0]!;
    const lift = c.available && c.relative ? `lift ${(c.relative.estimate * 100).toFixed(2)}% (p ${c.pValue?.toPrecision(2) ?? "—"}, ${c.engine})` : `no comparison (${c.available ? "no relative lift" : c.reason})`;
    const chartLast = points.at(-1)?.treatment_lift;
    console.log(`  CTR control ${((ctr.variants[0]!.value ?? NaN) * 100).toFixed(2)}%, treatment ${((ctr.variants[1]!.value ?? NaN) * 100).toFixed(2)}%, ${lift}; the chart's last point ${typeof chartLast === "number" ? `${(chartLast * 100).toFixed(2)}%` : "has no lift"}`);
    await pool.end();
  } finally {
    await disconnectDb();
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
