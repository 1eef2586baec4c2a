import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import getPort from "get-port";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { recentKey, recentRequests, rememberResponse, resetRecentRequests } from "../rerank/recent";
import { rerank } from "../rerank/pipeline";
import { surfaceConfigs } from "../surfaces/configCache";
import { outcomeEventSink, telemetry, type OutcomeEventRow } from "../telemetry/streams";
import { callerAs, keyHeaders } from "../testing/callers";
import { abDefinition, seedSurfacesOnDemoModel } from "../testing/experiments";
import { answers, waitForStart } from "../testing/startup";
import { forgetSeenEvents, recordOutcomes } from "./service";

// #17 break test (WORKERS=2): a rerank retried with the same requestId reached the other worker, was
// served and logged again with its own ts, and the purchase sent twice (once to each worker) was kept
// twice, each attached to that worker's copy: outcome_events (event_id, request_ts) told them apart,
// and the experiment counted its revenue twice. An event is now one per (owner, request id, event id)
// whatever copy of its request each send finds (outcome_event_keys), and a retry on another worker is
// answered with the first worker's response instead of being served and logged again.

const tag = `rr-${Date.now().toString(36)}`;
let candidates: Array<{ id: string }>;

const countEvents = async (eventId: string) => Number((await getDb().$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM outcome_events WHERE event_id = ${eventId}`)[0]!.n);
const countRequests = async (requestId: string) => Number((await getDb().$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM rerank_requests WHERE request_id = ${requestId}`)[0]!.n);

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-retry"]);
  const pm = callerAs(["admin"], "pm@rerank.local");
  await pm.experiments.create(abDefinition("retry-exp", "t-retry"));
  await pm.experiments.start({ key: "retry-exp" });
  await surfaceConfigs().refresh();
  candidates = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 10, orderBy: { id: "asc" }, select: { id: true } }));
}, 120_000);

describe("a purchase sent to two workers, each holding its own logged copy of the retried request", () => {
  it("is kept once: one outcome_events row, its revenue counted once in the experiment's figures", async () => {
    const requestId = `${tag}-r`;
    const request = { surface: "t-retry", topK: 3, requestId, userKey: `${tag}-unit`, candidates };
    const key = recentKey(requestId, null);
    // Worker 1 serves the request; the retry reaches worker 2, which has never seen it: served and logged again.
    const first = await rerank(request);
    expect(first.variant?.experiment).toBe("retry-exp");
    const workerOne = recentRequests().get(key)!;
    resetRecentRequests();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await rerank(request);
    const workerTwo = recentRequests().get(key)!;
    expect(workerTwo.ts).toBeGreaterThan(workerOne.ts);
    await telemetry().requests.flush();
    expect(await countRequests(requestId)).toBe(2);

    const purchase = { events: [{ eventId: `${requestId}-buy`, requestId, type: "purchase" as const, itemId: first.items[0]!.id, revenue: 100 }] };
    // The purchase reaches worker 2 (its copy), then is retried on worker 1 (its own copy, and no memory of the event).
    expect(await recordOutcomes(purchase)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    forgetSeenEvents();
    resetRecentRequests();
    rememberResponse(key, workerOne);
    expect(await recordOutcomes(purchase)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    // And once more on worker 2 after a restart (nothing in memory: the copy comes from the log).
    forgetSeenEvents();
    resetRecentRequests();
    expect(await recordOutcomes(purchase)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });

    await telemetry().events.flush();
    expect(await countEvents(`${requestId}-buy`)).toBe(1);
    const [units] = await getDb().$queryRaw<Array<{ purchases: number; revenue: number }>>`
      SELECT sum(u.purchases)::int AS purchases, sum(u.revenue)::float8 AS revenue FROM experiment_unit_stats u JOIN experiments e ON e.id = u.experiment_id WHERE e.key = 'retry-exp'`;
    expect(units).toEqual({ purchases: 1, revenue: 100 });
    const [hourly] = await getDb().$queryRaw<Array<{ purchases: number; revenue: number }>>`
      SELECT sum(h.purchases)::int AS purchases, sum(h.revenue)::float8 AS revenue FROM experiment_hourly_stats h JOIN experiments e ON e.id = h.experiment_id WHERE e.key = 'retry-exp'`;
    expect(hourly).toEqual({ purchases: 1, revenue: 100 });
  });
});

describe("outcomeEventSink: one event whatever copy of its request it refers to", () => {
  const event = (eventId: string, requestId: string, requestTs: Date, caller: string | null = null): OutcomeEventRow => ({
    eventId, requestTs, requestId, ts: new Date(), surface: "search", type: "purchase", itemId: "sku-00001", position: 1, revenue: 100, userKey: null,
    experimentKey: null, experimentPhase: null, variantKey: null, caller,
  });
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  });
  afterAll(() => pool.end());

  it("two copies written at once through two connections: one kept, the other answered as held", async () => {
    const at = Date.now();
    for (let i = 0; i < 10; i++) {
      const [a, b] = await Promise.all([
        outcomeEventSink(pool).write([event(`${tag}-c${i}`, `${tag}-cr${i}`, new Date(at))]),
        outcomeEventSink(pool).write([event(`${tag}-c${i}`, `${tag}-cr${i}`, new Date(at + 20))]),
      ]);
      expect((a as ReadonlySet<number>).size + (b as ReadonlySet<number>).size).toBe(1);
      expect(await countEvents(`${tag}-c${i}`)).toBe(1);
    }
  });

  it("copies on either side of midnight (UTC) meet; two owners' events on the same id, and two events of one request, are each their own", async () => {
    const midnight = Date.UTC(2030, 0, 2);
    const sink = outcomeEventSink(pool);
    expect([...(await sink.write([event(`${tag}-m`, `${tag}-mr`, new Date(midnight + 100))]) as ReadonlySet<number>)]).toEqual([]);
    expect([...(await sink.write([event(`${tag}-m`, `${tag}-mr`, new Date(midnight - 100))]) as ReadonlySet<number>)]).toEqual([0]);
    // In one batch: the same event on two copies (the first kept), another caller's, another event of the request.
    const held = await sink.write([
      event(`${tag}-b`, `${tag}-br`, new Date(midnight)), event(`${tag}-b`, `${tag}-br`, new Date(midnight + 50)),
      event(`${tag}-b`, `${tag}-br`, new Date(midnight + 60), "api_key:other"), event(`${tag}-b2`, `${tag}-br`, new Date(midnight + 50)),
    ]);
    expect([...(held as ReadonlySet<number>)]).toEqual([1]);
    expect([await countEvents(`${tag}-m`), await countEvents(`${tag}-b`), await countEvents(`${tag}-b2`)]).toEqual([1, 2, 1]);
  });

  it("two requests served in the same millisecond whose events share an event id: the one outcome_events' key cannot hold is answered held, never accepted (review)", async () => {
    const at = new Date(Date.UTC(2030, 0, 3, 12));
    const held = await outcomeEventSink(pool).write([event(`${tag}-same-ms`, `${tag}-req-a`, at), event(`${tag}-same-ms`, `${tag}-req-b`, at)]);
    expect([...(held as ReadonlySet<number>)]).toEqual([1]);
    expect(await countEvents(`${tag}-same-ms`)).toBe(1);
  });
});

describe("WORKERS=2 over HTTP (the break test)", () => {
  it("a rerank retried on the other worker is served there anew (no hot-path lookup across workers); its purchase, sent to both workers, is kept once", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const spillDir = mkdtempSync(path.join(os.tmpdir(), "retried-request-"));
    const child = spawn(process.execPath, ["--import", "tsx", path.join(process.cwd(), "server/testing/serverProcess.ts")], {
      env: { ...process.env, DATABASE_URL: databaseUrl(), PORT: String(port), HOST: "127.0.0.1", WORKERS: "2", TELEMETRY_SPILL_DIR: spillDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    try {
      await waitForStart(child, `the server on port ${port}`, async () => (output.match(/listening on|serving on/g) ?? []).length >= 2 && (await answers(`http://127.0.0.1:${port}/api/metrics`, (b) => b.startsWith("# workers: 2 of 2 answered"))), () => output);
      const headers = { ...(await keyHeaders("serving")), "content-type": "application/json", connection: "close" };
      // A new connection each time: the primary hands them to the workers in turn.
      const post = async (pathname: string, body: unknown) => {
        const res = await fetch(`http://127.0.0.1:${port}${pathname}`, { method: "POST", headers, body: JSON.stringify(body) });
        return { worker: res.headers.get("x-rerank-worker"), text: await res.text() };
      };
      const requestId = `${tag}-http`;
      const body = { surface: "search", topK: 3, requestId, candidates: candidates.slice(0, 3) };
      const reranks = [await post("/api/v1/rerank", body), await post("/api/v1/rerank", body)];
      expect(new Set(reranks.map((r) => r.worker)).size).toBe(2);
      const itemId = JSON.parse(reranks[0]!.text).items[0].id;
      const purchase = { events: [{ eventId: `${requestId}-click`, requestId, type: "purchase", itemId, revenue: 100 }] };
      const sends = [await post("/api/v1/events", purchase), await post("/api/v1/events", purchase)];
      expect(new Set(sends.map((s) => s.worker)).size).toBe(2);
      expect(sends.map((s) => JSON.parse(s.text))).toEqual([{ accepted: 1, duplicates: 0, rejected: [] }, { accepted: 0, duplicates: 1, rejected: [] }]);
      child.kill("SIGTERM");
      await exited;
      expect(await countRequests(requestId)).toBe(2); // each worker logged the copy it served
      expect(await countEvents(`${requestId}-click`)).toBe(1);
    } finally {
      child.kill("SIGKILL");
      rmSync(spillDir, { recursive: true, force: true });
    }
  }, 240_000);
});
