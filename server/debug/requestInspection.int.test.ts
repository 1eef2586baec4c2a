import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { rerank } from "../rerank/pipeline";
import { inScoringSample } from "../rerank/scoringSample";
import { shadowIdle } from "../rerank/shadow";
import { surfaceConfigs } from "../surfaces/configCache";
import { serialiseRequestLogRow, telemetry, type RequestLogRow } from "../telemetry/streams";
import { createApiKey } from "../auth/apiKeys";
import { callerAs } from "../testing/callers";
import { startTestFrontDoor } from "../testing/frontDoor";
import { createTestSurface } from "../testing/models";
import { partitionsRead, rawQueriesOf } from "../testing/partitionReads";
import { inspectRequest, SHARED_ROWS_LIMIT } from "./requestInspection";

// A logged request by id on real PostgreSQL and onnxruntime: what the log kept, the sampled scoring
// rows (every request from the Debug page; DEBUG_SAMPLE_RATE of the others), masking, shadow rows.

const spec = demoFeatureSpec();
const engineer = () => callerAs(["ml_engineer"], "ml@rerank.local");
let ids: string[];
const candidates = () => ids.map((id, j) => ({ id, retrievalScore: 1 - j / ids.length }));

const samplesOf = (requestIds: string[]) =>
  getDb().$queryRaw<Array<{ request_id: string; reason: string }>>`SELECT request_id, reason FROM scoring_samples WHERE request_id = ANY(${requestIds}) ORDER BY request_id`;

/** Waits until the deferred sample rows are built, then writes them and the request log. */
async function flushed(requestIds: string[], expected: number) {
  await telemetry().requests.flush();
  await vi.waitFor(async () => {
    await telemetry().scoringSamples.flush();
    expect(await samplesOf(requestIds)).toHaveLength(expected);
  });
}

const logRow = (requestId: string, over: Partial<RequestLogRow> = {}): RequestLogRow => ({
  requestId, ts: new Date(), surface: "t-inspect", userKey: null, sessionKey: null, context: {}, experimentKey: null, experimentPhase: null,
  variantKey: null, exposed: false, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 1, topK: 1,
  served: [{ id: ids[1]!, score: 1, position: 1, reasons: [] }], timings: { total: 1 }, latencyMs: 1, defaultedFeatures: 0, ...over,
});

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  await createTestSurface(db, { key: "t-inspect", bytes: demoModelBytes("linear"), featureSpec: spec, shadowBytes: demoModelBytes("candidate") });
  ids = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 12, orderBy: { id: "desc" } })).map((c) => c.id);
  // (The catalog's last items: the serving tests use its first ones.)
  // One item's stored features are 30 days old: past the 7-day freshness limit, so the model got defaults.
  await db.$executeRaw`UPDATE item_features SET updated_at = now() - interval '30 days' WHERE item_id = ${ids[0]}`;
  setEnv("DEBUG_SAMPLE_RATE", "0");
}, 120_000);

afterEach(() => {
  setEnv("DEBUG_SAMPLE_RATE", "0");
  setEnv("DEBUG_MASKED_FIELDS", undefined);
});

describe("a request from the Debug page", () => {
  it("is always sampled, and opens by id with its timings, items, model and the features the model saw", async () => {
    const response = await engineer().debug.rerank({ surface: "t-inspect", requestId: "dbg-page-1", topK: 12, userKey: "u-1", context: { query: "lamp" }, candidates: candidates() });
    await flushed(["dbg-page-1"], 1);
    const seen = await engineer().debug.request({ requestId: "dbg-page-1" });
    expect(seen).toMatchObject({
      requestId: "dbg-page-1", surface: "t-inspect", arm: null, fallback: { used: false, reason: null }, candidateCount: 12, topK: 12,
      model: { name: "t-inspect-model", version: 1 }, context: { query: "lamp" }, timings: response.timings, latencyMs: response.timings.total,
      // Sent from the console by a person, who chose the id: it is that person's (server/rerank/recent.ts requestIdOwner).
      featuresTimedOut: false, caller: "user:test-ml@rerank.local",
    });
    expect(seen.userKey).toMatch(/^#[0-9a-f]{12}$/);
    expect(seen.items.map((i) => ({ id: i.id, score: i.score, position: i.position, reasons: i.reasons }))).toEqual(response.items);
    expect(seen.items.every((i) => i.title !== null)).toBe(true);

    expect(seen.features).toMatchObject({ reason: "debug", names: spec.map((f) => f.name) });
    expect(seen.features!.rows.map((r) => [r.id, r.position, r.score])).toEqual(response.items.map((i) => [i.id, i.position, i.score]));
    const stored = new Map((await getDb().itemFeature.findMany({ where: { itemId: { in: ids } } })).map((f) => [f.itemId, f.values as Record<string, number>]));
    for (const row of seen.features!.rows) {
      const retrieval = candidates().find((c) => c.id === row.id)!.retrievalScore;
      expect(row.values.retrieval_score).toBe(Number(Math.fround(retrieval).toPrecision(7)));
      if (row.id === ids[0]) {
        // Stale: every item feature got its spec default, and says so.
        expect(row.defaulted).toEqual(spec.filter((f) => f.source === "item").map((f) => f.name));
        expect(row.values.popularity).toBe(0.4);
      } else {
        expect(row.defaulted).toEqual([]);
        expect(row.values.popularity).toBe(Number(Math.fround(stored.get(row.id)!.popularity!).toPrecision(7)));
      }
    }
  });

  it("builds the sample after the response, not before it", async () => {
    const before = telemetry().scoringSamples.stats();
    await engineer().debug.rerank({ surface: "t-inspect", requestId: "dbg-page-deferred", topK: 3, candidates: candidates() });
    // The response is back and nothing was added to the sample's buffer yet: that happens in a later turn of the event loop.
    expect(telemetry().scoringSamples.stats().buffered + telemetry().scoringSamples.stats().written).toBe(before.buffered + before.written);
    await flushed(["dbg-page-deferred"], 1);
  });

  it("masks the fields named in DEBUG_MASKED_FIELDS, in the context and among the features", async () => {
    setEnv("DEBUG_MASKED_FIELDS", "userKey,query,popularity");
    const seen = await engineer().debug.request({ requestId: "dbg-page-1" });
    expect(seen.context.query).toMatch(/^#[0-9a-f]{12}$/);
    for (const row of seen.features!.rows) {
      expect(row.values.popularity).toMatch(/^#[0-9a-f]{12}$/);
      expect(typeof row.values.ctr_7d).toBe("number");
    }
  });
});

describe("the scoring sample", () => {
  it("keeps exactly the DEBUG_SAMPLE_RATE draw of the other requests, and none at rate 0", async () => {
    setEnv("DEBUG_SAMPLE_RATE", "0.3");
    const requestIds = Array.from({ length: 40 }, (_, i) => `dbg-sample-${i}`);
    const expected = requestIds.filter((id) => inScoringSample(id, 0.3));
    expect(expected.length).toBeGreaterThan(4);
    expect(expected.length).toBeLessThan(30);
    for (const requestId of requestIds) await rerank({ surface: "t-inspect", requestId, topK: 5, candidates: candidates() });
    await flushed(requestIds, expected.length);
    const samples = await samplesOf(requestIds);
    expect(samples.map((s) => s.request_id)).toEqual([...expected].sort());
    expect(samples.every((s) => s.reason === "sampled")).toBe(true);

    setEnv("DEBUG_SAMPLE_RATE", "0");
    await rerank({ surface: "t-inspect", requestId: "dbg-unsampled", topK: 5, candidates: candidates() });
    await flushed(["dbg-unsampled"], 0);
    const seen = await engineer().debug.request({ requestId: "dbg-unsampled" });
    expect(seen).toMatchObject({ features: null, sampleRate: 0 });
    expect(seen.items).toHaveLength(5);
  });

  it("keeps no features for a request served in retrieval order, but still its items and timings", async () => {
    await getDb().surface.update({ where: { key: "t-inspect" }, data: { killSwitch: true } });
    await surfaceConfigs().refresh();
    try {
      await engineer().debug.rerank({ surface: "t-inspect", requestId: "dbg-killed", topK: 3, candidates: candidates() });
      await flushed(["dbg-killed"], 1);
      const seen = await engineer().debug.request({ requestId: "dbg-killed" });
      expect(seen).toMatchObject({ model: null, fallback: { used: true, reason: "kill_switch" }, features: { names: [] } });
      expect(seen.features!.rows.map((r) => r.values)).toEqual([{}, {}, {}]);
    } finally {
      await getDb().surface.update({ where: { key: "t-inspect" }, data: { killSwitch: false } });
      await surfaceConfigs().refresh();
    }
  });
});

describe("inspectRequest", () => {

  it("names the arm that served: an experiment's variant or a canary's", async () => {
    telemetry().requests.enqueue(serialiseRequestLogRow(logRow("dbg-canary", { experimentKey: "rollout:r-42", variantKey: "canary" })));
    telemetry().requests.enqueue(serialiseRequestLogRow(logRow("dbg-exp", { experimentKey: "exp-a", experimentPhase: 2, variantKey: "treatment", exposed: true })));
    await telemetry().requests.flush();
    expect((await engineer().debug.request({ requestId: "dbg-canary" })).arm).toEqual({ kind: "canary", rolloutId: "r-42", arm: "canary" });
    expect((await engineer().debug.request({ requestId: "dbg-exp" })).arm).toEqual({ kind: "experiment", experiment: "exp-a", variant: "treatment", phase: 2, exposed: true });
  });

  it("reads the served list in the log's compact format and in the object format rows had before it", async () => {
    const served = [{ id: ids[1]!, score: 0.5, position: 1, reasons: ["boost:fresh"] }, { id: ids[2]!, score: 0.25, position: 2, reasons: [] }];
    telemetry().requests.enqueue(serialiseRequestLogRow(logRow("dbg-compact", { served, topK: 2 })));
    // A row as the log wrote it before the compact format: the item objects as they were.
    telemetry().requests.enqueue(JSON.stringify(logRow("dbg-objects", { served, topK: 2 })));
    await telemetry().requests.flush();
    const stored = await getDb().$queryRaw<Array<{ request_id: string; served: unknown }>>`SELECT request_id, served FROM rerank_requests WHERE request_id IN ('dbg-compact', 'dbg-objects') ORDER BY request_id`;
    expect(stored.map((r) => r.served)).toEqual([[[ids[1], 0.5, ["boost:fresh"]], [ids[2], 0.25]], served]);
    for (const requestId of ["dbg-compact", "dbg-objects"]) {
      const seen = await engineer().debug.request({ requestId });
      expect(seen.items.map(({ id, score, position, reasons }) => ({ id, score, position, reasons }))).toEqual(served);
      expect(seen.items[0]!.title).toEqual(expect.any(String));
    }
    // An outcome event for either row finds its item at the served position, and only there.
    const event = (requestId: string, position: number) => ({ eventId: `${requestId}-${position}`, requestId, type: "click" as const, itemId: ids[2]!, position });
    for (const requestId of ["dbg-compact", "dbg-objects"]) {
      await expect(callerAs(["admin"]).events.record({ events: [event(requestId, 1)] })).rejects.toThrow(/served at position 2, not 1/);
      await expect(callerAs(["admin"]).events.record({ events: [event(requestId, 2)] })).resolves.toMatchObject({ accepted: 1 });
    }
  });

  it("lists the shadow comparisons made on the request", async () => {
    await engineer().shadow.configure({ surface: "t-inspect", alias: "shadow", sampleRate: 1, reason: "test" });
    await surfaceConfigs().refresh();
    await rerank({ surface: "t-inspect", requestId: "dbg-shadowed", topK: 5, candidates: candidates() });
    await shadowIdle();
    await telemetry().shadow.flush();
    await telemetry().requests.flush();
    const seen = await engineer().debug.request({ requestId: "dbg-shadowed" });
    expect(seen.shadows).toEqual([{ versionId: expect.any(String), label: "t-inspect-model v3", overlapAt10: expect.any(Number), rbo: expect.any(Number), kendallTau: expect.any(Number), error: null }]);
    await engineer().shadow.configure({ surface: "t-inspect", alias: null, sampleRate: 0, reason: "test" });
  });

  it("says which id is not in the log, and shows request data only to roles that may see it", async () => {
    await expect(engineer().debug.request({ requestId: "never-sent" })).rejects.toThrow('logged request "never-sent" does not exist');
    await expect(engineer().debug.request({ requestId: " " })).rejects.toThrow(/requestId/);
    await expect(callerAs(["viewer"]).debug.request({ requestId: "dbg-page-1" })).rejects.toThrow();
    await expect(callerAs(["pm"]).debug.problemRequests({ surface: "t-inspect" })).rejects.toThrow();
  });
});

describe("a request id shared by several callers (break test of issue #15: bt15-trace-1)", () => {
  it("lists every row with the id, newest first, with surface and the key that chose it, and opens each exact row", async () => {
    const db = getDb();
    const owner = await db.user.upsert({ where: { email: "key-owner@rerank.test" }, create: { email: "key-owner@rerank.test", name: "Key owner", roles: ["admin"] }, update: {} });
    const searchKey = await createApiKey(db, { name: "search app", kind: "serving", surfaces: ["search"] }, owner.id);
    const homeKey = await createApiKey(db, { name: "home-feed app", kind: "serving", surfaces: ["home-feed"] }, owner.id);
    const frontDoor = await startTestFrontDoor();
    try {
      const search = await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 3, requestId: "bt15-trace-1", candidates: candidates() }, { headers: { authorization: `Bearer ${searchKey.key}` } });
      expect(search.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 5));
      // The attacker's key may serve only home-feed, and reuses the search request's id.
      const spoof = await frontDoor.post("/api/v1/rerank", { surface: "home-feed", topK: 3, requestId: "bt15-trace-1", candidates: candidates() }, { headers: { authorization: `Bearer ${homeKey.key}` } });
      expect(spoof.status).toBe(200);
    } finally {
      await frontDoor.close();
    }
    await telemetry().requests.flush();
    const newest = await engineer().debug.request({ requestId: "bt15-trace-1" });
    expect(newest.rowsWithId.map((r) => [r.surface, r.caller, r.callerName, r.selected])).toEqual([
      ["home-feed", `api_key:${homeKey.apiKey.id}`, "home-feed app", true],
      ["search", `api_key:${searchKey.apiKey.id}`, "search app", false],
    ]);
    expect(newest.rowsWithId[0]!.ts.getTime()).toBeGreaterThan(newest.rowsWithId[1]!.ts.getTime());
    expect(newest.surface).toBe("home-feed");
    expect(newest.callerName).toBe("home-feed app");
    // A link from a shadow, audit or on-call row names its row by the log time: that exact row opens.
    const exact = await engineer().debug.request({ requestId: "bt15-trace-1", ts: newest.rowsWithId[1]!.ts });
    expect([exact.surface, exact.caller, exact.callerName]).toEqual(["search", `api_key:${searchKey.apiKey.id}`, "search app"]);
    expect(exact.rowsWithId.map((r) => r.selected)).toEqual([false, true]);
    await expect(engineer().debug.request({ requestId: "bt15-trace-1", ts: new Date("2020-01-01T00:00:00Z") })).rejects.toThrow('logged request "bt15-trace-1 at 2020-01-01T00:00:00.000Z" does not exist');
  });
});

describe("two callers' requests with one id in one millisecond (break test: the log kept one of them)", () => {
  it("both are logged; each opens by its ts and owner, and the list tells them apart", async () => {
    const ts = new Date();
    const a = logRow("same-ms-1", { ts, caller: "api_key:same-ms-a", served: [{ id: ids[1]!, score: 1, position: 1, reasons: [] }] });
    const b = logRow("same-ms-1", { ts, caller: "api_key:same-ms-b", served: [{ id: ids[2]!, score: 1, position: 1, reasons: [] }] });
    for (const row of [a, b]) telemetry().requests.enqueue(serialiseRequestLogRow(row));
    await telemetry().requests.flush();
    const listed = await engineer().debug.request({ requestId: "same-ms-1" });
    expect(listed.rowsWithId.map((r) => [r.ts.getTime(), r.owner, r.selected])).toEqual([[ts.getTime(), "api_key:same-ms-a", true], [ts.getTime(), "api_key:same-ms-b", false]]);
    for (const [owner, item] of [["api_key:same-ms-a", ids[1]], ["api_key:same-ms-b", ids[2]]] as const) {
      const exact = await engineer().debug.request({ requestId: "same-ms-1", ts, owner });
      expect([exact.caller, exact.owner, exact.items.map((i) => i.id), exact.rowsWithId.filter((r) => r.selected).map((r) => r.owner)]).toEqual([owner, owner, [item], [owner]]);
    }
  });
});

describe("problemRequests", () => {
  it("lists a surface's newest fallbacks and requests over its p99 target", async () => {
    await getDb().surface.update({ where: { key: "t-inspect" }, data: { sloLatencyP99Ms: 100 } });
    // A minute ahead, so these rows are the newest whatever the earlier tests logged.
    const base = Date.now() + 60_000;
    const rows = [
      { requestId: "p-fb-old", ts: new Date(base - 3000), fallbackUsed: true, fallbackReason: "timeout", latencyMs: 20 },
      { requestId: "p-fb-new", ts: new Date(base - 1000), fallbackUsed: true, fallbackReason: "model_error", latencyMs: 150 },
      { requestId: "p-slow", ts: new Date(base - 2000), latencyMs: 250 },
      { requestId: "p-fine", ts: new Date(base - 500), latencyMs: 99 },
      { requestId: "p-stale", ts: new Date(base - 3 * 3_600_000), fallbackUsed: true, fallbackReason: "timeout", latencyMs: 400 },
    ];
    for (const r of rows) telemetry().requests.enqueue(serialiseRequestLogRow({ ...logRow(r.requestId), ...r, surface: "t-inspect" }));
    await telemetry().requests.flush();
    const problems = await engineer().debug.problemRequests({ surface: "t-inspect", hours: 1, limit: 10 });
    expect(problems.targetMs).toBe(100);
    // The earlier tests' kill-switched request is a fallback too (older): then the window's edge leaves p-stale out.
    expect(problems.fallbacks.map((p) => [p.requestId, p.fallbackReason, p.slow])).toEqual([["p-fb-new", "model_error", true], ["p-fb-old", "timeout", false], ["dbg-killed", "kill_switch", false]]);
    expect(problems.slow.map((p) => p.requestId).slice(0, 2)).toEqual(["p-fb-new", "p-slow"]);
    expect((await engineer().debug.problemRequests({ surface: "t-inspect", hours: 1, limit: 1 })).fallbacks.map((p) => p.requestId)).toEqual(["p-fb-new"]);
    await expect(engineer().debug.problemRequests({ surface: "nowhere" })).rejects.toThrow('surface "nowhere" does not exist');
  });
});

describe("lists that other rows could crowd out", () => {
  it("break test: after model errors open the circuit, the recent fallbacks still link the model error and the timeout (the newest 3 were all circuit_open)", async () => {
    await createTestSurface(getDb(), { key: "t-inspect-breaker", bytes: demoModelBytes("linear"), featureSpec: spec });
    const base = Date.now() - 120_000;
    const rows = [
      { requestId: "brk-timeout", ts: new Date(base), fallbackReason: "timeout", latencyMs: 1000 },
      ...Array.from({ length: 5 }, (_, i) => ({ requestId: `brk-error-${i}`, ts: new Date(base + 10_000 + i * 1000), fallbackReason: "model_error", latencyMs: 30 })),
      ...Array.from({ length: 50 }, (_, i) => ({ requestId: `brk-open-${i}`, ts: new Date(base + 20_000 + i * 1000), fallbackReason: "circuit_open", latencyMs: 2 })),
    ];
    for (const r of rows) telemetry().requests.enqueue(serialiseRequestLogRow({ ...logRow(r.requestId), ...r, fallbackUsed: true, surface: "t-inspect-breaker" }));
    await telemetry().requests.flush();
    const problems = await engineer().debug.problemRequests({ surface: "t-inspect-breaker", hours: 1, limit: 3 });
    // One of each reason, causes first, shown newest first; each with its ts and owner for the Debug link.
    expect(problems.fallbacks.map((p) => [p.requestId, p.fallbackReason, p.ts.getTime(), p.owner])).toEqual([
      ["brk-open-49", "circuit_open", base + 69_000, ""], ["brk-error-4", "model_error", base + 14_000, ""], ["brk-timeout", "timeout", base, ""],
    ]);
    // Room for two: the causes, not the circuit they opened.
    expect((await engineer().debug.problemRequests({ surface: "t-inspect-breaker", hours: 1, limit: 2 })).fallbacks.map((p) => p.requestId)).toEqual(["brk-error-4", "brk-timeout"]);
    // More room: the second of each reason before a third of any.
    expect((await engineer().debug.problemRequests({ surface: "t-inspect-breaker", hours: 1, limit: 5 })).fallbacks.map((p) => p.requestId)).toEqual(["brk-open-49", "brk-open-48", "brk-error-4", "brk-error-3", "brk-timeout"]);
  });

  it("lists a fallback logged without its reason (spilled by an earlier version) like any other (break test: the per-reason read dropped it)", async () => {
    await createTestSurface(getDb(), { key: "t-inspect-noreason", bytes: demoModelBytes("linear"), featureSpec: spec });
    const ts = new Date(Date.now() - 60_000);
    telemetry().requests.enqueue(serialiseRequestLogRow({ ...logRow("noreason-1"), ts, fallbackUsed: true, fallbackReason: null, surface: "t-inspect-noreason" }));
    await telemetry().requests.flush();
    const problems = await engineer().debug.problemRequests({ surface: "t-inspect-noreason", hours: 1, limit: 3 });
    expect(problems.fallbacks.map((p) => [p.requestId, p.fallbackReason, p.ts.getTime()])).toEqual([["noreason-1", null, ts.getTime()]]);
  });

  it("break test: a request opened by its time is listed among the rows sharing its id, however many newer ones reuse the id", async () => {
    const base = Date.now() - 600_000;
    const n = SHARED_ROWS_LIMIT + 5;
    for (let i = 0; i < n; i++) telemetry().requests.enqueue(serialiseRequestLogRow(logRow("reused-id-1", { ts: new Date(base + i * 1000), latencyMs: i })));
    await telemetry().requests.flush();
    const oldest = await engineer().debug.request({ requestId: "reused-id-1", ts: new Date(base) });
    expect([oldest.latencyMs, oldest.rowsWithIdCount, oldest.rowsWithId.length]).toEqual([0, n, SHARED_ROWS_LIMIT + 1]);
    expect(oldest.rowsWithId.filter((r) => r.selected).map((r) => [r.ts.getTime(), r.latencyMs])).toEqual([[base, 0]]);
    expect(oldest.rowsWithId.at(-1)!.selected).toBe(true);
    expect(oldest.rowsWithId[0]!.ts.getTime()).toBe(base + (n - 1) * 1000);
    // The newest is among the newest: listed once.
    const newest = await engineer().debug.request({ requestId: "reused-id-1" });
    expect([newest.latencyMs, newest.rowsWithIdCount, newest.rowsWithId.length, newest.rowsWithId[0]!.selected]).toEqual([n - 1, n, SHARED_ROWS_LIMIT, true]);
  });
});

describe("the rows sharing an id, over the days the log keeps (RETENTION_DAYS)", () => {
  it("lists and counts them over the days kept, and still opens an older row a link names (break test: the id was probed in every day partition)", async () => {
    const DAY = 86_400_000;
    const client = await connectClient({ connectionString: databaseUrl() });
    try { await ensurePartitions(client, { daysBack: 6 }); } finally { await client.end(); }
    const now = Date.now();
    const old = new Date(now - 4 * DAY);
    const recent = new Date(now - 3_600_000);
    telemetry().requests.enqueue(serialiseRequestLogRow(logRow("kept-days-1", { ts: recent, latencyMs: 1 })));
    telemetry().requests.enqueue(serialiseRequestLogRow(logRow("kept-days-1", { ts: old, latencyMs: 2 })));
    await telemetry().requests.flush();
    setEnv("RETENTION_DAYS", "2");
    try {
      const today = utcDay(new Date(now)).getTime();
      const day = (d: number) => partitionName("rerank_requests", new Date(today + d * DAY));
      const kept = [day(-2), day(-1), day(0), day(1)];
      // Two days kept: the row of four days ago waits for retention's next run, and is no longer listed or counted.
      let newest!: Awaited<ReturnType<typeof inspectRequest>>;
      const byId = await rawQueriesOf(getDb(), async () => { newest = await inspectRequest(getDb(), { requestId: "kept-days-1" }); });
      expect([newest.latencyMs, newest.rowsWithIdCount, newest.rowsWithId.map((r) => r.latencyMs)]).toEqual([1, 1, [1]]);
      // Planned with the values (the driver's unnamed statements) and generic (a statement prepared once): the same partitions.
      const logReads = async (queries: typeof byId) => {
        const reads = (plan: "custom" | "generic") => Promise.all(queries.filter((q) => q.sql.includes("rerank_requests")).map((q) => partitionsRead(getDb(), q, "rerank_requests", { plan })));
        const [custom, generic] = [await reads("custom"), await reads("generic")];
        expect(generic).toEqual(custom);
        return custom;
      };
      // The list and the count read the kept days' partitions (not older ones, the week ahead or DEFAULT); the row shown, its own.
      const [list, count, ...rest] = await logReads(byId);
      expect([list, count]).toEqual([kept, kept]);
      for (const read of rest) expect(read).toEqual([partitionName("rerank_requests", utcDay(recent))]);
      // A link naming the older row opens it, listed and counted with the others: its own partition is read besides.
      let linked!: Awaited<ReturnType<typeof inspectRequest>>;
      const byLink = await rawQueriesOf(getDb(), async () => { linked = await inspectRequest(getDb(), { requestId: "kept-days-1", ts: old }); });
      expect([linked.latencyMs, linked.rowsWithIdCount, linked.rowsWithId.map((r) => [r.latencyMs, r.selected])]).toEqual([2, 2, [[1, false], [2, true]]]);
      const [linkedList, linkedCount, ...linkedRest] = await logReads(byLink);
      expect([linkedList, linkedCount]).toEqual([[day(-4), ...kept], [day(-4), ...kept]]);
      for (const read of linkedRest) expect(read).toEqual([day(-4)]);
    } finally {
      setEnv("RETENTION_DAYS", undefined);
    }
  });
});
