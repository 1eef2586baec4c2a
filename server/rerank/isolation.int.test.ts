import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openServedModels } from "./warm";
import { createApiKey } from "../auth/apiKeys";
import { env, setEnv } from "../config";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { FEATURE_CACHE_SHARES, featureStore, FeatureStore } from "../features/store";
import { metrics } from "../telemetry/metrics";
import { telemetry } from "../telemetry/streams";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { createTestSurface, slowModelOnnx } from "../testing/models";
import { breakerStates } from "./breakers";
import { scoringPool } from "../inference/scoringPool";
import { recordOutcomes } from "../events/service";
import { rerank } from "./pipeline";
import { recentEntryBytes, recentKey, recentRequests, resetRecentRequests } from "./recent";

// Issue #11, Deliver 2 and 5: nothing one caller sends changes what another caller gets, and what
// a caller's input decides the size of is bounded in bytes. Real PostgreSQL, real onnxruntime, the
// real HTTP endpoints; two callers with keys of their own.

const spec = demoFeatureSpec();
let frontDoor: TestFrontDoor;
let alice: Record<string, string>;
let bob: Record<string, string>;
let catalog: string[];

const candidates = (ids: string[]) => ids.map((id, i) => ({ id, retrievalScore: 1 - i / ids.length }));

async function post(path: string, body: unknown, headers: Record<string, string>) {
  const response = await frontDoor.post(path, body, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let resetMs: number;
beforeAll(async () => {
  // Circuits stay open for the whole check: the oversized runs' last cut run goes on for a second or
  // more on a loaded machine, and the tests read the circuits after it (with the integration
  // project's 300 ms they were half-open by then, and the blocked request became a trial: 2 CI runs).
  resetMs = env().BREAKER_RESET_MS;
  setEnv("BREAKER_RESET_MS", "30000");
  const db = getDb();
  await seedDemo(db);
  catalog = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" }, take: 200 })).map((c) => c.id);
  const owner = await db.user.upsert({ where: { email: "isolation@rerank.test" }, create: { email: "isolation@rerank.test", name: "Isolation", roles: ["admin"] }, update: {} });
  alice = { authorization: `Bearer ${(await createApiKey(db, { name: "alice", kind: "serving" }, owner.id)).key}` };
  bob = { authorization: `Bearer ${(await createApiKey(db, { name: "bob", kind: "serving" }, owner.id)).key}` };
  // A dense model whose cost grows with the rows: 10 candidates take a few milliseconds, 1,000 take
  // ~150 ms or more (1,000 × 3 × 1024² multiply-adds), far past a 30 ms budget sized for ordinary requests.
  // 1,000 rows through ten 1024-wide layers: ~20 GFLOP, 200+ ms on any core here, far past the 30 ms
  // budget (three layers, ~6 GFLOP, finished within it on a quiet core now and then); 10 rows: a few ms.
  for (const key of ["t-heavy", "t-heavy-cold"]) await createTestSurface(db, { key, bytes: slowModelOnnx(spec.length, 1024, 10), featureSpec: spec, timeoutMs: 30 });
  // A model that overflows float32 on extreme (but float32-valid) inputs: the sum of seven 3e38s.
  await createTestSurface(db, { key: "t-overflow", bytes: linearRankerOnnx(new Array(spec.length).fill(1), 0), featureSpec: spec });
  // A broken export: a NaN bias makes every score NaN, whatever the inputs.
  await createTestSurface(db, { key: "t-nan", bytes: linearRankerOnnx(new Array(spec.length).fill(1), Number.NaN), featureSpec: spec });
  // As a server start does (server/rerank/warm.ts): the heavy model opened on the scoring pool's
  // threads before traffic. Cold, the first ordinary request opened the 40 MB session on a pool thread
  // inside its 30 ms budget and timed out (1 clean-clone CI run): the ordinary requests must be the model's.
  await openServedModels(() => {});
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(async () => {
  await frontDoor?.close();
  setEnv("BREAKER_RESET_MS", String(resetMs));
});

describe("callers are isolated: input faults never open a breaker", () => {
  it("four requests with retrievalScore 1e39 from one client get 400s; another client is still served by the model", async () => {
    for (let i = 0; i < 4; i++) {
      const bad = await post("/api/v1/rerank", { surface: "search", topK: 5, userKey: "mallory", candidates: [{ id: catalog[0], retrievalScore: 1e39 }, ...candidates(catalog.slice(1, 20))] }, alice);
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toBe("candidates[0].retrievalScore: must fit a 32-bit float (between -3.4e38 and 3.4e38)");
    }
    expect(breakerStates().filter((b) => b.key.startsWith("search|") && b.open)).toEqual([]);
    const good = await post("/api/v1/rerank", { surface: "search", topK: 5, userKey: "bob", candidates: candidates(catalog.slice(0, 20)) }, bob);
    expect(good.status).toBe(200);
    expect(good.body.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
    expect(good.body.modelVersion).toMatchObject({ name: "search-ranker", alias: "production" });
  });

  it("a model that overflows on one client's extreme values falls back for that request only, and its breaker stays closed", async () => {
    const extreme = { surface: "t-overflow", topK: 5, userKey: "mallory", candidates: catalog.slice(0, 10).map((id) => ({ id, features: Object.fromEntries(spec.map((f) => [f.name, 3e38])) })) };
    for (let i = 0; i < 8; i++) {
      const answer = await post("/api/v1/rerank", extreme, alice);
      expect(answer.status).toBe(200);
      expect(answer.body.fallback).toEqual({ used: true, reason: "model_error", servedBy: "retrieval_order" });
    }
    expect(breakerStates().filter((b) => b.key.startsWith("t-overflow|"))).toEqual([expect.objectContaining({ open: false, halfOpen: false })]);
    const good = await post("/api/v1/rerank", { surface: "t-overflow", topK: 5, userKey: "bob", candidates: candidates(catalog.slice(0, 10)) }, bob);
    expect(good.body.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
  });

  it("a model that returns NaN for every row of ordinary inputs is a model fault: two callers' requests open its breaker", async () => {
    const reasons: string[] = [];
    // alice, bob, alice, bob, alice: five faults from two callers in the window open the surface-wide circuit.
    for (const [user, headers] of [["alice", alice], ["bob", bob], ["alice", alice], ["bob", bob], ["alice", alice]] as const) {
      const answer = await post("/api/v1/rerank", { surface: "t-nan", topK: 5, userKey: user, candidates: candidates(catalog.slice(0, 10)) }, headers);
      expect(answer.status).toBe(200);
      expect(answer.body.fallback.servedBy).toBe("retrieval_order");
      reasons.push(answer.body.fallback.reason);
    }
    expect(reasons).toEqual(["model_error", "model_error", "model_error", "model_error", "model_error"]);
    // Set when the fifth fault was recorded (the circuit half-opens BREAKER_RESET_MS later: 300 ms in these tests).
    const gauge = (await metrics.breakerState.get()).values.find((v) => v.labels.surface === "t-nan");
    expect(gauge?.value).toBe(1);
    expect(breakerStates().find((b) => b.key.startsWith("t-nan|"))).not.toMatchObject({ open: false, halfOpen: false });
  });

  const heavyBreaker = (surface: string) => breakerStates().find((b) => b.key.startsWith(`${surface}|`));
  /** Caller A's 1,000-candidate requests until its breaker's state changes (at most 12); the fallback reasons it got. */
  async function oversizedUntilOwnCircuitOpens(surface: string): Promise<string[]> {
    const ids = (await getDb().catalogItem.findMany({ select: { id: true }, orderBy: { id: "asc" }, take: 1000 })).map((c) => c.id);
    const reasons: string[] = [];
    const withdrawn = await queueTimeouts();
    for (let i = 0; i < 60 && !heavyBreaker(surface)?.callers.some((c) => c.state === "open"); i++) {
      const answer = await post("/api/v1/rerank", { surface, topK: 10, userKey: "mallory", candidates: candidates(ids) }, alice);
      expect(answer.status).toBe(200);
      reasons.push(answer.body.fallback.reason);
    }
    // A cut run goes on on the pool's one thread for about a second: the requests sent meanwhile
    // waited their budget for it and were withdrawn unrun (load: counted by no circuit). Only the
    // runs that started count, so the circuit opened on the fifth of those.
    expect(reasons.length - ((await queueTimeouts()) - withdrawn)).toBe(5);
    // The last cut run ends before anyone else is served (a task without a start deadline waits for the thread).
    await scoringPool().run({ versionId: "barrier", bytes: linearRankerOnnx([0.1], 0), inputName: "features", outputName: "score" }, new Float32Array(1), 1, 1);
    return reasons;
  }
  const queueTimeouts = async () => (await metrics.modelQueueTimeouts.get()).values.reduce((sum, v) => sum + v.value, 0);

  it("maximal requests that blow the budget trip only their sender's circuit: another caller is still served by the model", async () => {
    const ordinary = { surface: "t-heavy", topK: 5, userKey: "bob", candidates: candidates(catalog.slice(0, 10)) };
    // Ordinary traffic first: the breaker learns what a row costs this model.
    for (let i = 0; i < 3; i++) expect((await post("/api/v1/rerank", ordinary, bob)).body.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
    const reasons = await oversizedUntilOwnCircuitOpens("t-heavy");
    // Five timeouts (oversized: 1,000 rows where the budget is sized for far fewer) open the sender's own circuit.
    expect(new Set(reasons)).toEqual(new Set(["timeout"]));
    expect(heavyBreaker("t-heavy")).toMatchObject({ open: false, halfOpen: false, callers: [{ state: "open" }] });
    expect(heavyBreaker("t-heavy")!.sizedFor.rows).toBeGreaterThanOrEqual(10);
    expect(heavyBreaker("t-heavy")!.sizedFor.rows).toBeLessThan(1000);
    const blocked = await post("/api/v1/rerank", { ...ordinary, userKey: "mallory" }, alice);
    expect(blocked.body.fallback).toEqual({ used: true, reason: "circuit_open", servedBy: "retrieval_order" });
    const good = await post("/api/v1/rerank", ordinary, bob);
    expect(good.body.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
    expect(good.body.modelVersion).toMatchObject({ name: "t-heavy-model" });
  });

  it("with no ordinary traffic yet, the cost measured when the version was opened says the requests are oversized: one caller's timeouts open only its own circuit", async () => {
    const reasons = await oversizedUntilOwnCircuitOpens("t-heavy-cold");
    expect(new Set(reasons)).toEqual(new Set(["timeout"]));
    // Priced at open (its 100 default rows), not "unpriced" until a request succeeds: the budget is sized for fewer rows than were sent.
    const breaker = heavyBreaker("t-heavy-cold")!;
    expect(breaker).toMatchObject({ open: false, callers: [{ state: "open" }] });
    expect(breaker.sizedFor.rows).toBeLessThan(1000);
    const good = await post("/api/v1/rerank", { surface: "t-heavy-cold", topK: 5, userKey: "bob", candidates: candidates(catalog.slice(0, 10)) }, bob);
    expect(good.body.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
  });

  it("a stored feature past float32 is defaulted and counted, not fed to the model as Infinity", async () => {
    const db = getDb();
    const id = catalog[50]!;
    const original = await db.itemFeature.findUniqueOrThrow({ where: { itemId: id } });
    await db.itemFeature.update({ where: { itemId: id }, data: { values: { ...(original.values as object), popularity: 1e300 }, updatedAt: new Date() } });
    featureStore().clear();
    try {
      const answer = await rerank({ surface: "t-overflow", topK: 3, candidates: [{ id, retrievalScore: 0.5 }] });
      expect(answer.fallback.used).toBe(false);
      expect(answer.features.defaulted).toBe(1);
    } finally {
      // Other test files serve this item: leave it as seeded.
      await db.itemFeature.update({ where: { itemId: id }, data: { values: original.values as object, updatedAt: original.updatedAt } });
      featureStore().clear();
    }
  });
});

describe("callers are isolated: request ids and event ids", () => {
  it("serves each caller its own response for the same client-chosen request id, and replays only to the caller that sent it", async () => {
    const requestId = `shared-${Date.now()}`;
    const first = await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "alice", candidates: candidates(catalog.slice(0, 10)) }, alice);
    const other = await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "bob", candidates: candidates(catalog.slice(100, 110)) }, bob);
    expect(first.status).toBe(200);
    expect(other.status).toBe(200);
    expect(other.body.items.every((i: { id: string }) => catalog.slice(100, 110).includes(i.id))).toBe(true);
    // A retry by the first caller is its own response again (idempotent); the id with another request is refused.
    const retry = await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "alice", candidates: candidates(catalog.slice(0, 10)) }, alice);
    expect(retry.body).toEqual(first.body);
    const reused = await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "alice", candidates: candidates(catalog.slice(20, 30)) }, alice);
    expect(reused.status).toBe(409);
    // The id is each key's own: Bob's retry of his own request is his response, not a conflict with Alice's.
    expect((await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "bob", candidates: candidates(catalog.slice(100, 110)) }, bob)).body).toEqual(other.body);
    // Each caller's events find that caller's request: both clicks on their own first item are accepted.
    const click = (item: string) => ({ events: [{ eventId: "click-1", requestId, type: "click", itemId: item, position: 1 }] });
    expect((await post("/api/v1/events", click(first.body.items[0].id), alice)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post("/api/v1/events", click(other.body.items[0].id), bob)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    // The same event again is a duplicate for its sender.
    expect((await post("/api/v1/events", click(first.body.items[0].id), alice)).body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it("refuses another caller's event for a request id found only in the request log, as for an unknown id", async () => {
    const requestId = `logged-${Date.now()}`;
    const served = await post("/api/v1/rerank", { surface: "search", requestId, topK: 3, userKey: "alice", candidates: candidates(catalog.slice(0, 10)) }, alice);
    expect(served.status).toBe(200);
    // The recent entry is gone (another worker's, or evicted): only the log knows the request.
    await telemetry().requests.flush();
    resetRecentRequests();
    const row = await getDb().rerankRequest.findFirstOrThrow({ where: { requestId } });
    expect(row.caller).toMatch(/^api_key:/);
    const click = (id: string, eventId: string) => ({ events: [{ eventId, requestId: id, type: "click", itemId: served.body.items[0].id, position: 1 }] });
    const unknown = await post("/api/v1/events", click(`never-${requestId}`, "e-unknown"), bob);
    const stolen = await post("/api/v1/events", click(requestId, "e-bob"), bob);
    expect(unknown.status).toBe(400);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.message).toBe(`events[0].requestId: no served request "${requestId}" (send events after the rerank response)`);
    expect(stolen.body.error.message).toBe(unknown.body.error.message.replace(`never-${requestId}`, requestId));
    // The caller that chose the id finds it in the log.
    expect((await post("/api/v1/events", click(requestId, "e-alice"), alice)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it("an API key's own request id stays its own whether the response is cached or only in the log (a person's: requestIdOwner.int.test.ts)", async () => {
    // Another key is refused as for an unknown id, cached or not.
    const own = `key-chosen-${Date.now()}`;
    const keyServed = await post("/api/v1/rerank", { surface: "search", requestId: own, topK: 3, candidates: candidates(catalog.slice(0, 10)) }, alice);
    const stolen = (eventId: string) => ({ events: [{ eventId, requestId: own, type: "click", itemId: keyServed.body.items[0].id, position: 1 }] });
    const refused = `events[0].requestId: no served request "${own}" (send events after the rerank response)`;
    const stolenCached = await post("/api/v1/events", stolen("e-bob-cached"), bob);
    await telemetry().requests.flush();
    resetRecentRequests();
    const stolenLogged = await post("/api/v1/events", stolen("e-bob-logged"), bob);
    expect([stolenCached.status, stolenCached.body.error?.message]).toEqual([400, refused]);
    expect([stolenLogged.status, stolenLogged.body.error?.message]).toEqual([400, refused]);
  });

  it("two concurrent batches carrying the same event accept it once: the counter and the table agree", async () => {
    const served = await rerank({ surface: "search", topK: 3, candidates: candidates(catalog.slice(30, 40)) });
    const eventId = `concurrent-${Date.now()}`;
    const batch = { events: [{ eventId, requestId: served.requestId, type: "add_to_cart" as const, itemId: served.items[0]!.id, position: 1 }] };
    const counted = async () => (await metrics.events.get()).values.find((v) => v.labels.type === "add_to_cart")?.value ?? 0;
    const before = await counted();
    const answers = await Promise.all([recordOutcomes(batch), recordOutcomes(batch), recordOutcomes(batch)]);
    expect(answers.map((a) => a.accepted).sort()).toEqual([0, 0, 1]);
    expect(answers.map((a) => a.duplicates).sort()).toEqual([0, 1, 1]);
    await telemetry().events.flush();
    expect(await getDb().outcomeEvent.count({ where: { eventId, requestId: served.requestId } })).toBe(1);
    expect((await counted()) - before).toBe(1);
  });

  it("a batch naming many requests found only in the log is checked in one go: each event against its own request", async () => {
    const served = [];
    for (let i = 0; i < 40; i++) served.push(await rerank({ surface: "search", topK: 3, candidates: candidates(catalog.slice(i, i + 10)) }));
    await telemetry().requests.flush();
    resetRecentRequests();
    const tag = `many-${Date.now()}`;
    const events = served.map((r, i) => ({ eventId: `${tag}-${i}`, requestId: r.requestId, type: "impression" as const, itemId: r.items[1]!.id, position: 2 }));
    // One event names an item its request did not serve, one a request that does not exist.
    events.push({ eventId: `${tag}-wrong-item`, requestId: served[0]!.requestId, type: "impression", itemId: "never-served-item", position: 1 });
    events.push({ eventId: `${tag}-unknown`, requestId: `${tag}-no-such-request`, type: "impression", itemId: served[0]!.items[0]!.id, position: 1 });
    const result = await recordOutcomes({ events });
    expect(result.accepted).toBe(40);
    expect(result.rejected.map((r) => r.field)).toEqual(["events[40].itemId", "events[41].requestId"]);
  });

  it("keeps one caller's event ids from swallowing another's events on other requests", async () => {
    const a = await post("/api/v1/rerank", { surface: "search", topK: 3, candidates: candidates(catalog.slice(0, 10)) }, alice);
    const b = await post("/api/v1/rerank", { surface: "search", topK: 3, candidates: candidates(catalog.slice(10, 20)) }, bob);
    const event = (requestId: string, itemId: string) => ({ events: [{ eventId: "evt-1", requestId, type: "click", itemId, position: 1 }] });
    expect((await post("/api/v1/events", event(a.body.requestId, a.body.items[0].id), alice)).body.accepted).toBe(1);
    expect((await post("/api/v1/events", event(b.body.requestId, b.body.items[0].id), bob)).body.accepted).toBe(1);
    await telemetry().events.flush();
    const stored = await getDb().outcomeEvent.findMany({ where: { eventId: "evt-1", requestId: { in: [a.body.requestId, b.body.requestId] } } });
    expect(stored).toHaveLength(2);
  });
});

describe("memory bounded in bytes", () => {
  it("1,000-candidate responses never push the recent-response cache over RECENT_RESPONSES_MAX_BYTES", async () => {
    const bound = 2 * 1024 * 1024;
    setEnv("RECENT_RESPONSES_MAX_BYTES", String(bound));
    resetRecentRequests();
    try {
      const ids = (await getDb().catalogItem.findMany({ select: { id: true }, orderBy: { id: "asc" }, take: 1000 })).map((c) => c.id);
      let largest = 0;
      for (let i = 0; i < 40; i++) {
        const response = await rerank({ surface: "search", topK: 1000, userKey: `big-${i}`, requestId: `big-${i}`, candidates: candidates(ids) });
        expect(response.items.length).toBeGreaterThan(900);
        const cache = recentRequests();
        let held = 0;
        for (const [key, entry] of cache.entries()) held += recentEntryBytes(entry, key);
        largest = Math.max(largest, held);
        expect(held).toBeLessThanOrEqual(bound);
        expect(cache.calculatedSize).toBe(held);
      }
      // Full: each response is ~100 KB as the heap holds it, so the bound keeps the newest score or so of the 40.
      expect(largest).toBeGreaterThan(bound / 2);
      expect(recentRequests().size).toBeLessThan(40);
      // Ids chosen in-process are shared (requestIdOwner): kept under no caller.
      expect(recentRequests().has(recentKey("big-39", null))).toBe(true);
      expect(recentRequests().has(recentKey("big-0", null))).toBe(false);
    } finally {
      setEnv("RECENT_RESPONSES_MAX_BYTES", undefined);
      resetRecentRequests();
    }
  });

  it("unknown ids and user keys of the maximal length never push the feature store over FEATURE_CACHE_MAX_BYTES, nor the catalog out", async () => {
    const bound = 2 * 1024 * 1024;
    const store = new FeatureStore(getDb, bound);
    expect((await store.readItems(catalog)).items.size).toBe(catalog.length);
    for (let round = 0; round < 12; round++) {
      const ids = Array.from({ length: 1000 }, (_, i) => `${"u".repeat(240)}-${round}-${i}`);
      await store.readItems(ids);
      await store.readUser(`${"k".repeat(250)}-${round}`);
      const held = store.heldBytes();
      for (const part of ["items", "unknownItems", "users", "unknownUsers"] as const) expect(held[part]).toBeLessThanOrEqual(bound * FEATURE_CACHE_SHARES[part]);
    }
    // Unknown ids fill their own share, not the known items': the catalog read before is all still
    // cached (a deadline of 0 ms: a miss would be unread), where it used to be pushed out.
    expect(store.heldBytes().unknownItems).toBeGreaterThan(bound * FEATURE_CACHE_SHARES.unknownItems * 0.5);
    const after = await store.readItems(catalog, 0);
    expect([after.items.size, after.unread]).toEqual([catalog.length, 0]);
  });
});
