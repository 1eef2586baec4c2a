import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import getPort from "get-port";
import pg from "pg";
import { buildIfNeeded } from "../cli/build";
import { disconnectDb } from "../db/client";
import type { RerankRequest } from "../rerank/schema";
import { TcpProxy, waitFor } from "../testing/tcpProxy";
import { benchDatabase } from "./benchDatabase";
import { withDeadline } from "../domain/time/deadline";

// npm run bench:faults — does a fault lose anything acknowledged? The console runs as `npm start`
// runs it (the supervisor server/cli/start.ts, WORKERS=1 so the server is its one child), on a fresh
// database reached through a TCP proxy on loopback that can stop every byte (a paused PostgreSQL).
// Load: a paced open loop at half of the measured maximum; every served request is followed by one
// outcome event for its top item. In three scenarios of LOAD_S seconds each, FAULT_AT_S in:
//   (a) PostgreSQL is paused for PAUSE_S seconds, then resumed;
//   (b) the server gets SIGTERM (it drains and flushes; the supervisor starts it again);
//   (c) the server gets SIGKILL (the supervisor starts it again; the new process replays the spill).
// For each: requests and events acknowledged (200) against those stored afterwards. Events must be
// equal in all three; requests in (a) and (b) — a SIGKILL may lose the request rows of about one
// flush interval (200 ms), which is printed. Then the cost of durable events: POST /api/v1/events
// throughput with EVENTS_ACK=buffered (answered at once) and durable (answered once in PostgreSQL),
// and durable with PostgreSQL paused (answered once fsynced to the spill file, group commit).
// Everything is on 127.0.0.1 and bounded in time. `--quick`: 20 s scenarios, 7 s pause, 1 round.

const QUICK = process.argv.includes("--quick");
const LOAD_S = QUICK ? 20 : 60;
const PAUSE_S = QUICK ? 7 : 20;
const FAULT_AT_S = QUICK ? 5 : 15;
const ROUNDS = QUICK ? 1 : 2;
const CANNON_S = QUICK ? 3 : 5;
const CONNECTIONS = 8;
/** Closed-loop callers of POST /api/v1/events: enough for group commit to have company. */
const EVENT_CONNECTIONS = 32;
const RESULT_FILE = path.join(".data", "bench", "faults.json");
const SERVER_LOG = path.join(".data", "bench", "faults-server.log");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Acknowledged {
  requests: string[];
  events: string[];
  sent: number;
  failed: number;
}

interface Served {
  requestId: string;
  itemId: string;
}

/** POST JSON on a keep-alive agent; null when the connection failed or timed out. */
function post(agent: http.Agent, url: URL, pathname: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: unknown } | null> {
  return new Promise((resolve) => {
    const data = Buffer.from(body);
    const req = http.request({ host: url.hostname, port: url.port, path: pathname, method: "POST", agent, timeout: 30_000, headers: { ...headers, "content-type": "application/json", "content-length": data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        } catch {
          resolve({ status: res.statusCode ?? 0, json: null });
        }
      });
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end(data);
  });
}

const eventBody = (eventId: string, served: Served) => JSON.stringify({ events: [{ eventId, requestId: served.requestId, type: "impression", itemId: served.itemId, position: 1 }] });

/** Open-loop load: request i leaves at start + i / rate; each 200 is followed by one event. */
async function faultLoad(url: URL, rate: number, seconds: number, tag: string, request: RerankRequest, headers: Record<string, string>, fault: () => Promise<void>): Promise<Acknowledged> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const ack: Acknowledged = { requests: [], events: [], sent: 0, failed: 0 };
  const body = JSON.stringify(request);
  const one = async (i: number) => {
    const served = await post(agent, url, "/api/v1/rerank", body, headers);
    if (served?.status !== 200) return void ack.failed++;
    const response = served.json as { requestId: string; items: Array<{ id: string }> };
    ack.requests.push(response.requestId);
    const eventId = `${tag}-${i}`;
    const recorded = await post(agent, url, "/api/v1/events", eventBody(eventId, { requestId: response.requestId, itemId: response.items[0]!.id }), headers);
    if (recorded?.status === 200 && (recorded.json as { accepted?: number }).accepted === 1) ack.events.push(eventId);
  };
  const inflight: Array<Promise<void>> = [];
  const start = performance.now() + 50;
  const total = Math.round(rate * seconds);
  const faulting = sleep(FAULT_AT_S * 1000).then(fault);
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    ack.sent++;
    inflight.push(one(i));
  }
  await Promise.all([...inflight, faulting]);
  agent.destroy();
  return ack;
}

async function countStored(databaseUrl: string, ack: Acknowledged): Promise<{ requests: number; events: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM rerank_requests WHERE request_id = ANY($1)", [ack.requests]);
    const e = await client.query<{ n: string }>("SELECT count(*) AS n FROM outcome_events WHERE event_id = ANY($1)", [ack.events]);
    return { requests: Number(r.rows[0]!.n), events: Number(e.rows[0]!.n) };
  } finally {
    await client.end();
  }
}

/** Polls until everything acknowledged is stored, or the counts stop moving for 15 s. */
async function settle(databaseUrl: string, ack: Acknowledged): Promise<{ requests: number; events: number }> {
  let last = await countStored(databaseUrl, ack);
  let still = Date.now();
  while (Date.now() - still < 15_000 && (last.requests < ack.requests.length || last.events < ack.events.length)) {
    await sleep(500);
    const next = await countStored(databaseUrl, ack);
    if (next.requests !== last.requests || next.events !== last.events) still = Date.now();
    last = next;
  }
  return last;
}

/** The server process: the one child of the supervisor (WORKERS=1, DATABASE_URL set: no embedded PostgreSQL). */
function serverPid(supervisor: ChildProcess): number {
  const children = readFileSync(`/proc/${supervisor.pid}/task/${supervisor.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  if (children.length !== 1) throw new Error(`expected one server process under the supervisor, found ${children.length}`);
  return children[0]!;
}

async function healthy(url: URL): Promise<boolean> {
  try {
    return (await fetch(new URL("/api/health", url))).ok;
  } catch {
    return false;
  }
}

/** Serves `count` requests and returns what an event needs for each (their ids stay in that server's recent cache). */
async function serveMany(url: URL, count: number, request: RerankRequest, headers: Record<string, string>): Promise<Served[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const body = JSON.stringify(request);
  const served: Served[] = [];
  for (let i = 0; i < count; i += CONNECTIONS) {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const r = await post(agent, url, "/api/v1/rerank", body, headers);
        if (r?.status === 200) {
          const json = r.json as { requestId: string; items: Array<{ id: string }> };
          served.push({ requestId: json.requestId, itemId: json.items[0]!.id });
        }
      }),
    );
  }
  agent.destroy();
  return served;
}

/** Closed-loop POST /api/v1/events, one new event per call (autocannon, EVENT_CONNECTIONS connections). */
async function eventsThroughput(url: URL, served: Served[], tag: string, headers: Record<string, string>): Promise<{ rps: number; ok: number; non2xx: number }> {
  let n = 0;
  const result = await autocannon({
    url: new URL("/api/v1/events", url).toString(),
    connections: EVENT_CONNECTIONS,
    duration: CANNON_S,
    requests: [{ method: "POST", headers: { ...headers, "content-type": "application/json" }, setupRequest: (req) => ({ ...req, body: eventBody(`${tag}-${n}`, served[n++ % served.length]!) }) }],
  });
  return { rps: result["2xx"] / (result.duration || CANNON_S), ok: result["2xx"], non2xx: result.non2xx };
}

function startProcess(args: string[], env: Record<string, string>, log: NodeJS.WritableStream, name: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (d: Buffer) => log.write(d.toString().replace(/^(?=.)/gm, `${name} | `)));
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await withDeadline(exited, 60_000, () => undefined);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

async function main() {
  const database = await benchDatabase();
  await disconnectDb();
  buildIfNeeded();
  const target = new URL(database.url);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.open();
  const proxied = new URL(database.url);
  proxied.host = `127.0.0.1:${proxy.port}`;
  const spillDir = mkdtempSync(path.join(os.tmpdir(), "rerank-faults-spill-"));
  mkdirSync(path.dirname(SERVER_LOG), { recursive: true });
  const log = createWriteStream(SERVER_LOG);
  const headers = { authorization: `Bearer ${database.apiKey}` };
  const request = database.request;
  const children: ChildProcess[] = [];
  const common = { DATABASE_URL: proxied.toString(), WORKERS: "1", TELEMETRY_SPILL_DIR: spillDir, HOST: "127.0.0.1" };
  try {
    // The console as `npm start` runs it: the supervisor, which restarts the server when it dies.
    const port = await getPort({ host: "127.0.0.1" });
    const url = new URL(`http://127.0.0.1:${port}`);
    let supervisorOutput = "";
    const supervisor = startProcess(["server/cli/start.ts", "--no-seed", "--port", String(port)], { ...common, FIRST_RUN_CREDENTIALS_FILE: path.join(spillDir, "credentials.json") }, log, "npm start");
    supervisor.stdout!.on("data", (d: Buffer) => (supervisorOutput += d.toString()));
    children.push(supervisor);
    await waitFor(async () => supervisorOutput.includes("is running at") || supervisor.exitCode !== null, "npm start", 300_000);
    if (supervisor.exitCode !== null) throw new Error(`npm start exited (${supervisor.exitCode}); see ${SERVER_LOG}`);

    // Half of the maximum: rerank alone, closed loop.
    const cannon = (seconds: number) => autocannon({ url: new URL("/api/v1/rerank", url).toString(), method: "POST", body: JSON.stringify(request), headers: { ...headers, "content-type": "application/json" }, connections: CONNECTIONS, duration: seconds });
    await cannon(2);
    const max = await cannon(CANNON_S);
    const maxRps = max["2xx"] / (max.duration || CANNON_S);
    const rate = Math.max(1, Math.floor(maxRps / 2));

    const scenarios: Array<{ key: "a" | "b" | "c"; name: string; fault: () => Promise<void> }> = [
      { key: "a", name: `PostgreSQL paused ${PAUSE_S} s`, fault: async () => { proxy.pause(); await sleep(PAUSE_S * 1000); proxy.resume(); } },
      { key: "b", name: "SIGTERM to the server", fault: async () => { process.kill(serverPid(supervisor), "SIGTERM"); } },
      { key: "c", name: "SIGKILL to the server", fault: async () => { process.kill(serverPid(supervisor), "SIGKILL"); } },
    ];
    const results: Record<string, unknown> = {};
    const lines: string[] = [];
    for (const scenario of scenarios) {
      await waitFor(() => healthy(url), "the server to be up", 120_000);
      const ack = await faultLoad(url, rate, LOAD_S, `faults-${scenario.key}-${Date.now()}`, request, headers, scenario.fault);
      await waitFor(() => healthy(url), "the server to be back", 120_000);
      const stored = await settle(database.url, ack);
      const eventsEqual = stored.events === ack.events.length;
      const requestsEqual = stored.requests === ack.requests.length;
      const ok = eventsEqual && (scenario.key === "c" || requestsEqual);
      results[scenario.key] = { name: scenario.name, sent: ack.sent, failed: ack.failed, requestsAcknowledged: ack.requests.length, requestsStored: stored.requests, eventsAcknowledged: ack.events.length, eventsStored: stored.events, ok };
      lines.push(
        `  (${scenario.key}) ${scenario.name.padEnd(26)} sent ${ack.sent}, not answered 200: ${ack.failed}` +
          `\n      requests acknowledged ${ack.requests.length}, stored ${stored.requests}${requestsEqual ? " (equal)" : ` (${ack.requests.length - stored.requests} lost)`}` +
          `   events acknowledged ${ack.events.length}, stored ${stored.events}${eventsEqual ? " (equal)" : ` (${ack.events.length - stored.events} LOST)`}` +
          `   target ${scenario.key === "c" ? "events equal" : "both equal"}: ${ok ? "met" : "MISSED"}`,
      );
    }
    const restarts = (supervisorOutput.match(/restarting it in/g) ?? []).length;
    await stop(supervisor);
    children.splice(children.indexOf(supervisor), 1);

    // The cost of durable events: the server alone (server/http/main.ts), once per acknowledgement mode, alternating.
    const eventsPort = await getPort({ host: "127.0.0.1" });
    const eventsUrl = new URL(`http://127.0.0.1:${eventsPort}`);
    const rounds: Array<{ buffered: number; durable: number; paused: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const figures = { buffered: NaN, durable: NaN, paused: NaN };
      for (const mode of ["buffered", "durable"] as const) {
        // SERVING_AUTH=off and no key sent: the API key lookup reads PostgreSQL on every call, which
        // would measure the paused database rather than the spill file's group commit.
        const server = startProcess(["server/http/main.ts"], { ...common, PORT: String(eventsPort), EVENTS_ACK: mode, NODE_ENV: "production", SERVING_AUTH: "off" }, log, `events ${mode}`);
        children.push(server);
        await waitFor(() => healthy(eventsUrl), "the events server", 120_000);
        const served = await serveMany(eventsUrl, 400, request, {});
        figures[mode] = (await eventsThroughput(eventsUrl, served, `cost-${round}-${mode}`, {})).rps;
        if (mode === "durable") {
          // PostgreSQL paused: each call is answered once its event is fsynced to the spill file.
          proxy.pause();
          figures.paused = (await eventsThroughput(eventsUrl, served, `cost-${round}-paused`, {})).rps;
          proxy.resume();
        }
        await stop(server);
        children.splice(children.indexOf(server), 1);
      }
      rounds.push(figures);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const buffered = median(rounds.map((r) => r.buffered));
    const durable = median(rounds.map((r) => r.durable));
    const paused = median(rounds.map((r) => r.paused));

    console.log(`\nFaults benchmark (loopback only): npm start with WORKERS=1 on a fresh database behind a TCP proxy; max ${maxRps.toFixed(0)} req/s (rerank, ${CONNECTIONS} connections),`);
    console.log(`load at half of it: ${rate} req/s paced for ${LOAD_S} s per scenario, one event per served request; fault at ${FAULT_AT_S} s; server log in ${SERVER_LOG}`);
    for (const line of lines) console.log(line);
    console.log(`  the supervisor restarted the server ${restarts} times (after (b) and (c)), the database staying up`);
    console.log(`Durable events: POST /api/v1/events, one new event per call, ${EVENT_CONNECTIONS} connections, ${CANNON_S} s, median of ${ROUNDS} alternating rounds (SERVING_AUTH=off: no key lookup)`);
    console.log(`  answered at once (EVENTS_ACK=buffered)               ${buffered.toFixed(0)} events/s`);
    console.log(`  answered once in PostgreSQL (durable, the default)  ${durable.toFixed(0)} events/s   cost ${(100 * (1 - durable / buffered)).toFixed(1)}% of throughput`);
    console.log(`  PostgreSQL paused: once fsynced to the spill file     ${paused.toFixed(0)} events/s   (group commit; ${(100 * (1 - paused / buffered)).toFixed(1)}% below buffered)`);
    console.log(`  rounds (buffered / durable / durable, paused): ${rounds.map((r) => `${r.buffered.toFixed(0)} / ${r.durable.toFixed(0)} / ${r.paused.toFixed(0)}`).join(";  ")}`);
    const result = {
      date: new Date().toISOString(), quick: QUICK, loadS: LOAD_S, pauseS: PAUSE_S, faultAtS: FAULT_AT_S, maxRps, rate, workers: 1, restarts,
      scenarios: results,
      durableEvents: { bufferedEventsPerS: buffered, durableEventsPerS: durable, durablePausedEventsPerS: paused, cost: 1 - durable / buffered, rounds },
    };
    mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
    writeFileSync(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`  written to ${RESULT_FILE}`);
  } finally {
    for (const child of children) await stop(child);
    log.end();
    await proxy.close();
    rmSync(spillDir, { recursive: true, force: true });
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
