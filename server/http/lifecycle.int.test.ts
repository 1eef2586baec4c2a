import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../auth/apiKeys";
import { databaseUrl, getDb } from "../db/client";
import { inspectRequest } from "../debug/requestInspection";
import { oncallOverview, unattributedErrors } from "../oncall/service";
import { seedDemo } from "../db/seed";
import { answers, START_DEADLINE_MS, waitForStart } from "../testing/startup";
import { TcpProxy, waitFor } from "../testing/tcpProxy";

// The server process's life against a real PostgreSQL: a graceful stop under load, a SIGKILL while
// the database is unreachable, two processes side by side, and WORKERS=2. Each server is a child
// process running server/testing/serverProcess.ts (server/http/serverProcess.ts with a stand-in for
// Next.js), reached over HTTP like any caller; its database connection goes through a TCP proxy
// the test can take down.

const ROOT = process.cwd();
const candidates = Array.from({ length: 20 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 20 }));
let proxy: TcpProxy;
let proxiedUrl: string;
let spillDir: string;

beforeAll(async () => {
  await seedDemo(getDb());
  const target = new URL(databaseUrl());
  proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.open();
  target.host = `127.0.0.1:${proxy.port}`;
  proxiedUrl = target.toString();
});
afterAll(async () => {
  await proxy?.close();
});

interface Server {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startServer(env: Record<string, string> = {}, port?: number, args: string[] = []): Promise<Server> {
  const listenPort = port ?? (await getPort({ host: "127.0.0.1" }));
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/testing/serverProcess.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: proxiedUrl, PORT: String(listenPort), HOST: "127.0.0.1", SERVING_AUTH: "off", WORKERS: "1", TELEMETRY_SPILL_DIR: spillDir, SHUTDOWN_DRAIN_MS: "10000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const workers = Number(env.WORKERS ?? "1");
  // Ready: every worker has said it listens, and GET /api/metrics answers with every worker's figures.
  const everyWorker = (body: string) => workers === 1 || body.startsWith(`# workers: ${workers} of ${workers} answered`);
  await waitForStart(
    child,
    `the server on port ${listenPort} (WORKERS=${workers})`,
    async () => (output.match(/listening on|serving on/g) ?? []).length >= workers && (await answers(`http://127.0.0.1:${listenPort}/api/metrics`, everyWorker)),
    () => output,
  );
  return { child, port: listenPort, output: () => output, exited };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** POST JSON; resolves with status, body and the worker header, or null when the connection failed. */
function post(port: number, pathname: string, body: unknown, options: { keepAlive?: boolean; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; worker?: string } | null> { // eslint-disable-line @typescript-eslint/no-explicit-any -- response JSON
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: pathname, method: "POST", agent: options.keepAlive === false ? false : agent, headers: { "content-type": "application/json", "content-length": data.length, ...options.headers } },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), worker: res.headers["x-rerank-worker"] as string | undefined });
          } catch {
            resolve(null);
          }
        });
        res.on("error", () => resolve(null));
      },
    );
    req.on("error", () => resolve(null));
    req.end(data);
  });
}

interface Acknowledged {
  requests: string[];
  events: string[];
}

/** One caller: rerank, then an impression event for the top item; records what was acknowledged (200). */
async function serveOne(port: number, tag: string, ack: Acknowledged, options: { keepAlive?: boolean } = {}): Promise<boolean> {
  const served = await post(port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `u-${tag}`, candidates }, options);
  if (!served || served.status !== 200) return false;
  ack.requests.push(served.body.requestId);
  const eventId = `ev-${tag}`;
  const recorded = await post(port, "/api/v1/events", { events: [{ eventId, requestId: served.body.requestId, type: "impression", itemId: served.body.items[0].id, position: 1 }] }, options);
  if (recorded?.status === 200 && recorded.body.accepted === 1) ack.events.push(eventId);
  return true;
}

/** `callers` loops of serveOne until `stop()` says so or the server stops answering. */
async function load(port: number, prefix: string, callers: number, stop: () => boolean): Promise<Acknowledged> {
  const ack: Acknowledged = { requests: [], events: [] };
  let n = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (!stop()) if (!(await serveOne(port, `${prefix}-${n++}`, ack))) break;
    }),
  );
  return ack;
}

/** Serves `count` requests (the database up), then, with the database refusing connections, sends one event for each. */
async function eventsWhileDown(ports: number[], tag: string, count: number): Promise<Acknowledged> {
  const ack: Acknowledged = { requests: [], events: [] };
  const served: Array<{ port: number; requestId: string; itemId: string }> = [];
  for (let i = 0; i < count; i++) {
    const port = ports[i % ports.length]!;
    const r = await post(port, "/api/v1/rerank", { surface: "search", topK: 5, candidates }, {});
    expect(r?.status).toBe(200);
    ack.requests.push(r!.body.requestId);
    served.push({ port, requestId: r!.body.requestId, itemId: r!.body.items[0].id });
  }
  await proxy.close(); // connections refused: events can only become durable in the spill file
  for (const [i, s] of served.entries()) {
    const recorded = await post(s.port, "/api/v1/events", { events: [{ eventId: `${tag}-${i}`, requestId: s.requestId, type: "impression", itemId: s.itemId, position: 1 }] });
    if (recorded?.status === 200 && recorded.body.accepted === 1) ack.events.push(`${tag}-${i}`);
  }
  return ack;
}

async function stored(ack: Acknowledged): Promise<{ requests: number; events: number }> {
  const db = getDb();
  const [r] = await db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM rerank_requests WHERE request_id = ANY(${ack.requests})`;
  const [e] = await db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM outcome_events WHERE event_id = ANY(${ack.events})`;
  return { requests: Number(r!.n), events: Number(e!.n) };
}

const spillFiles = () => readdirSync(spillDir).filter((f) => f.endsWith(".jsonl"));

// A test starts up to two servers one after the other and waits for replays and flushes (30 s each at most).
const TEST_TIMEOUT_MS = 2 * START_DEADLINE_MS + 120_000;

describe("the server process's life", { timeout: TEST_TIMEOUT_MS }, () => {
  beforeAll(() => {
    spillDir = mkdtempSync(path.join(os.tmpdir(), "rerank-lifecycle-spill-"));
  });
  afterAll(() => rmSync(spillDir, { recursive: true, force: true }));

  it("SIGTERM under load: stops accepting, drains, flushes; every acknowledged request and event is stored", async () => {
    const server = await startServer();
    const loading = load(server.port, "term", 12, () => false);
    // Signal once the load is well under way; the callers run on until the server stops answering.
    const probe: Acknowledged = { requests: [], events: [] };
    while (probe.requests.length < 100 && (await serveOne(server.port, `term-probe-${probe.requests.length}`, probe)));
    server.child.kill("SIGTERM");
    const ack = await loading;
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(server.output()).toMatch(/SIGTERM: stopped/);
    const all = { requests: [...ack.requests, ...probe.requests], events: [...ack.events, ...probe.events] };
    expect(all.requests.length).toBeGreaterThan(100);
    expect(await stored(all)).toEqual({ requests: all.requests.length, events: all.events.length });
  });

  it("SIGHUP (the terminal that ran npm start closed): drains and flushes as on SIGTERM, instead of dying with its logs unwritten", async () => {
    const server = await startServer();
    const ack: Acknowledged = { requests: [], events: [] };
    while (ack.requests.length < 20 && (await serveOne(server.port, `hup-${ack.requests.length}`, ack)));
    server.child.kill("SIGHUP");
    const exit = await server.exited;
    expect(exit.code, server.output()).toBe(0);
    expect(server.output()).toMatch(/SIGHUP: stopped/);
    expect(await stored(ack)).toEqual({ requests: ack.requests.length, events: ack.events.length });
  });

  it("SIGKILL while the database is unreachable: every acknowledged event is in the spill file, and a new process replays it exactly once", async () => {
    const server = await startServer();
    try {
      const ack = await eventsWhileDown([server.port], `kill-${Date.now()}`, 40);
      expect(ack.events.length, server.output()).toBe(40); // acknowledged: fsynced to the spill file
      server.child.kill("SIGKILL");
      await server.exited;
      // Its own file: `<db>.outcome_events.h<host>.b<boot id>.p<pid>.s<start>.jsonl` (server/telemetry/spillOwnership.ts).
      expect(spillFiles().some((f) => f.includes(".outcome_events.h") && f.includes(`.p${server.child.pid}.s`) && !f.includes(".replay-"))).toBe(true);

      await proxy.open();
      const next = await startServer();
      await waitFor(async () => (await stored(ack)).events === ack.events.length, "the replayed events", 30_000);
      // Replayed once: the claimed file is gone, and no event is there twice.
      await waitFor(async () => !spillFiles().some((f) => f.includes(`.p${server.child.pid}.s`)), "the claimed spill files to be removed", 30_000);
      const [dupes] = await getDb().$queryRaw<Array<{ n: bigint }>>`SELECT count(*) - count(DISTINCT event_id) AS n FROM outcome_events WHERE event_id = ANY(${ack.events})`;
      expect(Number(dupes!.n)).toBe(0);
      next.child.kill("SIGTERM");
      expect((await next.exited).code).toBe(0);
    } finally {
      await proxy.open();
    }
  });

  it("request-log spill files: this build names its own <db>.rerank_requests.copy.… (COPY lines an earlier build must not read as JSON), and replays an earlier build's (JSON rows) beside them, each row once", async () => {
    const server = await startServer();
    const tag = `copy-spill-${Date.now()}`;
    const requests: string[] = [];
    try {
      await proxy.close(); // the log's writes fail: at the next flush its buffer moves to the spill file
      for (let i = 0; i < 10; i++) {
        const r = await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `${tag}-${i}`, candidates });
        expect(r?.status, server.output()).toBe(200);
        requests.push(r!.body.requestId);
      }
      const own = () => spillFiles().find((f) => f.includes(".rerank_requests.copy.h") && f.includes(`.p${server.child.pid}.s`));
      // All ten rows in the file before the kill: a SIGKILL loses the rows of about one flush interval still in memory
      // (server/telemetry/batchWriter.ts), and the first flush that spills may have run before the last requests.
      const spilled = () => {
        const file = own();
        const text = file === undefined ? "" : readFileSync(path.join(spillDir, file), "utf8");
        return requests.every((id) => text.includes(id));
      };
      await waitFor(async () => spilled(), "all ten rows in the request log's spill file", 30_000);
      server.child.kill("SIGKILL");
      await server.exited;
      // An earlier build's file for the same database: `<db>.rerank_requests.jsonl`, each line a JSON string holding the row as JSON text.
      const db = own()!.slice(0, own()!.indexOf(".rerank_requests.copy."));
      const oldId = `${tag}-old`;
      const oldRow = {
        // Within the hour: the On-call test after this one compares the last hour with every row of this file's database.
        requestId: oldId, ts: new Date(Date.now() - 60_000).toISOString(), surface: "search", userKey: null, sessionKey: null, context: { query: "tab\there" }, experimentKey: null,
        experimentPhase: null, variantKey: null, exposed: false, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 2, topK: 1,
        timings: {}, latencyMs: 1.25, defaultedFeatures: 0, featuresTimedOut: false, caller: null, served: [["sku-00001", 0.5]],
      };
      writeFileSync(path.join(spillDir, `${db}.rerank_requests.jsonl`), `${JSON.stringify(JSON.stringify(oldRow))}\n`);

      await proxy.open();
      const next = await startServer();
      try {
        const all = [...requests, oldId];
        const count = async () => Number((await getDb().$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM rerank_requests WHERE request_id = ANY(${all})`)[0]!.n);
        await waitFor(async () => (await count()) === all.length, "the replayed request rows", 30_000);
        await waitFor(async () => !spillFiles().some((f) => f.includes(".rerank_requests.") && (f.includes(`.p${server.child.pid}.s`) || f === `${db}.rerank_requests.jsonl`)), "the claimed spill files to be removed", 30_000);
        expect(await count()).toBe(all.length);
        const [old] = await getDb().$queryRaw<Array<{ context: unknown; served: unknown }>>`SELECT context, served FROM rerank_requests WHERE request_id = ${oldId}`;
        expect(old).toEqual({ context: { query: "tab\there" }, served: [["sku-00001", 0.5]] });
      } finally {
        next.child.kill("SIGTERM");
        await next.exited;
      }
    } finally {
      await proxy.open();
    }
  });

  it("hostile item ids: after a restart (the request only in PostgreSQL), events check the positions the response gave, and Debug by id reads them back", async () => {
    const hostile = ['q"uote', "back\\slash\\", "line\u2028sep\u2029", "emoji 😀👍🏽", "x".repeat(256), "123", "1e3", "-0", "null", "true", '{"id":"x"}', '["a",1]', "<b>&amp;</b>", "tab\tnew\nline"];
    const server = await startServer();
    const served = await post(server.port, "/api/v1/rerank", { surface: "search", topK: hostile.length, candidates: hostile.map((id, i) => ({ id, retrievalScore: 1 - i / 100 })) });
    expect(served?.status, server.output()).toBe(200);
    const items = served!.body.items as Array<{ id: string; position: number; score: number }>;
    expect(items.map((i) => i.id).sort()).toEqual([...hostile].sort());
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
    const next = await startServer();
    try {
      const requestId = served!.body.requestId as string;
      const events = items.map((item, i) => ({ eventId: `hostile-${requestId}-${i}`, requestId, type: "click", itemId: item.id, position: item.position }));
      const recorded = await post(next.port, "/api/v1/events", { events });
      expect(recorded?.body, next.output()).toMatchObject({ accepted: items.length });
      const wrong = await post(next.port, "/api/v1/events", { events: [{ ...events[1]!, eventId: `hostile-${requestId}-wrong`, position: items[1]!.position + 1 }] });
      expect(JSON.stringify(wrong?.body)).toContain(`was served at position ${items[1]!.position}`);
      const inspected = await inspectRequest(getDb(), { requestId });
      expect(inspected.items.map((i) => ({ id: i.id, position: i.position }))).toEqual(items.map((i) => ({ id: i.id, position: i.position })));
    } finally {
      next.child.kill("SIGTERM");
      await next.exited;
    }
  });

  it("two processes from one folder keep two spill files; the next start replays both", async () => {
    const [a, b] = await Promise.all([startServer(), startServer()]);
    try {
      const ack = await eventsWhileDown([a.port, b.port], `two-${Date.now()}`, 20);
      expect(ack.events.length, a.output() + b.output()).toBe(20);
      a.child.kill("SIGTERM");
      b.child.kill("SIGTERM");
      await Promise.all([a.exited, b.exited]);
      // Each process kept its own file (closed with the database down, its rows stay there).
      for (const server of [a, b]) expect(spillFiles().filter((f) => f.includes(".outcome_events.h") && f.includes(`.p${server.child.pid}.s`) && !f.includes(".replay-"))).toHaveLength(1);
      await proxy.open();
      const next = await startServer();
      await waitFor(async () => {
        const s = await stored(ack);
        return s.events === ack.events.length && s.requests === ack.requests.length;
      }, "both processes' rows to be replayed", 30_000);
      next.child.kill("SIGTERM");
      await next.exited;
    } finally {
      await proxy.open();
    }
  });

  it("the database unreachable: 5xx answers are counted under one bounded label, never a surface the caller named, and the On-call page shows them", async () => {
    const db = getDb();
    const owner = await db.user.upsert({ where: { email: "key-owner@rerank.test" }, create: { email: "key-owner@rerank.test", name: "Key owner", roles: ["admin"] }, update: {} });
    const used = await createApiKey(db, { name: `outage-used-${Date.now()}`, kind: "serving" }, owner.id);
    const fresh = await createApiKey(db, { name: `outage-fresh-${Date.now()}`, kind: "serving" }, owner.id);
    const hourAgo = () => new Date(Date.now() - 3_600_000);
    const before = await unattributedErrors(db, new Date(), hourAgo());
    const server = await startServer({ SERVING_AUTH: "on" });
    try {
      expect((await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, candidates }, { headers: { authorization: `Bearer ${used.key}` } }))?.status).toBe(200);
      await proxy.close();
      const failed: Array<number | undefined> = [];
      // A key the server has not checked yet: its check needs the database, so the answer comes before any surface is read.
      for (let i = 0; i < 5; i++) failed.push((await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, candidates }, { headers: { authorization: `Bearer ${fresh.key}` } }))?.status);
      // The checked key on surfaces it names, none of which exists: its cached verdict may still pass
      // (the surface's config cannot be read) or its re-check fail; either way a 503 no surface is charged with.
      for (let i = 0; i < 5; i++) failed.push((await post(server.port, "/api/v1/rerank", { surface: `outage-made-up-${i}`, topK: 5, candidates }, { headers: { authorization: `Bearer ${used.key}` } }))?.status);
      expect(failed).toEqual(new Array(10).fill(503));
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/api/metrics`)).text();
      expect(metrics).toMatch(/^rerank_requests_total\{surface="unattributed",outcome="error"\} 10$/m);
      expect(metrics).not.toContain("outage-made-up");
      await proxy.open();
      // The tally reaches rerank_errors once the database is back (flushed every 5 s).
      await waitFor(async () => (await unattributedErrors(db, new Date(), hourAgo())).errors - before.errors === 10, "the 5xx tally to be flushed", 30_000);
      const [minted] = await db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM rerank_errors WHERE surface LIKE 'outage-made-up%'`;
      expect(Number(minted!.n)).toBe(0);
      server.child.kill("SIGTERM");
      expect((await server.exited).code).toBe(0);
      // Stopped (its request log flushed): their burn is their share of every request this file's
      // database has seen, all within the hour (a service-level ratio, unattributedBurnRate).
      const overview = await oncallOverview(db, { hours: 1 });
      expect(overview.unattributed.errors - before.errors).toBe(10);
      const [traffic] = await db.$queryRaw<Array<{ requests: number; errors: number; unattributed: number }>>`
        SELECT (SELECT count(*) FROM rerank_requests)::int AS requests, (SELECT coalesce(sum(count), 0) FROM rerank_errors)::int AS errors,
          (SELECT coalesce(sum(count), 0) FROM rerank_errors e WHERE NOT EXISTS (SELECT 1 FROM surfaces s WHERE s.key = e.surface))::int AS unattributed`;
      expect(traffic!.unattributed).toBe(before.errors + 10);
      const burn = traffic!.unattributed / (traffic!.requests + traffic!.errors) / 0.001;
      expect(overview.unattributed.burn.oneHour).toBeCloseTo(burn, 6);
      expect(overview.alerts.some((a) => a.surface === "unattributed" && a.alert === "RerankAvailabilityFastBurn")).toBe(burn > 14.4);
    } finally {
      await proxy.open();
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
    }
  });

  it("listens only once the serving state is warm, though the pages do not wait for it (as Next does not): a restart under load answers its first requests", async () => {
    const server = await startServer({}, undefined, ["--no-warm"]);
    const output = server.output();
    const warm = output.indexOf("serving warm in");
    expect(warm).toBeGreaterThanOrEqual(0);
    expect(warm).toBeLessThan(output.indexOf("serving on"));
    // The first burst right after it listens: every request served by the model.
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `warm-${i}`, candidates })));
    expect(burst.map((r) => r?.status)).toEqual(new Array(40).fill(200));
    expect(burst.every((r) => r!.body.fallback.used === false)).toBe(true);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("WORKERS=2: both workers answer, an event finds its request on the other worker, /api/metrics sums the workers, SIGTERM stops both", async () => {
    const server = await startServer({ WORKERS: "2" });
    const ack: Acknowledged = { requests: [], events: [] };
    const workers = new Set<string>();
    const firstItems: string[] = [];
    for (let i = 0; i < 30; i++) {
      // A new connection each time: the primary hands connections to the workers in turn.
      const served = await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `w-${i}`, candidates }, { keepAlive: false });
      expect(served?.status).toBe(200);
      workers.add(served!.worker!);
      ack.requests.push(served!.body.requestId);
      firstItems.push(served!.body.items[0].id);
      const recorded = await post(server.port, "/api/v1/events", { events: [{ eventId: `w-ev-${i}`, requestId: served!.body.requestId, type: "click", itemId: served!.body.items[0].id, position: 1 }] }, { keepAlive: false });
      expect(recorded?.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      // Connections alternate between the workers, so each event reaches the other worker than its request.
      expect(recorded!.worker).not.toBe(served!.worker);
      workers.add(recorded!.worker!);
      ack.events.push(`w-ev-${i}`);
    }
    expect([...workers].sort()).toEqual(["1", "2"]);
    // One batch naming all 30 requests, half of them served by the other worker: one question to the siblings for all of them.
    const batch = ack.requests.map((requestId, i) => ({ eventId: `w-batch-${i}`, requestId, type: "impression", itemId: firstItems[i], position: 1 }));
    expect((await post(server.port, "/api/v1/events", { events: batch }, { keepAlive: false }))?.body).toEqual({ accepted: 30, duplicates: 0, rejected: [] });
    ack.events.push(...batch.map((e) => e.eventId));
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/api/metrics`)).text();
    expect(metrics).toContain("# workers: 2 of 2 answered");
    const served = [...metrics.matchAll(/^rerank_requests_total\{surface="search",outcome="[^"]+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(served).toBe(30);
    expect(metrics).toMatch(/^rerank_outcome_events_total\{type="click"\} 30$/m);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
    expect(await stored(ack)).toEqual({ requests: 30, events: 60 });
  });

  it("WORKERS=2: a key's rate limit holds across the workers (the primary counts it), whichever worker each connection reaches", async () => {
    const db = getDb();
    const owner = await db.user.upsert({ where: { email: "cluster-rate@rerank.test" }, create: { email: "cluster-rate@rerank.test", name: "Cluster rate", roles: ["admin"] }, update: {} });
    // A burst of 4, then one request every 10 s: the 12 requests below come well within one interval.
    const { key } = await createApiKey(db, { name: "cluster limited", kind: "serving", rateLimit: { rate: 0.1, burst: 4 } }, owner.id);
    const server = await startServer({ WORKERS: "2" });
    const answered: Array<{ status: number; worker: string }> = [];
    for (let i = 0; i < 12; i++) {
      // A new connection each time: the primary hands connections to the workers in turn.
      const served = await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `rate-${i}`, candidates }, { keepAlive: false, headers: { authorization: `Bearer ${key}` } });
      answered.push({ status: served!.status, worker: served!.worker! });
    }
    expect(new Set(answered.map((a) => a.worker))).toEqual(new Set(["1", "2"]));
    // Counted per worker, each would have admitted 4 (8 in all).
    expect(answered.filter((a) => a.status === 200)).toHaveLength(4);
    expect(answered.filter((a) => a.status === 429)).toHaveLength(8);
    expect(new Set(answered.filter((a) => a.status === 429).map((a) => a.worker))).toEqual(new Set(["1", "2"]));
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("WORKERS=2: a worker that answers no heartbeat (stopped with SIGSTOP) is left out of scrapes, killed after WORKER_HANG_TIMEOUT_MS and started again; every request after that is answered", async () => {
    const server = await startServer({ WORKERS: "2", WORKER_HANG_TIMEOUT_MS: "4000" });
    const pids = () => [...server.output().matchAll(/\[rerank worker (\d)\] serving on \S+ \(pid (\d+);/g)].map((m) => ({ worker: m[1], pid: Number(m[2]) }));
    try {
      const stopped = pids().find((p) => p.worker === "2")!;
      process.kill(stopped.pid, "SIGSTOP");
      // A scrape lands on the worker still running (a new connection a try: the stopped one's never answer) and counts 1 of 2.
      const scrape = async () => {
        for (;;) {
          const text = await fetch(`http://127.0.0.1:${server.port}/api/metrics`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.text(), () => null);
          if (text) return text;
        }
      };
      const during = await scrape();
      expect(during).toMatch(/^# workers: 1 of 2 answered/);
      expect(during).toMatch(/^rerank_workers_configured 2$/m);
      expect(during).toMatch(/^rerank_workers_answering 1$/m);
      await expect.poll(() => server.output(), { timeout: 15_000 }).toMatch(new RegExp(`worker 2 \\(pid ${stopped.pid}\\) answered no heartbeat for \\d+ s`));
      await expect.poll(() => pids().filter((p) => p.worker === "2").length, { timeout: 60_000 }).toBe(2);
      const ack: Acknowledged = { requests: [], events: [] };
      const answered = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const served = await post(server.port, "/api/v1/rerank", { surface: "search", topK: 5, userKey: `hang-${i}`, candidates }, { keepAlive: false });
        expect(served?.status).toBe(200);
        answered.add(served!.worker!);
        ack.requests.push(served!.body.requestId);
      }
      expect([...answered].sort()).toEqual(["1", "2"]);
      const after = await scrape();
      expect(after).toMatch(/^# workers: 2 of 2 answered/);
      expect(after).toMatch(/^rerank_worker_restarts_total\{reason="hang"\} 1$/m);
      expect(after).toMatch(/^rerank_worker_restarts_total\{reason="exit"\} 0$/m);
      server.child.kill("SIGTERM");
      expect((await server.exited).code).toBe(0);
      expect(await stored(ack)).toEqual({ requests: 12, events: 0 });
    } finally {
      // A failed run leaves no stopped or orphaned worker behind.
      for (const { pid } of pids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      server.child.kill("SIGKILL");
    }
  });
});
