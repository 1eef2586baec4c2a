import { spawn, type ChildProcess } from "node:child_process";
import autocannon from "autocannon";
import getPort from "get-port";
import * as ort from "onnxruntime-node";
import pg from "pg";
import { Bench } from "tinybench";
import { NEXT_BIN, buildIfNeeded } from "../cli/build";
import { resolveDatabase } from "../cli/database";
import { disconnectDb, getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import { demoModelBytes } from "../demo/models";
import { openSession } from "../inference/sessions";
import { rerank } from "../rerank/pipeline";
import type { RerankRequest } from "../rerank/schema";
import { warmServing } from "../rerank/warm";
import { closeTelemetry, telemetry } from "../telemetry/streams";

// npm run bench:serving — 100 candidates, the demo model, everything measured in this one run:
// (a) raw session.run, (b) the in-process pipeline, (c) HTTP through `next start`, (d) the same
// pipeline behind bare node:http (the ceiling), (e) `next start` with telemetry off; then the
// ratios against the targets, and whether every served request was logged.

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = 8;

const median = (r: { latency?: { p50?: number } } | undefined) => r?.latency?.p50 ?? NaN;

function startServer(command: string[], env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, command, { env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1" }, stdio: ["ignore", "ignore", "inherit"] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" });
        if (r.status) return resolve(child);
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || child.exitCode !== null) return reject(new Error(`server on ${port} did not start`));
      setTimeout(poll, 200);
    };
    void poll();
  });
}

async function load(url: string, body: string, options: { overallRate?: number; duration?: number; amount?: number } = {}) {
  const result = await autocannon({
    url, method: "POST", body, headers: { "content-type": "application/json" }, connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? DURATION_S }), overallRate: options.overallRate,
  });
  const seconds = result.duration || (options.duration ?? DURATION_S);
  return { rps: options.amount ? result["2xx"] / seconds : result.requests.average, p50: result.latency.p50, p99: result.latency.p99, ok: result["2xx"], non2xx: result.non2xx, errors: result.errors };
}

async function countLogged(url: string, userKey: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM rerank_requests WHERE user_key = $1", [userKey]);
  await client.end();
  return Number(rows[0]!.n);
}

/** Polls until `expected` rows are logged or the count stops growing for 5 s. */
async function waitForLogged(url: string, userKey: string, expected: number): Promise<number> {
  let n = await countLogged(url, userKey);
  let stableSince = Date.now();
  while (n < expected && Date.now() - stableSince < 5000) {
    await new Promise((r) => setTimeout(r, 250));
    const next = await countLogged(url, userKey);
    if (next !== n) stableSince = Date.now();
    n = next;
  }
  return n;
}

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  const children: ChildProcess[] = [];
  try {
    await prepareDatabase(database.url, { seed: true });
    process.env.DATABASE_URL = database.url;
    await warmServing(() => {});
    const catalog = await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 100, orderBy: { id: "asc" } });
    const request: RerankRequest = { surface: "search", topK: 20, userKey: "bench", candidates: catalog.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / 100 })) };
    const body = JSON.stringify(request);

    // (a) and (b): in-process medians.
    const session = await openSession(demoModelBytes("linear"));
    const x = new ort.Tensor("float32", new Float32Array(100 * 7).fill(0.5), [100, 7]);
    const bench = new Bench({ time: 3000, warmupTime: 500 });
    bench.add("raw session.run", async () => { await session.run({ features: x }); });
    bench.add("in-process pipeline", async () => { await rerank(request); });
    await bench.run();
    await telemetry().requests.flush();
    const raw = median(bench.tasks[0]!.result as never);
    const pipeline = median(bench.tasks[1]!.result as never);
    await closeTelemetry();
    await disconnectDb();

    buildIfNeeded();

    // (d) the ceiling: bare node:http.
    const barePort = await getPort();
    children.push(await startServer(["--import", "tsx", "server/bench/bareServer.ts", String(barePort)], { DATABASE_URL: database.url, TELEMETRY_DISABLED: "0" }, barePort));
    await load(`http://127.0.0.1:${barePort}/`, body, { duration: 2 });
    const bare = await load(`http://127.0.0.1:${barePort}/`, body);
    children.pop()!.kill("SIGTERM");

    // (c) next start, telemetry on: max throughput, then latency at half of it; every request logged?
    const nextPort = await getPort();
    children.push(await startServer([NEXT_BIN, "start", "-p", String(nextPort), "-H", "127.0.0.1"], { DATABASE_URL: database.url }, nextPort));
    const nextUrl = `http://127.0.0.1:${nextPort}/api/v1/rerank`;
    await load(nextUrl, body, { duration: 4 });
    const nextMax = await load(nextUrl, body);
    // Every request served at full speed must be logged: a fixed number, under a key of its own.
    const burst = await load(nextUrl, JSON.stringify({ ...request, userKey: "bench-burst" }), { amount: Math.round(nextMax.rps * 5) });
    const logged = await waitForLogged(database.url, "bench-burst", burst.ok);
    const halfRate = Math.max(1, Math.floor(nextMax.rps / 2));
    const nextHalf = await load(nextUrl, body, { overallRate: halfRate });
    children.pop()!.kill("SIGTERM");

    // (e) next start, telemetry off.
    const offPort = await getPort();
    children.push(await startServer([NEXT_BIN, "start", "-p", String(offPort), "-H", "127.0.0.1"], { DATABASE_URL: database.url, TELEMETRY_DISABLED: "1" }, offPort));
    await load(`http://127.0.0.1:${offPort}/api/v1/rerank`, body, { duration: 2 });
    const nextOff = await load(`http://127.0.0.1:${offPort}/api/v1/rerank`, body);
    children.pop()!.kill("SIGTERM");

    const served = burst.ok;
    const fmt = (v: number, unit = "") => `${v.toFixed(v < 10 ? 3 : 1)}${unit}`;
    const verdict = (ok: boolean) => (ok ? "meets target" : "MISSES target");
    console.log(`\nServing benchmark: 100 candidates, search-ranker v2, ${CONNECTIONS} connections, ${DURATION_S}s per load, 2 cores`);
    console.log(`  (a) raw onnxruntime session.run      median ${fmt(raw * 1000, " µs")}`);
    console.log(`  (b) in-process pipeline              median ${fmt(pipeline, " ms")}   ×${(pipeline / raw).toFixed(1)} of (a)   target ≤ 0.5 ms: ${verdict(pipeline <= 0.5)}`);
    console.log(`  (d) bare node:http ceiling           ${fmt(bare.rps, " req/s")}   p50 ${bare.p50} ms  p99 ${bare.p99} ms`);
    console.log(`  (c) next start, telemetry on, max    ${fmt(nextMax.rps, " req/s")}   ${(100 * nextMax.rps / bare.rps).toFixed(0)}% of (d)   target ≥ 60%: ${verdict(nextMax.rps >= 0.6 * bare.rps)}`);
    console.log(`      at half of max (${halfRate} req/s)   p50 ${nextHalf.p50} ms  p99 ${nextHalf.p99} ms   target p99 ≤ 5 ms: ${verdict(nextHalf.p99 <= 5)}`);
    console.log(`  (e) next start, telemetry off, max   ${fmt(nextOff.rps, " req/s")}   telemetry costs ${(100 * (1 - nextMax.rps / nextOff.rps)).toFixed(1)}%   target ≤ 10%: ${verdict(nextMax.rps >= 0.9 * nextOff.rps)}`);
    console.log(`  logged at max throughput: ${logged} of ${served} served (${burst.non2xx} non-2xx, ${burst.errors} errors)   target equal: ${verdict(logged === served)}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await disconnectDb().catch(() => {});
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
