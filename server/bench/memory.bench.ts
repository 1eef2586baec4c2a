import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import getPort from "get-port";
import { buildIfNeeded } from "../cli/build";
import { stopServers } from "./children";
import { env as settings } from "../config";
import { createApiKey } from "../auth/apiKeys";
import { disconnectDb, getDb } from "../db/client";
import { TcpProxy } from "../testing/tcpProxy";
import { benchDatabase } from "./benchDatabase";

// npm run bench:memory — the console's server as `npm start` runs it (front door + Next.js, production
// build), under a hostile workload for BENCH_DURATION_S (default 30 s; --quick: 10 s):
//   - maximal reranks: 1,000 candidates with unknown 200-character ids and inline features (a body
//     near the 1 MiB limit), topK 1,000 (a ~300 KB response), a fresh request id and a fresh
//     250-character user key each time, so every input-sized cache fills with the largest entries;
//   - outcome events with fresh event ids against those requests;
//   - model uploads in parallel, each at the upload limit (MODEL_MAX_BYTES of bytes that are no model);
//   - a database outage through the middle third (the server reaches PostgreSQL through a TCP proxy
//     that stops every byte, as a stopped server would), so the telemetry buffers fill to their bound
//     with ~300 KB log rows and overflow to the spill files.
// It samples the server's RSS (its whole process tree) every 100 ms and fails unless the peak stays
// under the bound the README states:
//   idle RSS + RECENT_RESPONSES_MAX_BYTES + FEATURE_CACHE_MAX_BYTES + 32 MiB (seen event ids)
//   + 4 streams × TELEMETRY_BUFFER_MAX_BYTES + 8 × RERANK_MAX_PAYLOAD_BYTES per connection in flight
//   + 4 × upload limit per upload in flight + 256 MiB.

const QUICK = process.argv.includes("--quick");
const DURATION_S = settings().BENCH_DURATION_S ?? (QUICK ? 10 : 30);
const RERANK_CONNECTIONS = 6;
const EVENT_CONNECTIONS = 2;
const PARALLEL_UPLOADS = 4;
const MiB = 1024 * 1024;
/** The telemetry streams, each with its own memory buffer bounded by TELEMETRY_BUFFER_MAX_BYTES: request log, events, shadow, scoring samples. */
const TELEMETRY_STREAMS = 4;
/**
 * The server's TELEMETRY_BUFFER_MAX_BYTES here: 4 MiB, so that the ~300 KB rows of the outage fill a
 * buffer within seconds on two cores and the overflow path (to the spill file) is what is measured;
 * the bound counts the same figure, so the bound's telemetry term is exercised, not assumed.
 */
const TELEMETRY_BUFFER_BYTES = 4 * 1024 * 1024;

/** RSS in bytes of `pid` and every process below it (the server may run workers). */
function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      total += match ? Number(match[1]) * 1024 : 0;
    } catch {
      continue;
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/**
 * Samples treeRss(pid) every 100 ms on a thread of its own: the load generator keeps this thread
 * busy, and a timer here would sample only between its bursts.
 */
function sampleRss(pid: number): { stop: () => Promise<number[]> } {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { readdirSync, readFileSync } = require("node:fs");
    ${treeRss.toString()}
    const samples = [];
    const timer = setInterval(() => samples.push(treeRss(workerData)), 100);
    parentPort.on("message", () => { clearInterval(timer); parentPort.postMessage(samples); });
  `;
  const worker = new Worker(source, { eval: true, workerData: pid });
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once("message", (samples: number[]) => {
          void worker.terminate();
          resolve(samples);
        });
        worker.postMessage("stop");
      }),
  };
}

/** One upload client on a worker thread: uploads MODEL_MAX_BYTES of bytes that are no model until `until`; returns each answer ("upload 400", …). */
function runUploads(options: { url: string; key: string; bytes: number; until: number }): Promise<string[]> {
  const source = `
    const { parentPort, workerData } = require("node:worker_threads");
    (async () => {
      const { url, key, bytes, until } = workerData;
      const junk = new Uint8Array(bytes).fill(7);
      const answers = [];
      while (Date.now() < until) {
        const form = new FormData();
        form.set("file", new Blob([junk]), "model.onnx");
        form.set("featureSpec", JSON.stringify([{ name: "x", source: "candidate", default: 0 }]));
        try {
          const response = await fetch(url, { method: "POST", headers: { authorization: "Bearer " + key }, body: form });
          answers.push("upload " + response.status);
          await response.arrayBuffer().catch(() => undefined);
        } catch (error) {
          answers.push("upload failed (" + String((error.cause && error.cause.message) || error.message).slice(0, 60) + ")");
        }
      }
      parentPort.postMessage(answers);
    })();
  `;
  const worker = new Worker(source, { eval: true, workerData: options });
  return new Promise((resolve, reject) => {
    worker.once("message", (answers: string[]) => {
      void worker.terminate();
      resolve(answers);
    });
    worker.once("error", reject);
  });
}

function startServer(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/http/main.ts"], { env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1" }, stdio: ["ignore", "ignore", "inherit"] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 120_000;
    const poll = async () => {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/api/v1/ping`)).status) return resolve(child);
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || child.exitCode !== null) return reject(new Error(`the server on ${port} did not start`));
      setTimeout(poll, 250);
    };
    void poll();
  });
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

async function main() {
  const database = await benchDatabase();
  // Uploads need models.write: an automation key with the ML engineer's role (the demo key only serves).
  const owner = await getDb().user.findFirstOrThrow({ where: { roles: { has: "admin" } }, select: { id: true } });
  const uploader = (await createApiKey(getDb(), { name: "bench:memory uploads", kind: "automation", roles: ["ml_engineer"] }, owner.id)).key;
  await disconnectDb();
  buildIfNeeded();
  const port = await getPort();
  // The server reaches PostgreSQL through a proxy the benchmark pauses for the middle third of the load.
  const proxy = TcpProxy.forDatabase(database.url);
  await proxy.open();
  const server = await startServer({ DATABASE_URL: proxy.urlFor(database.url), HOST: "127.0.0.1", PORT: String(port), NODE_ENV: "production", WORKERS: "1", TELEMETRY_BUFFER_MAX_BYTES: String(TELEMETRY_BUFFER_BYTES) }, port);
  const base = `http://127.0.0.1:${port}`;
  const auth = { authorization: `Bearer ${database.apiKey}` };
  const status = new Map<string, number>();
  const count = (what: string) => status.set(what, (status.get(what) ?? 0) + 1);
  try {
    // Warm up with ordinary requests, then take the idle figure.
    for (let i = 0; i < 20; i++) await fetch(`${base}/api/v1/rerank`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(database.request) });
    await new Promise((r) => setTimeout(r, 2000));
    const idle = treeRss(server.pid!);

    const config = settings();
    const uploadLimit = config.MODEL_MAX_BYTES + MiB;
    const bound =
      idle + config.RECENT_RESPONSES_MAX_BYTES + config.FEATURE_CACHE_MAX_BYTES + 32 * MiB + TELEMETRY_STREAMS * TELEMETRY_BUFFER_BYTES +
      (RERANK_CONNECTIONS + EVENT_CONNECTIONS) * 8 * config.RERANK_MAX_PAYLOAD_BYTES + PARALLEL_UPLOADS * 4 * uploadLimit + 256 * MiB;

    const sampler = sampleRss(server.pid!);
    const until = Date.now() + DURATION_S * 1000;
    const served: Array<{ requestId: string; itemId: string }> = [];

    const featureNames = Array.from({ length: 2 }, (_, i) => `f${i}`);
    const maximalRerank = async () => {
      while (Date.now() < until) {
        // Fresh ids every time (a random 186-character prefix), built cheaply so the load is the server's.
        const prefix = randomBytes(93).toString("hex");
        const candidates = Array.from({ length: 1000 }, (_, i) => ({
          id: `${prefix}-${i}`,
          retrievalScore: Math.random(),
          features: Object.fromEntries(featureNames.map((f) => [f, Math.random()])),
        }));
        const body = JSON.stringify({ surface: "search", topK: 1000, requestId: randomBytes(16).toString("hex"), userKey: randomBytes(125).toString("hex"), candidates });
        const response = await fetch(`${base}/api/v1/rerank`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body });
        count(`rerank ${response.status}`);
        const json = (await response.json()) as { requestId?: string; items?: Array<{ id: string }> };
        if (json.requestId && json.items?.[0]) served.push({ requestId: json.requestId, itemId: json.items[0].id });
      }
    };
    const events = async () => {
      while (Date.now() < until) {
        const target = served[Math.floor(Math.random() * served.length)];
        if (!target) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const batch = Array.from({ length: 100 }, () => ({ eventId: randomBytes(60).toString("hex"), requestId: target.requestId, type: "impression", itemId: target.itemId }));
        const response = await fetch(`${base}/api/v1/events`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ events: batch }) });
        count(`events ${response.status}`);
        await response.arrayBuffer();
      }
    };
    // Uploads run on a thread of their own: building and sending 50 MiB bodies would otherwise stall
    // this thread's rerank and event clients, and the server would see far less load than intended.
    const uploads = () => runUploads({ url: `${base}/api/v1/models/search-ranker/versions`, key: uploader, bytes: config.MODEL_MAX_BYTES, until }).then((answers) => {
      for (const answer of answers) count(answer);
    });
    const third = (DURATION_S * 1000) / 3;
    const outage = setTimeout(() => {
      proxy.pause();
      setTimeout(() => proxy.resume(), third).unref();
    }, third);
    await Promise.all([
      ...Array.from({ length: RERANK_CONNECTIONS }, maximalRerank),
      ...Array.from({ length: EVENT_CONNECTIONS }, events),
      ...Array.from({ length: PARALLEL_UPLOADS }, uploads),
    ]);
    clearTimeout(outage);
    proxy.resume();
    const samples = await sampler.stop();
    // The outage must have filled a buffer past its bound, or the telemetry term of the bound was not exercised.
    const metricsText = await (await fetch(`${base}/api/metrics`, { headers: auth })).text();
    const overflowed = [...metricsText.matchAll(/^rerank_telemetry_overflow_rows(?:\{[^}]*\})? (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const peak = Math.max(...samples);
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const ok = peak <= bound;
    console.log(`\nMemory benchmark: ${DURATION_S} s of hostile load on the console's server (front door + Next.js), ${samples.length} RSS samples`);
    console.log(`  workload: ${RERANK_CONNECTIONS} connections of maximal reranks (1,000 unknown 200-char ids, topK 1,000, fresh request ids and user keys), ${EVENT_CONNECTIONS} of event batches (fresh ids), ${PARALLEL_UPLOADS} parallel uploads of ${mib(config.MODEL_MAX_BYTES)}`);
    console.log(`  answers: ${[...status.entries()].map(([k, v]) => `${k} ×${v}`).join(", ")}`);
    console.log(`  RSS idle ${mib(idle)}, median under load ${mib(median)}, peak ${mib(peak)}`);
    console.log(`  bound ${mib(bound)} = idle + recent responses ${mib(config.RECENT_RESPONSES_MAX_BYTES)} + feature store ${mib(config.FEATURE_CACHE_MAX_BYTES)} + seen events 32 MiB`);
    console.log(`        + ${TELEMETRY_STREAMS} telemetry buffers × ${mib(TELEMETRY_BUFFER_BYTES)} (TELEMETRY_BUFFER_MAX_BYTES) (the database was unreachable from ${(third / 1000).toFixed(0)} s to ${((2 * third) / 1000).toFixed(0)} s)`);
    console.log(`        + ${RERANK_CONNECTIONS + EVENT_CONNECTIONS} JSON requests in flight × 8 × ${mib(config.RERANK_MAX_PAYLOAD_BYTES)} + ${PARALLEL_UPLOADS} uploads × 4 × ${mib(uploadLimit)} + 256 MiB`);
    console.log(`  telemetry rows that overflowed a full buffer to the spill file during the outage: ${overflowed}`);
    console.log(`  peak ${ok ? "stays under" : "EXCEEDS"} the bound (${(100 * peak / bound).toFixed(0)} % of it)`);
    if (!ok) process.exitCode = 1;
  } finally {
    // The server flushes what it buffered during the outage on SIGTERM: the database stays reachable until it has exited.
    proxy.resume();
    await stopServers([server]);
    await proxy.close();
    await database.close();
  }
}

await main();
