import { keyedHash } from "../redact";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import getPort, { portNumbers } from "get-port";
import * as ort from "onnxruntime-node";
import pg from "pg";
import { Bench } from "tinybench";
import { buildIfNeeded } from "../cli/build";
import { disconnectDb } from "../db/client";
import { env as settings } from "../config";
import { demoModelBytes } from "../demo/models";
import { openSession } from "../inference/sessions";
import { rerank } from "../rerank/pipeline";
import { warmServing } from "../rerank/warm";
import { closeTelemetry, telemetry } from "../telemetry/streams";
import { benchDatabase } from "./benchDatabase";
import { stopServers } from "./children";
import { cpusBusySeconds, mainThreadCpuSeconds, processCpuSeconds, openCpuReader, perRequestMicros, type CpuPerRequest, type CpuReader } from "./cpuAccounting";
import { buildNextFloorApp } from "./nextFloor";
import { pacedLoad, type PacedResult } from "./paced";
import { machinePinning, pinnedCommand, pinPostgres, pinProcess } from "./pinning";
import { CONSOLE_RATIO_TARGET, cpuRatio, cpuRatioOverProcessPairs, telemetryCost, telemetryCpuCost, TELEMETRY_TARGET, throughputRatio, type CpuPair, type PairedFigure, type RatePair } from "./servingReport";
import { p99RatioOfBlocks, verdict as p99Verdict } from "./textReport";

// npm run bench:serving — 100 candidates, the demo model, everything measured in this one run:
// (a) raw session.run, (b) the in-process pipeline, (c) HTTP through the console's server (what
// `npm start` runs: the front door answers /api/v1/rerank, Next.js serves the rest), (d) the same
// pipeline behind bare node:http (the ceiling), (e) the console with telemetry off, (h) the console
// with OpenTelemetry tracing on at its default head sampling (spans to a stub collector in this
// process); then the ratios against the targets, and whether every served request was logged.

/** `--quick`: one short round, fewer and shorter blocks, no CPU split (i), no fresh process pairs (j), no tracing (h) and no fresh-Next.js control (under 3 min on 2 cores). */
const QUICK = process.argv.includes("--quick");
const DURATION_S = settings().BENCH_DURATION_S ?? (QUICK ? 3 : 5);
const ROUNDS = QUICK ? 1 : settings().BENCH_ROUNDS;
const PACED_S = QUICK ? 4 : settings().BENCH_PACED_S;
/** Pairs of blocks (telemetry on, off) per kind of server, and each block's seconds: 6 pairs are the fewest that give the median's 95 % interval. */
const TELEMETRY_PAIRS = settings().BENCH_TELEMETRY_PAIRS ?? (QUICK ? 6 : 10);
const BLOCK_S = QUICK ? 1 : 3;
/** Paced half-of-max blocks per side (ABBA), PACED_S seconds a side in all. */
const PACED_BLOCKS = QUICK ? 4 : 6;
/** (j): fresh process pairs (6: the fewest whose extremes bound the median at 95 %, 96.9 %), and blocks a pair (4 s each). */
const FRESH_PAIRS = 6;
const FRESH_BLOCKS = 4;
/** The target (issue 12): the console's p99 at half of max ≤ 1.25 × bare node:http's at the same rate. */
const P99_TARGET = 1.25;
/** BENCH_PIN=1: servers under test on CPU 0, the load generator and PostgreSQL's backends on the others (server/bench/pinning.ts). */
const PINNING = settings().BENCH_PIN ? machinePinning() : null;
if (settings().BENCH_PIN && !PINNING) throw new Error("BENCH_PIN=1 needs Linux with taskset and 2 or more CPUs");
/** The machine's CPUs, read before BENCH_PIN narrows this process's affinity (availableParallelism follows it). */
const CORES = os.availableParallelism();
const ALL_CPUS = `0-${CORES - 1}`;
const RESULT_FILE = path.join(".data", "bench", "serving.json");
const CONNECTIONS = 8;
const PORT_BASE = settings().BENCH_PORT_BASE;
/** A free port (within BENCH_PORT_BASE's ten when it is set). */
const freePort = () => getPort(PORT_BASE ? { port: portNumbers(PORT_BASE, PORT_BASE + 9), host: "127.0.0.1" } : {});

/** The demo serving key: every POST carries it (bare node:http ignores it; the console checks it). */
const auth: Record<string, string> = {};

const median = (r: { latency?: { p50?: number } } | undefined) => r?.latency?.p50 ?? NaN;

/** Starts a server; with BENCH_PIN, on the servers' CPU unless `pinned` is false (then on every CPU: the WORKERS=2 figure). */
function startServer(command: string[], env: Record<string, string>, port: number, pinned = true): Promise<ChildProcess> {
  const [file, args] = PINNING ? pinnedCommand(pinned ? PINNING.server : ALL_CPUS, command) : [process.execPath, command];
  const child = spawn(file, args, { env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1" }, stdio: ["ignore", "ignore", "inherit"] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/ping`);
        if (r.status) return resolve(child);
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || child.exitCode !== null) {
        // Not handed to the caller, so not stopped by it: a server still starting is stopped here.
        if (child.exitCode === null) child.kill("SIGKILL");
        return reject(new Error(`server on ${port} did not start`));
      }
      setTimeout(poll, 200);
    };
    void poll();
  });
}

/**
 * Starts servers at once and appends them to `children` in the order given, whether or not all
 * start (so the caller's cleanup stops those that did). @throws the first start's error, after all settled.
 */
async function startAll(children: ChildProcess[], starts: ReadonlyArray<() => Promise<ChildProcess>>): Promise<void> {
  const results = await Promise.allSettled(starts.map((start) => start()));
  for (const result of results) if (result.status === "fulfilled") children.push(result.value);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

async function load(url: string, body: string, options: { duration?: number; amount?: number; method?: "GET" | "POST" } = {}) {
  const method = options.method ?? "POST";
  const result = await autocannon({
    url, method, ...(method === "POST" ? { body, headers: { "content-type": "application/json", ...auth } } : {}), connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? DURATION_S }),
  });
  const seconds = result.duration || (options.duration ?? DURATION_S);
  // Answers over the load's measured length: autocannon's requests.average is a mean of whole-second
  // buckets, which a block of 1.5 s does not fill.
  return { rps: (options.amount ? result["2xx"] : result.requests.total) / seconds, p50: result.latency.p50, p99: result.latency.p99, ok: result["2xx"], non2xx: result.non2xx, errors: result.errors, total: result.requests.total };
}

async function countLogged(url: string, userKey: string, fallbacksOnly = false): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM rerank_requests WHERE user_key = $1${fallbacksOnly ? " AND fallback_used" : ""}`, [keyedHash(userKey)]);
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

/** A checkpoint, then up to 20 s for PostgreSQL's autovacuum workers on the benchmark's database to finish. */
async function settlePostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CHECKPOINT").catch(() => {}); // needs pg_checkpoint or superuser: best effort
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database()");
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await client.end();
  }
}

/** Seconds from the run's start at the end of each phase, in order (printed, and in serving.json: what --quick's length is made of). */
const phases: Record<string, number> = {};
const runStarted = performance.now();
const phase = (name: string) => { phases[name] = Math.round((performance.now() - runStarted) / 100) / 10; };

async function main() {
  if (PINNING) pinProcess(process.pid, PINNING.others);
  const database = await benchDatabase();
  // PostgreSQL goes on the load generator's CPUs for the run, and back however the run ends.
  const unpinPostgres = PINNING ? await pinPostgres(database.url, PINNING.others) : () => {};
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => { unpinPostgres(); process.exit(130); });
  const children: ChildProcess[] = [];
  let collector: ReturnType<typeof createServer> | null = null;
  let cpuReader: CpuReader | null = null;
  try {
    await warmServing(() => {});
    const request = database.request;
    auth.authorization = `Bearer ${database.apiKey}`;
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
    phase("in-process and build");

    // Six servers at once — (d) bare node:http, (c) the console, (e) the console with telemetry off,
    // bare node:http with telemetry off, (g) WORKERS=2 and (h) tracing — measured in alternating
    // rounds, so drift in a shared machine's speed hits all of them alike.
    const consoleServer = (port: number, telemetryOff: boolean, workers = 1, extra: Record<string, string> = {}) =>
      startServer(["--import", "tsx", "server/http/main.ts"], { DATABASE_URL: database.url, HOST: "127.0.0.1", PORT: String(port), NODE_ENV: "production", TELEMETRY_DISABLED: telemetryOff ? "1" : "0", WORKERS: String(workers), ...extra }, port, workers === 1);
    const bareServer = (port: number, telemetryOff: boolean) =>
      startServer(["--import", "tsx", "server/bench/bareServer.ts", String(port)], { DATABASE_URL: database.url, TELEMETRY_DISABLED: telemetryOff ? "1" : "0", NODE_ENV: "production" }, port);
    // (h) The console with tracing on, sampled as configured by default (OTEL_TRACES_SAMPLER_ARG
    // unless the environment sets it), exporting to a stub OTLP collector that counts the spans.
    let spansReceived = 0;
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        spansReceived += (Buffer.concat(chunks).toString("utf8").match(/"spanId"/g) ?? []).length;
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector!.listen(0, "127.0.0.1", resolve));
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    // get-port keeps the ports it gave out for a while, so the six are distinct before any is bound.
    const [barePort, nextPort, offPort, bareOffPort, clusterPort, tracedPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    // Started at once (their start-ups overlap on the two cores; one after another they took about a
    // minute of --quick's run); in this order in `children`. The last two are the console with two
    // server processes on the port (WORKERS=2, node:cluster) and (h), which --quick leaves out (no
    // target of issue 12: it is the tracing issue's figure).
    await startAll(children, [
      () => bareServer(barePort, false),
      () => consoleServer(nextPort, false),
      () => consoleServer(offPort, true),
      () => bareServer(bareOffPort, true),
      () => consoleServer(clusterPort, false, 2),
      ...(QUICK ? [] : [() => consoleServer(tracedPort, false, 1, { OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl })]),
    ]);
    const clusterUrl = `http://127.0.0.1:${clusterPort}/api/v1/rerank`;
    const tracedUrl = `http://127.0.0.1:${tracedPort}/api/v1/rerank`;
    const bareUrl = `http://127.0.0.1:${barePort}/`;
    const nextUrl = `http://127.0.0.1:${nextPort}/api/v1/rerank`;
    const offUrl = `http://127.0.0.1:${offPort}/api/v1/rerank`;
    const bareOffUrl = `http://127.0.0.1:${bareOffPort}/`;
    /** The servers of the rounds, in the rounds' order, and where each reranks. */
    const roundUrls = new Map<"bare" | "next" | "off" | "bareOff" | "twoWorkers" | "traced", string>([["bare", bareUrl], ["next", nextUrl], ["off", offUrl], ["bareOff", bareOffUrl], ["twoWorkers", clusterUrl]]);
    if (!QUICK) roundUrls.set("traced", tracedUrl);
    for (const url of roundUrls.values()) await load(url, body, { duration: QUICK ? 2 : 3 });
    phase("servers started and warmed");
    cpuReader = await openCpuReader(database.url);
    const rounds: Array<{ bare: number; next: number; off: number; bareOff: number; twoWorkers: number; traced: number }> = [];
    // CPU per request of the server and of PostgreSQL's backends for its database, telemetry on and off.
    const cpu: Record<"bare" | "next" | "off" | "bareOff", CpuPerRequest[]> = { bare: [], next: [], off: [], bareOff: [] };
    // With BENCH_PIN, how busy the load generator's and PostgreSQL's CPUs were in each block (near 100 %: they, not the server, bound the figure).
    const othersBusy: number[] = [];
    const serverBusy: number[] = [];
    const measured = async (which: keyof typeof cpu, pid: number, url: string, duration?: number) => {
      const before = await cpuReader!.read(pid);
      const othersBefore = PINNING ? cpusBusySeconds(PINNING.otherCpus) : null;
      const serverBefore = PINNING ? cpusBusySeconds([0]) : null;
      const started = performance.now();
      const result = await load(url, body, duration ? { duration } : {});
      const othersAfter = PINNING ? cpusBusySeconds(PINNING.otherCpus) : null;
      const serverAfter = PINNING ? cpusBusySeconds([0]) : null;
      const seconds = (performance.now() - started) / 1000;
      if (PINNING && othersBefore !== null && othersAfter !== null) othersBusy.push((othersAfter - othersBefore) / (seconds * PINNING.otherCpus.length));
      if (serverBefore !== null && serverAfter !== null) serverBusy.push((serverAfter - serverBefore) / seconds);
      // The telemetry of these requests is written within a flush interval or two.
      await new Promise((r) => setTimeout(r, 600));
      cpu[which].push(perRequestMicros(before, await cpuReader!.read(pid), result.total));
      return result;
    };
    const [bareChild, nextChild, offChild, bareOffChild] = children as [ChildProcess, ChildProcess, ChildProcess, ChildProcess];
    let bare = { p50: NaN, p99: NaN };
    // The console and bare node:http with telemetry off take the rounds too, and the rounds' order
    // reverses every other round: the figures below compare each server with its telemetry-on twin,
    // and the two must have the same history. A server that has just run at max holds a heap of
    // hundreds of MB awaiting an old-generation collection, and pays more per request until it comes
    // (a scratch probe, 2026-12-03: telemetry's event-loop cost 7.7–13.1 % when only the "on" side
    // had just run 60 s at max, 1.2–9.8 % with equal histories; the two sides' live heaps in
    // snapshots 164 and 162 MB).
    const roundOrder = [...roundUrls.keys()];
    for (let r = 0; r < ROUNDS; r++) {
      const got = new Map<(typeof roundOrder)[number], Awaited<ReturnType<typeof load>>>();
      for (const side of r % 2 === 0 ? roundOrder : [...roundOrder].reverse()) got.set(side, await load(roundUrls.get(side)!, body));
      const rps = (side: (typeof roundOrder)[number]) => got.get(side)?.rps ?? NaN;
      rounds.push({ bare: rps("bare"), next: rps("next"), off: rps("off"), bareOff: rps("bareOff"), twoWorkers: rps("twoWorkers"), traced: rps("traced") });
      bare = got.get("bare")!;
    }
    phase("rounds");
    // Telemetry's cost: TELEMETRY_PAIRS pairs of blocks (on, off) for the console and for bare
    // node:http, each pair's order alternating (on-off, off-on, …: ABBA), and which kind goes first
    // alternating too, so a drift in the machine's speed falls on both sides alike; each block waits
    // for its telemetry to be written before the next starts (that PostgreSQL work is the on
    // block's, not the next block's). The console's on block and bare's of the same i pair up for
    // the console-to-bare ratio.
    const pairs = { console: [] as RatePair[], bare: [] as RatePair[] };
    const kinds = [["console", nextChild.pid!, nextUrl, offChild.pid!, offUrl], ["bare", bareChild.pid!, bareUrl, bareOffChild.pid!, bareOffUrl]] as const;
    for (let i = 0; i < TELEMETRY_PAIRS; i++) {
      for (const [kind, onPid, onTarget, offPid, offTarget] of i % 2 === 0 ? kinds : [...kinds].reverse()) {
        const on = () => measured(kind === "console" ? "next" : "bare", onPid, onTarget, BLOCK_S);
        const off = () => measured(kind === "console" ? "off" : "bareOff", offPid, offTarget, BLOCK_S);
        const [onResult, offResult] = i % 2 === 0 ? [await on(), await off()] : await off().then(async (o) => [await on(), o] as const);
        pairs[kind].push({ test: onResult.rps, reference: offResult.rps });
      }
    }
    const med = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };
    const bareRps = med(rounds.map((r) => r.bare));
    const nextRps = med(rounds.map((r) => r.next));
    const offRps = med(pairs.console.map((p) => p.reference));
    const twoWorkersRps = med(rounds.map((r) => r.twoWorkers));
    const consoleTelemetry = telemetryCost(pairs.console);
    const bareTelemetry = telemetryCost(pairs.bare);
    const nextTelemetryCost = consoleTelemetry.estimate;
    const bareTelemetryCost = bareTelemetry.estimate;
    const consoleRatio = throughputRatio(pairs.console.map((c, i) => ({ test: c.test, reference: pairs.bare[i]!.test })));
    const tracedRps = med(rounds.map((r) => r.traced));
    const tracingCost = med(rounds.map((r) => 1 - r.traced / r.next));
    const tracedRequests = rounds.reduce((n, r) => n + r.traced * DURATION_S, 0);
    const cpuMedian = (which: keyof typeof cpu) => ({ server: med(cpu[which].map((c) => c.server)), postgres: med(cpu[which].map((c) => c.postgres)) });
    const cpuPerRequest = { bare: cpuMedian("bare"), bareOff: cpuMedian("bareOff"), console: cpuMedian("next"), consoleOff: cpuMedian("off") };

    phase("telemetry pairs");

    // Telemetry's cost as the serving thread pays it: the console with telemetry on and the one with
    // it off under the same paced load at the same time (the throughput pairs above alternate in time,
    // so every drift of a shared machine's speed lands in their figure), which one's load starts first
    // alternating by block; each block gives each server's main-thread CPU per request. Each at 40 % of
    // the console's max, nearer the load the throughput target is about than (i)'s quarter of bare's:
    // a flush's fixed cost (a transaction, a message to the database thread) spreads over more rows as
    // the rate rises (in one process, 13.8 % at 166 req/s, 8.1 % at 500). Read here, before the burst
    // and the paced phase load the telemetry-on console alone: so far the two have taken the same
    // rounds and blocks, and the figure must compare equal histories (see the rounds).
    /** A server loaded in a CPU-per-request block: its process and its rerank address. */
    type Side = { pid: number; url: string };
    const cpuBlockS = QUICK ? 2 : 4;
    const CPU_BLOCKS = QUICK ? 6 : 12;
    /** Each block's CPU per request of both servers: their event-loop threads (`main`) and their whole processes (`process`: GC helpers and every other thread too). */
    const cpuPairs = async (ref: Side, tst: Side, rate: number, blockCount = CPU_BLOCKS): Promise<{ main: CpuPair[]; process: CpuPair[] }> => {
      const run = (side: Side) => pacedLoad(side.url, { body, rate, durationS: cpuBlockS, headers: auth });
      const read = (side: Side) => ({ main: mainThreadCpuSeconds(side.pid), process: processCpuSeconds(side.pid) });
      const blocks = { main: [] as CpuPair[], process: [] as CpuPair[] };
      for (let b = 0; b < blockCount; b++) {
        const before = { ref: read(ref), tst: read(tst) };
        const [r, t] = b % 2 === 0 ? await Promise.all([run(ref), run(tst)]) : (await Promise.all([run(tst), run(ref)])).reverse() as [PacedResult, PacedResult];
        const after = { ref: read(ref), tst: read(tst) };
        for (const which of ["main", "process"] as const) {
          blocks[which].push({ reference: (1e6 * (after.ref[which] - before.ref[which])) / Math.max(1, r!.ok), test: (1e6 * (after.tst[which] - before.tst[which])) / Math.max(1, t!.ok) });
        }
      }
      return blocks;
    };
    const telemetryRate = Math.max(1, Math.floor(nextRps * 0.4));
    const telemetryCpu = telemetryCpuCost((await cpuPairs({ pid: offChild.pid!, url: offUrl }, { pid: nextChild.pid!, url: nextUrl }, telemetryRate)).main);
    phase("telemetry at once");

    // Every request served at full speed must be logged: a fixed number, under a key of its own.
    const burst = await load(nextUrl, JSON.stringify({ ...request, userKey: "bench-burst" }), { amount: Math.round(nextRps * 5) });
    const logged = await waitForLogged(database.url, "bench-burst", burst.ok);
    const fallbacks = await countLogged(database.url, "bench-burst", true);
    phase("burst");

    // The servers the rest of the run does not load (WORKERS=2, tracing) stop, and PostgreSQL is let
    // settle (a checkpoint, then no autovacuum worker) after the burst's writes: a background job's
    // 100 ms on these two cores would otherwise land in one side's blocks and decide the p99 (seen:
    // bare node:http's p99 at 147 ms in one quick run, the console's at 106 ms in another).
    await stopServers(children.splice(4, 2));
    await settlePostgres(database.url);

    // Latency at half of max throughput, paced (open loop), on the console and on the bare server:
    // PACED_BLOCKS blocks a side in ABBA order, pooled, the p99s compared with a distribution-free
    // interval (textReport.ts p99Ratio, as bench:text does).
    const halfRate = Math.max(1, Math.floor(nextRps / 2));
    const blockS = PACED_S / PACED_BLOCKS;
    const halves = { console: [] as PacedResult[], bare: [] as PacedResult[] };
    for (let b = 0; b < PACED_BLOCKS; b++) {
      const order = b % 2 === 0 ? (["console", "bare"] as const) : (["bare", "console"] as const);
      for (const side of order) halves[side].push(await pacedLoad(side === "console" ? nextUrl : bareUrl, { body, rate: halfRate, durationS: blockS, headers: auth }));
    }
    const pooled = (results: PacedResult[]) => {
      const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
      return { latencies, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, failed: results.reduce((n, r) => n + r.failed, 0) };
    };
    const nextHalf = pooled(halves.console);
    const bareHalf = pooled(halves.bare);
    const halfP99 = p99RatioOfBlocks(halves.bare.map((r) => r.latencies), halves.console.map((r) => r.latencies));
    const halfVerdict = p99Verdict(halfP99, P99_TARGET);
    phase("paced at half of max");

    // (i) Where the console's extra CPU per request goes (skipped by --quick: a diagnosis, no target
    // of its own): two servers under the same paced load at once, as for telemetry's cost above.
    // Telemetry off on all four, so the rerank path alone is compared: bare node:http, the same with
    // Next.js on a thread of its process answering its GETs as the console runs it (bareServer.ts
    // --with-next), the same with Next.js in the serving thread's isolate (--with-next-in-process: the
    // console until 2026-12-01), and the console.
    const cpuRate = Math.max(1, Math.floor(bareRps / 4));
    let cpuShares: Record<"consoleOverBare" | "nextOnThread" | "frontDoor" | "nextInProcess", PairedFigure> | null = null;
    let freshPairs: { process: PairedFigure; main: PairedFigure } | null = null;
    if (!QUICK) {
      /** How to start a server on a port, and the path it reranks at. */
      type Starter = { start: (port: number) => Promise<ChildProcess>; path: string };
      /** Two servers started at once (appended to `children`), then warmed by 3 s of load at once. */
      const startWarmed = async (servers: readonly [Starter, Starter]): Promise<[Side, Side]> => {
        const ports: number[] = [];
        for (let i = 0; i < servers.length; i++) ports.push(await freePort());
        const first = children.length;
        await startAll(children, servers.map((server, i) => () => server.start(ports[i]!)));
        const started = servers.map((server, i): Side => ({ pid: children[first + i]!.pid!, url: `http://127.0.0.1:${ports[i]}${server.path}` }));
        await Promise.all(started.map((side) => load(side.url, body, { duration: 3 })));
        return [started[0]!, started[1]!];
      };
      const bareWith = (option: string): Starter => ({
        start: (port: number) => startServer(["--import", "tsx", "server/bench/bareServer.ts", String(port), option], { DATABASE_URL: database.url, TELEMETRY_DISABLED: "1", NODE_ENV: "production" }, port),
        path: "/",
      });
      const [bareWithNext, bareWithNextInProcess] = await startWarmed([bareWith("--with-next"), bareWith("--with-next-in-process")]);
      const sides = { bare: { pid: bareOffChild.pid!, url: bareOffUrl }, bareWithNext, bareWithNextInProcess, console: { pid: offChild.pid!, url: offUrl } };
      cpuShares = {
        consoleOverBare: cpuRatio((await cpuPairs(sides.bare, sides.console, cpuRate)).main),
        nextOnThread: cpuRatio((await cpuPairs(sides.bare, sides.bareWithNext, cpuRate)).main),
        frontDoor: cpuRatio((await cpuPairs(sides.bareWithNext, sides.console, cpuRate)).main),
        nextInProcess: cpuRatio((await cpuPairs(sides.bare, sides.bareWithNextInProcess, cpuRate)).main),
      };
      phase("(i) CPU split");

      // (j) The ≥ 90 % target by CPU per request over fresh process pairs: one process of each kind
      // reads its ratio several per cent off another's (run 2 of 2026-12-03 read bare + Next.js, a
      // superset of bare's work, 7 % cheaper than bare), so its blocks are not independent samples of
      // the ratio. FRESH_PAIRS times: a new bare node:http and a new console (telemetry off) started
      // together, warmed, loaded at once for FRESH_BLOCKS blocks; each pair gives its blocks' median
      // (servingReport.ts cpuRatioOverProcessPairs), for the whole process (GC helpers and every
      // other thread too: what a core-bound server pays) and for its event-loop thread.
      await stopServers(children.splice(-2)); // (i)'s bare + Next.js servers
      const perPair = { main: [] as CpuPair[][], process: [] as CpuPair[][] };
      for (let k = 0; k < FRESH_PAIRS; k++) {
        const [bare, consoleSide] = await startWarmed([
          { start: (port) => bareServer(port, true), path: "/api/v1/rerank" },
          { start: (port) => consoleServer(port, true), path: "/api/v1/rerank" },
        ]);
        const pairChildren = children.slice(-2);
        const blocks = await cpuPairs(bare, consoleSide, cpuRate, FRESH_BLOCKS);
        // A server that exited reads 0 s of CPU from then on: say so now, not as a negative figure after every pair.
        const exited = pairChildren.find((child) => child.exitCode !== null || child.signalCode !== null);
        if (exited) throw new Error(`(j) pair ${k + 1}: a server exited during its blocks (pid ${exited.pid}, ${exited.signalCode ?? `code ${exited.exitCode}`}); its CPU per request cannot be read`);
        perPair.main.push(blocks.main);
        perPair.process.push(blocks.process);
        await stopServers(children.splice(-2));
      }
      freshPairs = { process: cpuRatioOverProcessPairs(perPair.process), main: cpuRatioOverProcessPairs(perPair.main) };
      phase("(j) fresh process pairs");
    }

    // Next's own floor: an empty route handler (GET /api/v1/ping) against the bare server's ping.
    const nextPing = await load(`http://127.0.0.1:${nextPort}/api/v1/ping`, "", { method: "GET" });
    const barePing = await load(bareUrl, "", { method: "GET" });
    await stopServers(children.splice(0));

    phase("Next's floor");
    // The control: a freshly generated Next.js app with one empty route handler, none of our code
    // (skipped by --quick: building it takes minutes).
    let floor = { rps: NaN };
    let floorHalf = { rate: NaN, p50: NaN, p99: NaN };
    if (!QUICK) {
      const floorPort = await freePort();
      const floorArgs = buildNextFloorApp();
      children.push(await startServer(floorArgs(floorPort), {}, floorPort));
      const floorUrl = `http://127.0.0.1:${floorPort}/api/ping`;
      await load(floorUrl, "", { method: "GET", duration: 3 });
      floor = await load(floorUrl, "", { method: "GET" });
      floorHalf = await pacedLoad(floorUrl, { method: "GET", rate: Math.max(1, Math.floor(floor.rps / 2)), durationS: PACED_S });
      await stopServers(children.splice(0));
      phase("control app");
    }

    phase("run");
    const served = burst.ok;
    const fmt = (v: number, unit = "") => `${v.toFixed(v < 10 ? 3 : 1)}${unit}`;
    const verdict = (ok: boolean) => (ok ? "meets target" : "MISSES target");
    console.log(`\nServing benchmark: 100 candidates, search-ranker v2, ${CONNECTIONS} connections, ${DURATION_S}s per load, medians of ${ROUNDS} alternating rounds, ${CORES} cores`);
    console.log(`  (a) raw onnxruntime session.run      median ${fmt(raw * 1000, " µs")}`);
    console.log(`  (b) in-process pipeline              median ${fmt(pipeline, " ms")}   ×${(pipeline / raw).toFixed(1)} of (a)   target ≤ 0.5 ms: ${verdict(pipeline <= 0.5)}`);
    console.log(`  (d) bare node:http ceiling           ${fmt(bareRps, " req/s")}   p50 ${bare.p50} ms  p99 ${bare.p99} ms (closed loop, last round)`);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    const paired = (f: PairedFigure, what: string) => `${pct(f.estimate)}${f.interval ? ` [${pct(f.interval.lower)}, ${pct(f.interval.upper)}]` : ""} (median of ${f.pairs.length} paired ${BLOCK_S} s blocks, ABBA${what})`;
    console.log(`  (c) console (front door), max        ${fmt(nextRps, " req/s")}   ${(100 * nextRps / bareRps).toFixed(0)}% of (d) in the rounds; paired: ${paired(consoleRatio, ", telemetry on")}   target ≥ ${pct(CONSOLE_RATIO_TARGET)}: ${consoleRatio.verdict}`);
    if (freshPairs) console.log(`      by CPU per request over fresh process pairs (j, whole process): ×${freshPairs.process.estimate.toFixed(3)} of bare's ≈ ${pct(1 / freshPairs.process.estimate)} of its throughput on a core of its own   target ≤ ×${(1 / CONSOLE_RATIO_TARGET).toFixed(3)}: ${freshPairs.process.verdict}`);
    console.log(`      rounds (bare / console, then each with telemetry off): ${rounds.map((r) => `${r.bare.toFixed(0)} / ${r.next.toFixed(0)}, ${r.bareOff.toFixed(0)} / ${r.off.toFixed(0)}`).join(";  ")}`);
    console.log(`      paced at half of max (${halfRate} req/s, ${PACED_BLOCKS} × ${fmt(blockS, " s")} a side, ABBA, open loop): p50 ${fmt(nextHalf.p50, " ms")}  p99 ${fmt(nextHalf.p99, " ms")}  max ${fmt(nextHalf.max, " ms")}   p99 ×${halfP99.ratio.toFixed(2)} of bare's${halfP99.interval ? ` [${halfP99.interval.lower.toFixed(2)}, ${halfP99.interval.upper.toFixed(2)}]` : ""}   target ≤ ×${P99_TARGET}: ${halfVerdict}`);
    console.log(`      the bare server at the same rate:  p50 ${fmt(bareHalf.p50, " ms")}  p99 ${fmt(bareHalf.p99, " ms")}  max ${fmt(bareHalf.max, " ms")}${nextHalf.failed + bareHalf.failed ? `   (${nextHalf.failed} / ${bareHalf.failed} requests failed)` : ""}`);
    const costLine = (c: PairedFigure) => `telemetry costs ${paired(c, "")}   target ≤ ${pct(TELEMETRY_TARGET)}: ${c.verdict}`;
    console.log(`  (e) console, telemetry off, max      ${fmt(offRps, " req/s")}   ${costLine(consoleTelemetry)}`);
    console.log(`      on bare node:http (the framework's cost not in the way): ${costLine(bareTelemetry)}`);
    console.log(`      on the serving thread's CPU, on and off loaded at once (${CPU_BLOCKS} blocks of ${cpuBlockS} s, ${telemetryRate} req/s each): telemetry costs ${pct(telemetryCpu.estimate)}${telemetryCpu.interval ? ` [${pct(telemetryCpu.interval.lower)}, ${pct(telemetryCpu.interval.upper)}]` : ""} of a one-core-bound server's throughput (1 − off/on µs)   target ≤ ${pct(TELEMETRY_TARGET)}: ${telemetryCpu.verdict}`);
    if (PINNING) console.log(`      pinned (BENCH_PIN): servers on CPU ${PINNING.server}, load generator and PostgreSQL's backends on CPU ${PINNING.others}; in the telemetry blocks CPU ${PINNING.server} was busy ${pct(med(serverBusy))} (median) and CPU ${PINNING.others} ${pct(med(othersBusy))} (max ${pct(Math.max(...othersBusy))}): near 100 % on CPU ${PINNING.others} the load generator and PostgreSQL, not the server, bound the figure`);
    console.log(`      pairs (on / off req/s): console ${pairs.console.map((p) => `${p.test.toFixed(0)}/${p.reference.toFixed(0)}`).join(" ")}; bare ${pairs.bare.map((p) => `${p.test.toFixed(0)}/${p.reference.toFixed(0)}`).join(" ")}`);
    const us = (v: number) => `${v.toFixed(0)} µs`;
    const cpuLine = (on: { server: number; postgres: number }, off: { server: number; postgres: number }) =>
      `server ${us(on.server)} (off ${us(off.server)}: telemetry +${us(on.server - off.server)}, ${(100 * (on.server - off.server) / off.server).toFixed(0)}% of a request's server CPU), PostgreSQL backends ${us(on.postgres)} (off ${us(off.postgres)})`;
    console.log(`      CPU per request (medians; PostgreSQL's shared processes not counted): console ${cpuLine(cpuPerRequest.console, cpuPerRequest.consoleOff)}`);
    console.log(`                                                                        bare    ${cpuLine(cpuPerRequest.bare, cpuPerRequest.bareOff)}`);
    const ratioLine = (f: PairedFigure) => `×${f.estimate.toFixed(3)}${f.interval ? ` [${f.interval.lower.toFixed(3)}, ${f.interval.upper.toFixed(3)}]` : ""}`;
    if (cpuShares) {
      console.log(`  (i) where the console's extra CPU per request goes (event-loop thread, telemetry off; ${CPU_BLOCKS} blocks of ${cpuBlockS} s, two servers under ${cpuRate} req/s each at once):`);
      console.log(`      console / bare node:http                          ${ratioLine(cpuShares.consoleOverBare)}   ≥ ${pct(CONSOLE_RATIO_TARGET)} of bare's throughput needs ≤ ×${(1 / CONSOLE_RATIO_TARGET).toFixed(3)}: ${cpuShares.consoleOverBare.verdict}`);
      console.log(`      Next.js on its thread (bare + pages thread / bare) ${ratioLine(cpuShares.nextOnThread)}   (no request of ours passes through it; as the console runs it)`);
      console.log(`      the front door (console / bare + pages thread)    ${ratioLine(cpuShares.frontDoor)}   (Host, CSRF, content-type and size checks, the key check, security headers, error mapping)`);
      console.log(`      Next.js in the serving thread instead (/ bare)    ${ratioLine(cpuShares.nextInProcess)}   (its isolate's heap, patched timers and AsyncLocalStorage hooks: why it has a thread of its own)`);
    } else console.log("  (i) where the console's extra CPU per request goes: skipped by --quick");
    if (freshPairs) {
      const f = freshPairs.process;
      console.log(`  (j) console / bare node:http over ${FRESH_PAIRS} fresh process pairs (each pair: a new process of each kind, ${FRESH_BLOCKS} blocks of ${cpuBlockS} s at ${cpuRate} req/s each at once, telemetry off; the median of each pair's blocks):`);
      console.log(`      whole process   ${ratioLine(f)}   ≈ ${pct(1 / f.estimate)} of bare's throughput on a core of its own   target ≤ ×${(1 / CONSOLE_RATIO_TARGET).toFixed(3)} (≥ ${pct(CONSOLE_RATIO_TARGET)}): ${f.verdict}`);
      console.log(`      event-loop thread ${ratioLine(freshPairs.main)}   ${freshPairs.main.verdict}`);
      console.log(`      pairs (whole process): ${f.pairs.map((x) => `×${x.toFixed(3)}`).join(" ")}`);
    } else console.log("  (j) console / bare over fresh process pairs: skipped by --quick");
    console.log(`  (g) WORKERS=2 (node:cluster)         ${fmt(twoWorkersRps, " req/s")}   vs ${fmt(nextRps, " req/s")} with 1 worker (×${(twoWorkersRps / nextRps).toFixed(2)}; rounds ${rounds.map((r) => `${r.twoWorkers.toFixed(0)}/${r.next.toFixed(0)}`).join(", ")})`);
    console.log(`      as measured: PostgreSQL, the load generator and the other servers share these ${CORES} cores`);
    if (QUICK) console.log("  (h) tracing on: skipped by --quick");
    else console.log(`  (h) tracing on (sampled, ${settings().OTEL_TRACES_SAMPLER} ${settings().OTEL_TRACES_SAMPLER_ARG})  ${fmt(tracedRps, " req/s")}   costs ${(100 * tracingCost).toFixed(1)}% of (c) (median of paired rounds); ${spansReceived} spans exported for ~${tracedRequests.toFixed(0)} requests (7 spans per traced request)`);
    console.log(`  logged at max throughput: ${logged} of ${served} served (${burst.non2xx} non-2xx, ${burst.errors} errors; ${fallbacks} served by a fallback)   target equal: ${verdict(logged === served)}`);
    console.log(`  Next.js floor: an empty route handler behind the front door (GET /api/v1/ping) ${fmt(nextPing.rps, " req/s")} vs ${fmt(barePing.rps, " req/s")} on bare node:http (${(100 * nextPing.rps / barePing.rps).toFixed(0)}%);`);
    console.log(`      Next's fixed cost ≈ ${fmt(1000 / nextPing.rps - 1000 / barePing.rps, " ms")} of one core per request, vs ${fmt(1000 / bareRps, " ms")} for the whole rerank on bare node:http`);
    if (QUICK) console.log("  (f) control app: skipped by --quick");
    else {
      console.log(`  (f) control, a freshly generated Next.js app (one empty route handler, none of this project's code):`);
      console.log(`      ${fmt(floor.rps, " req/s")} max (${(100 * floor.rps / barePing.rps).toFixed(0)}% of bare node:http's empty route); paced at half of that (${floorHalf.rate} req/s): p50 ${fmt(floorHalf.p50, " ms")}  p99 ${fmt(floorHalf.p99, " ms")}`);
    }
    console.log(`      (that is why the front door answers /api/v1/rerank itself: through Next's router the rerank would pay it on every request)`);
    // The same figures for machines (CI dashboards, regressions across commits).
    const result = {
      date: new Date().toISOString(), quick: QUICK, rounds: ROUNDS, durationS: DURATION_S, connections: CONNECTIONS,
      // Throughput of the console by number of server processes (WORKERS); consoleRps is the 1-worker figure.
      workers: { "1": nextRps, "2": twoWorkersRps },
      // ratio: the console's throughput / bare's, median of the paired blocks (ratioRounds: of the rounds' medians).
      bareRps, consoleRps: nextRps, ratio: consoleRatio.estimate, ratioRounds: nextRps / bareRps,
      bareP99Ms: bareHalf.p99, consoleP99Ms: nextHalf.p99, halfRate,
      telemetryCost: nextTelemetryCost, bareTelemetryCost, served, logged,
      // Each target's verdict: met / missed, or "… (within noise)" when the 95 % interval straddles the target.
      verdicts: { ratio: consoleRatio.verdict, ratioByCpu: freshPairs?.process.verdict ?? null, p99AtHalf: halfVerdict, telemetryCost: consoleTelemetry.verdict, telemetryCpuCost: telemetryCpu.verdict, bareTelemetryCost: bareTelemetry.verdict, logged: logged === served ? "met" : "missed" },
      ratioPaired: consoleRatio,
      p99AtHalf: { ratio: halfP99.ratio, interval: halfP99.interval, samples: halfP99.samples, blocks: PACED_BLOCKS, blockS },
      // The paired blocks behind telemetryCost and bareTelemetryCost: each pair's cost, the median's 95 % interval, the verdict.
      pinned: PINNING ? { server: PINNING.server, others: PINNING.others, serverBusyMedian: med(serverBusy), othersBusyMedian: med(othersBusy), othersBusyMax: Math.max(...othersBusy) } : null,
      telemetry: { pairs: TELEMETRY_PAIRS, blockS: BLOCK_S, console: { ...consoleTelemetry, blocks: pairs.console }, bare: { ...bareTelemetry, blocks: pairs.bare } },
      // CPU µs per request: the server's process tree and PostgreSQL's backends for the benchmark's database.
      cpuPerRequestUs: cpuPerRequest,
      // (i) Main-thread CPU per request, ratios of servers loaded at once: console / bare, Next.js on its thread (bare + pages thread / bare),
      // the front door (console / bare + pages thread), Next.js in the serving thread's isolate (bare + Next.js in process / bare).
      // null under --quick.
      cpuShares: cpuShares && { rate: cpuRate, blockS: cpuBlockS, ...cpuShares },
      // (j) CPU per request, console / bare, over fresh process pairs (whole process, and event-loop thread): the
      // ≥ 90 % target by CPU (≤ ×1/0.9; verdicts.ratioByCpu). null under --quick.
      cpuFreshPairs: freshPairs && { pairs: FRESH_PAIRS, blocksPerPair: FRESH_BLOCKS, rate: cpuRate, blockS: cpuBlockS, ...freshPairs },
      // Telemetry's cost from the serving thread's CPU, on and off loaded at once (servingReport.ts telemetryCpuCost).
      telemetryCpuCost: { rate: telemetryRate, blockS: cpuBlockS, ...telemetryCpu },
      // null under --quick.
      tracing: QUICK ? null : { sampler: settings().OTEL_TRACES_SAMPLER, ratio: settings().OTEL_TRACES_SAMPLER_ARG, rps: tracedRps, cost: tracingCost, spansExported: spansReceived },
      pipelineMs: pipeline, sessionRunUs: raw * 1000,
      // Seconds from the start at the end of each phase (the last: the whole run).
      phasesS: phases,
    };
    console.log(`  phases (seconds from the start): ${Object.entries(phases).map(([name, at]) => `${name} ${at}`).join(", ")}`);
    mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
    writeFileSync(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`  written to ${RESULT_FILE}`);
  } finally {
    await cpuReader?.close().catch(() => {});
    unpinPostgres();
    await stopServers(children);
    collector?.close();
    await disconnectDb().catch(() => {});
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
