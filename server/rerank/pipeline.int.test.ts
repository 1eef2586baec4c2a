import { keyedHash } from "../redact";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { forgetSeenEvents, recordOutcomes } from "../events/service";
import { metrics } from "../telemetry/metrics";
import { corruptModelBytes, createTestSurface, failingModelOnnx, slowModelOnnx } from "../testing/models";
import { telemetry } from "../telemetry/streams";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { openSession, runScoresTimed, type TabularHandle } from "../inference/sessions";
import { breakerStates, scoringBreaker } from "./breakers";
import { rerank, rerankJson } from "./pipeline";
import type { RerankRequest } from "./schema";
import { callerAs, keyHeaders } from "../testing/callers";
import { readServedList } from "../domain/ranking/servedList";

// The serving pipeline end to end on real PostgreSQL and real onnxruntime sessions.

const spec = demoFeatureSpec();
let catalog: Array<{ id: string; category: string; providerGroup: string; safetyFlags: string[] }>;
const safe = () => catalog.filter((c) => c.safetyFlags.length === 0);
const flagged = () => catalog.filter((c) => c.safetyFlags.length > 0);
const candidates = (items: Array<{ id: string }>) => items.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / items.length }));

// The HTTP endpoints through the console's front door on a real port.
const rerankHttp = "/api/v1/rerank";
const eventsHttp = "/api/v1/events";
let frontDoor: TestFrontDoor;
const post = async (path: string, body: unknown, raw?: string) => frontDoor.post(path, body, { raw, headers: await keyHeaders("serving") });

afterAll(() => frontDoor?.close());

beforeAll(async () => {
  frontDoor = await startTestFrontDoor();
  const db = getDb();
  await seedDemo(db);
  catalog = await db.catalogItem.findMany({ select: { id: true, category: true, providerGroup: true, safetyFlags: true }, orderBy: { id: "asc" } });
  await createTestSurface(db, { key: "t-throws", bytes: failingModelOnnx(spec.length), featureSpec: spec, constraints: { blockedFlags: ["recalled", "adult"] } });
  await createTestSurface(db, { key: "t-breaker", bytes: failingModelOnnx(spec.length), featureSpec: spec });
  await createTestSurface(db, { key: "t-throws-cascade", bytes: failingModelOnnx(spec.length), featureSpec: spec, fallbackBytes: demoModelBytes("linear") });
  await createTestSurface(db, { key: "t-slow", bytes: slowModelOnnx(spec.length), featureSpec: spec, timeoutMs: 2 });
  await createTestSurface(db, { key: "t-corrupt", bytes: corruptModelBytes(), featureSpec: spec });
  await createTestSurface(db, { key: "t-ties", bytes: linearRankerOnnx(new Array(spec.length).fill(0), 1), featureSpec: spec });
  await createTestSurface(db, {
    key: "t-killed", bytes: demoModelBytes("linear"), featureSpec: spec, killSwitch: true,
    constraints: { blockedFlags: ["recalled", "adult"], maxPerCategory: { limit: 2, withinTop: 6 } },
  });
}, 120_000);

describe("serving the demo surface", () => {
  it("reranks with the production model, in score order, with stage timings", async () => {
    const request: RerankRequest = { surface: "search", topK: 10, userKey: "u1", candidates: candidates(safe().slice(0, 60)) };
    const response = await rerank(request);
    expect(response.modelVersion).toMatchObject({ name: "search-ranker", version: 2, alias: "production" });
    expect(response.fallback).toEqual({ used: false, reason: null, servedBy: "model" });
    expect(response.items).toHaveLength(10);
    expect(response.items.map((i) => i.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Object.keys(response.timings).sort()).toEqual(["constraints", "features", "resolve", "score", "total"]);
    expect(response.features).toEqual({ defaulted: 0, stale: 0, unknownCandidates: 0, timedOut: false });
    // Items the constraints did not move come in score order.
    const untouched = response.items.filter((i) => i.reasons.length === 0).map((i) => i.score);
    expect(untouched).toEqual([...untouched].sort((a, b) => b - a));
  });

  it("is deterministic, and equal scores keep the retrieval order", async () => {
    const request: RerankRequest = { surface: "search", topK: 20, candidates: candidates(safe().slice(100, 140)) };
    const [a, b] = [await rerank(request), await rerank(request)];
    expect(b.items).toEqual(a.items);
    const ties = await rerank({ surface: "t-ties", topK: 15, candidates: candidates(safe().slice(0, 15)) });
    expect(new Set(ties.items.map((i) => i.score)).size).toBe(1);
    expect(ties.items.map((i) => i.id)).toEqual(safe().slice(0, 15).map((c) => c.id));
  });

  it("serves unknown candidate ids with default features and counts them", async () => {
    const response = await rerank({ surface: "search", topK: 5, candidates: [{ id: "not-in-catalog-1" }, { id: "not-in-catalog-2" }, ...candidates(safe().slice(0, 3))] });
    expect(response.features.unknownCandidates).toBe(2);
    expect(response.features.defaulted).toBe(2 * (spec.length - 1) + 2);
    expect(response.items).toHaveLength(5);
  });

  it("answers with the text JSON.stringify gives, keys in the response's order", async () => {
    for (const surface of ["search", "t-throws", "product-search"]) {
      const json = await rerankJson({ surface, topK: 7, userKey: "json-shape", candidates: candidates(safe().slice(0, 40)), context: { query: "red running shoes" } }, "test");
      const parsed = JSON.parse(json) as Record<string, unknown>;
      expect(json).toBe(JSON.stringify(parsed));
      expect(Object.keys(parsed).slice(0, 3)).toEqual(["requestId", "surface", "items"]);
      expect(parsed.items).toHaveLength(7);
    }
  });

  it("answers a repeated request id with the same response when the request is the same, whatever the order of its keys", async () => {
    const request: RerankRequest = { surface: "search", requestId: `idem-${Date.now()}`, topK: 5, candidates: candidates(safe().slice(0, 20)) };
    request.candidates[0]!.features = { price: 3, popularity: 0.5 };
    const first = await rerank(request);
    const reordered = { topK: 5, candidates: request.candidates.map((c, i) => (i === 0 ? { features: { popularity: 0.5, price: 3 }, retrievalScore: c.retrievalScore, id: c.id } : c)), requestId: request.requestId, surface: "search" };
    expect(await rerank(reordered)).toEqual(first);
  });
});

describe("a requestId used again for another request (break test: the first request's response was replayed)", () => {
  const loggedCopies = async (requestId: string) => {
    await telemetry().requests.flush();
    return getDb().rerankRequest.count({ where: { requestId } });
  };

  it("is refused with 409 naming requestId over HTTP, nothing served or logged: other candidates, topK and userKey", async () => {
    const requestId = `replay-2-${Date.now()}`;
    const [a, b] = [catalog.find((c) => c.id === "sku-00011")!, catalog.find((c) => c.id === "sku-00012")!];
    const first = await post(rerankHttp, { surface: "search", requestId, candidates: candidates([a, b]), topK: 2 });
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as { items: Array<{ id: string }> };
    expect(firstBody.items.map((i) => i.id).sort()).toEqual(["sku-00011", "sku-00012"]);
    const other = await post(rerankHttp, { surface: "search", requestId, userKey: "another-user", candidates: [{ id: "sku-00501" }, { id: "sku-00502" }], topK: 1 });
    expect(other.status).toBe(409);
    const error = ((await other.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toMatch(new RegExp(`^requestId: "${requestId}" is already used for a different request`));
    // Each difference alone is another request.
    for (const change of [{ topK: 1 }, { userKey: "another-user" }, { sessionKey: "s-1" }, { context: { query: "lamp" } }, { candidates: candidates([b, a]) }]) {
      expect((await post(rerankHttp, { surface: "search", requestId, candidates: candidates([a, b]), topK: 2, ...change })).status).toBe(409);
    }
    // The same request again is the first response, byte for byte; one logged copy in all.
    const retry = await post(rerankHttp, { surface: "search", requestId, candidates: candidates([a, b]), topK: 2 });
    expect([retry.status, await retry.json()]).toEqual([200, firstBody]);
    expect(await loggedCopies(requestId)).toBe(1);
  });

  it("is refused on another surface (tRPC rerank.rank: CONFLICT), and events keep finding the first copy", async () => {
    const requestId = `replay-surface-${Date.now()}`;
    const person = callerAs(["admin"], "replay@rerank.test");
    const pool = safe().slice(0, 12);
    const first = await person.rerank.rank({ surface: "search", requestId, topK: 3, candidates: candidates(pool) });
    await expect(person.rerank.rank({ surface: "product-search", requestId, topK: 3, candidates: candidates(pool) })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^requestId: .* already used for a different request/),
    });
    // A person's ids are their own (server/rerank/recent.ts requestIdOwner): an in-process caller's request
    // with the same id is its own, served and logged beside the person's.
    await rerank({ surface: "product-search", requestId, topK: 3, candidates: candidates(pool) });
    await expect(rerank({ surface: "search", requestId, topK: 2, candidates: candidates(pool) })).rejects.toMatchObject({ code: "CONFLICT", field: "requestId" });
    expect(await loggedCopies(requestId)).toBe(2);
    const click = { eventId: `${requestId}-click`, requestId, type: "click" as const, itemId: first.items[0]!.id, position: 1 };
    expect(await person.events.record({ events: [click] })).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it("is refused when the first is still being served; the same request then waits for the first's response: one served, one logged", async () => {
    const requestId = `replay-concurrent-${Date.now()}`;
    const request: RerankRequest = { surface: "search", requestId, topK: 4, candidates: candidates(safe().slice(200, 260)) };
    const [first, same, other] = await Promise.allSettled([rerank(request), rerankJson(request, "in-process"), rerank({ ...request, topK: 3 })]);
    expect(first.status).toBe("fulfilled");
    expect(same.status === "fulfilled" && JSON.parse(same.value)).toEqual(first.status === "fulfilled" && first.value);
    expect(other.status === "rejected" && (other.reason as { code: string }).code).toBe("CONFLICT");
    expect(await loggedCopies(requestId)).toBe(1);
  });

  it("refuses a request naming an id the server generated for an earlier request, whatever it sends", async () => {
    const pool = candidates(safe().slice(0, 8));
    const generated = await rerank({ surface: "search", topK: 3, candidates: pool });
    await expect(rerank({ surface: "search", topK: 3, candidates: pool, requestId: generated.requestId })).rejects.toMatchObject({ code: "CONFLICT", field: "requestId" });
    expect(await loggedCopies(generated.requestId)).toBe(1);
  });
});

describe("constraints", () => {
  it("never serve a blocked item, whatever its score, also in fallback", async () => {
    const blocked = flagged().slice(0, 5);
    const pool = [...blocked, ...safe().slice(0, 40)];
    const served = await rerank({ surface: "search", topK: 30, candidates: candidates(pool) });
    const killed = await rerank({ surface: "t-killed", topK: 30, candidates: candidates(pool) });
    const broken = await rerank({ surface: "t-throws", topK: 30, candidates: candidates(pool) });
    expect(killed.fallback).toMatchObject({ used: true, reason: "kill_switch", servedBy: "retrieval_order" });
    expect(broken.fallback).toMatchObject({ used: true, reason: "model_error" });
    for (const response of [served, killed, broken]) {
      const ids = new Set(response.items.map((i) => i.id));
      for (const b of blocked) expect(ids.has(b.id)).toBe(false);
      expect(response.removed.map((r) => r.id).sort()).toEqual(blocked.map((b) => b.id).sort());
    }
  });

  it("hold the category cap in the top window, also in fallback", async () => {
    // Put one category first in retrieval order so the cap has work to do.
    const books = safe().filter((c) => c.category === "books").slice(0, 10);
    const others = safe().filter((c) => c.category !== "books").slice(0, 30);
    for (const [surface, limit, window] of [["search", 4, 10], ["t-killed", 2, 6]] as const) {
      const response = await rerank({ surface, topK: 20, candidates: candidates([...books, ...others]) });
      const category = new Map(catalog.map((c) => [c.id, c.category]));
      const counts = new Map<string, number>();
      for (const item of response.items.slice(0, window)) counts.set(category.get(item.id)!, (counts.get(category.get(item.id)!) ?? 0) + 1);
      expect(Math.max(...counts.values())).toBeLessThanOrEqual(limit);
      expect(response.constraints.capsFeasible).toBe(true);
    }
  });

  it("meet the exposure floor when feasible and report it when not", async () => {
    const small = safe().filter((c) => c.providerGroup === "marketplace-small");
    const big = safe().filter((c) => c.providerGroup !== "marketplace-small");
    const feasible = await rerank({ surface: "search", topK: 10, candidates: candidates([...big.slice(0, 40), ...small.slice(0, 3)]) });
    const inTop = feasible.items.filter((i) => small.some((s) => s.id === i.id)).length;
    expect(feasible.constraints.floors[0]).toMatchObject({ group: "marketplace-small", required: 2, feasible: true });
    expect(inTop).toBeGreaterThanOrEqual(2);
    const infeasible = await rerank({ surface: "search", topK: 10, candidates: candidates(big.slice(0, 40)) });
    expect(infeasible.constraints.floors[0]).toMatchObject({ required: 2, achieved: 0, feasible: false });
  });
});

describe("graceful degradation", () => {
  it("a model that throws is served by the cascade model, or by retrieval order, never a 5xx", async () => {
    const pool = candidates(safe().slice(0, 30));
    const cascade = await post(rerankHttp, { surface: "t-throws-cascade", topK: 10, candidates: pool });
    expect(cascade.status).toBe(200);
    expect((await cascade.json()).fallback).toEqual({ used: true, reason: "model_error", servedBy: "cascade" });
    const alone = await post(rerankHttp, { surface: "t-throws", topK: 10, candidates: pool });
    expect(alone.status).toBe(200);
    const body = await alone.json();
    expect(body.fallback).toEqual({ used: true, reason: "model_error", servedBy: "retrieval_order" });
    expect(body.items.map((i: { id: string }) => i.id)).toEqual(pool.slice(0, 10).map((c) => c.id));
  });

  it("a model slower than the budget times out into the fallback", async () => {
    const response = await post(rerankHttp, { surface: "t-slow", topK: 10, candidates: candidates(safe().slice(0, 100)) });
    expect(response.status).toBe(200);
    expect((await response.json()).fallback).toMatchObject({ used: true, reason: "timeout" });
  });

  it("a busy event loop is not the model's fault: the budget counts the model's own run time", async () => {
    const session = await openSession(demoModelBytes("linear"));
    const handle = { session, inputName: "features", outputName: "score", versionId: "busy-loop-test", name: "busy", version: 1 } as unknown as TabularHandle;
    const rows = 100;
    const data = new Float32Array(rows * spec.length).fill(0.5);
    const busy = (ms: number) => setImmediate(() => { const t = performance.now(); while (performance.now() - t < ms); });
    // Other work ahead of the run in the event loop shows up as queue time, not model time.
    busy(60);
    const timed = await runScoresTimed(handle, data, rows, spec.length);
    expect(timed.queueMs).toBeGreaterThanOrEqual(55);
    expect(timed.modelMs).toBeLessThan(15);
    // So a 15 ms budget holds although the request waited 60 ms, and the breaker stays closed.
    const breaker = scoringBreaker("t-busy", handle, 15);
    for (let i = 0; i < 6; i++) {
      busy(60);
      await expect(breaker.fire(handle, { kind: "features", data, rows, cols: spec.length }).then((r) => r.scores)).resolves.toHaveLength(rows);
    }
    expect(breaker.opened).toBe(false);
    await session.release();
  });

  it("a corrupt model file falls back without a 5xx", async () => {
    const response = await post(rerankHttp, { surface: "t-corrupt", topK: 5, candidates: candidates(safe().slice(0, 10)) });
    expect(response.status).toBe(200);
    expect((await response.json()).fallback).toMatchObject({ used: true, reason: "model_load_error", servedBy: "retrieval_order" });
  });

  it("the circuit breaker opens after repeated faults and closes again after a good trial", async () => {
    const pool = candidates(safe().slice(0, 12));
    const reasons: Array<string | null> = [];
    for (let i = 0; i < 8; i++) reasons.push((await rerank({ surface: "t-breaker", topK: 5, candidates: pool })).fallback.reason);
    expect(reasons.slice(0, 5).every((r) => r === "model_error")).toBe(true);
    expect(reasons.at(-1)).toBe("circuit_open");
    // One caller (in-process) sent them all: its own circuit opens; the surface-wide one needs faults from two callers.
    expect(breakerStates().find((b) => b.key.startsWith("t-breaker|"))).toMatchObject({ open: false, callers: [{ caller: "in-process", state: "open" }] });
    await new Promise((r) => setTimeout(r, 400)); // BREAKER_RESET_MS = 300 in tests: half-open
    // This model only fails on batches; a one-candidate trial succeeds and closes the circuit.
    const trial = await rerank({ surface: "t-breaker", topK: 1, candidates: pool.slice(0, 1) });
    expect(trial.fallback.used).toBe(false);
    expect(breakerStates().find((b) => b.key.startsWith("t-breaker|"))).toMatchObject({ open: false, callers: [] });
  });
});

describe("input errors name the problem (HTTP 400)", () => {
  // Built at collection time, before the catalog is read: plain demo ids.
  const ok = () => ({ surface: "search", topK: 5, candidates: ["sku-00010", "sku-00011", "sku-00012"].map((id) => ({ id })) });
  it.each([
    ["malformed JSON", undefined, '{"surface": "search", "topK": 5,', /^body: malformed JSON/],
    ["a missing surface", Object.fromEntries(Object.entries(ok()).filter(([key]) => key !== "surface")), undefined, /^surface: /],
    ["1,001 candidates", { ...ok(), candidates: Array.from({ length: 1001 }, (_, i) => ({ id: `c${i}` })) }, undefined, /^candidates: at most 1000 candidates/],
    ["duplicate ids", { ...ok(), candidates: [{ id: "a" }, { id: "b" }, { id: "a" }] }, undefined, /^candidates\[2\]\.id: "a" duplicates candidates\[0\]\.id/],
    ["an unknown field", { ...ok(), colour: "red" }, undefined, /^input: unknown field "colour"/],
    ["a NUL character (PostgreSQL cannot store it)", { ...ok(), candidates: [{ id: "sku-00010" }, { id: "bad\u0000id" }] }, undefined, /^candidates\[1\]\.id: must not contain NUL/],
  ])("%s", async (_name, body, raw, message) => {
    const response = await post(rerankHttp, body, raw);
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(message);
  });

  it("an oversized payload is a 413, before the body is read", async () => {
    const huge = { ...ok(), candidates: [{ id: "x".repeat(200), features: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, i])) }] };
    const body = JSON.stringify({ ...huge, context: { query: "q".repeat(2000) }, pad: "p".repeat(1_100_000) });
    const response = await post(rerankHttp, undefined, body);
    expect(response.status).toBe(413);
    expect((await response.json()).error.message).toMatch(/^body: the payload of \d+ bytes exceeds the 1048576-byte limit/);
  });

  it("an unknown surface is a 404 naming it", async () => {
    const response = await post(rerankHttp, { ...ok(), surface: "nope" });
    expect(response.status).toBe(404);
    expect((await response.json()).error.message).toBe('surface "nope" does not exist');
  });

  it("NaN and Infinity features are refused with their path (tRPC carries them)", async () => {
    const caller = callerAs(["admin"]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(caller.rerank.rank({ ...ok(), candidates: [{ id: "a", features: { popularity: bad } }] })).rejects.toThrow(/candidates\[0\]\.features\.popularity/);
    }
  });
});

describe("properties over random requests", () => {
  it("serve an ordered subset of the input without duplicates or blocked items, top k respected", async () => {
    const blocked = new Set(flagged().map((c) => c.id));
    const ids = [...catalog.slice(0, 400).map((c) => c.id), "ghost-1", "ghost-2", "ghost-3"];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...ids), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 60 }),
        fc.constantFrom("search", "home-feed", "t-killed", "t-throws"),
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 120, maxLength: 120 }),
        async (pick, topK, surface, retrieval) => {
          const response = await rerank({ surface, topK, candidates: pick.map((id, i) => ({ id, retrievalScore: retrieval[i] })) });
          const served = response.items.map((i) => i.id);
          expect(new Set(served).size).toBe(served.length);
          const input = new Set(pick);
          for (const id of served) {
            expect(input.has(id)).toBe(true);
            expect(blocked.has(id)).toBe(false);
          }
          expect(served.length).toBe(Math.min(topK, pick.filter((id) => !blocked.has(id)).length));
          expect(response.items.map((i) => i.position)).toEqual(served.map((_, i) => i + 1));
          for (const item of response.items) expect(Number.isFinite(item.score)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("logging for evaluation", () => {
  it("logs every served request once and accepts outcome events validated against them", async () => {
    const db = getDb();
    const stream = telemetry();
    await stream.requests.flush();
    const before = stream.requests.stats().written;
    const tag = `log-${Date.now()}`;
    const served = [];
    for (let i = 0; i < 25; i++) served.push(await rerank({ surface: "search", requestId: `${tag}-${i}`, userKey: `u${i}`, topK: 5, candidates: candidates(safe().slice(i, i + 30)) }));
    await rerank({ surface: "search", requestId: `${tag}-0`, userKey: "u0", topK: 5, candidates: candidates(safe().slice(0, 30)) }); // a replay: not logged again
    const first = served[0]!;
    const click = { eventId: `${tag}-click`, requestId: first.requestId, type: "click" as const, itemId: first.items[1]!.id, position: 2 };
    const purchase = { eventId: `${tag}-buy`, requestId: first.requestId, type: "purchase" as const, itemId: first.items[1]!.id, revenue: 42.5 };
    expect(await recordOutcomes({ events: [click, purchase] })).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await recordOutcomes({ events: [click] })).toMatchObject({ accepted: 0, duplicates: 1 });
    // The same retry reaching another worker, or this one after a restart (#11 break test: each
    // worker's first sight of a stored event answered accepted: 1 and counted it again): PostgreSQL
    // says it held it, so it is a duplicate there too, and counted once.
    const clicksCounted = async () => (await metrics.events.get()).values.find((v) => v.labels.type === "click")?.value ?? 0;
    const clicksBefore = await clicksCounted();
    forgetSeenEvents();
    const other = { ...click, eventId: `${tag}-click-2`, requestId: served[1]!.requestId, itemId: served[1]!.items[1]!.id };
    expect(await recordOutcomes({ events: [click, other] })).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    expect(await clicksCounted()).toBe(clicksBefore + 1);
    expect(await db.outcomeEvent.count({ where: { eventId: { in: [click.eventId, `${tag}-click-2`] } } })).toBe(2);

    // Over HTTP the events come from another caller than the in-process rerank: a request id the
    // client chose is found in that caller's recent responses only, else in the request log.
    await stream.requests.flush();
    const unknown = await post(eventsHttp, { events: [{ ...click, eventId: `${tag}-x`, requestId: "never-served" }] });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.message).toMatch(/^events\[0\]\.requestId: no served request "never-served"/);
    const notServed = await post(eventsHttp, { events: [{ ...click, eventId: `${tag}-y`, itemId: "sku-99999" }] });
    expect((await notServed.json()).error.message).toBe(`events[0].itemId: "sku-99999" was not served in request "${first.requestId}"`);
    // An outcome happens after its request and before now, within five minutes of clock skew.
    const servedAt = (await db.rerankRequest.findFirst({ where: { requestId: first.requestId } }))?.ts ?? new Date();
    const early = await post(eventsHttp, { events: [{ ...click, eventId: `${tag}-1901`, ts: "1901-01-01T00:00:00Z" }] });
    expect(early.status).toBe(400);
    expect((await early.json()).error.message).toMatch(/^events\[0\]\.ts: 1901-01-01T00:00:00Z is before its request was served/);
    const future = await post(eventsHttp, { events: [{ ...click, eventId: `${tag}-future`, ts: new Date(Date.now() + 3_600_000).toISOString() }] });
    expect((await future.json()).error.message).toMatch(/^events\[0\]\.ts: .* is in the future/);
    const skewed = await post(eventsHttp, { events: [{ ...click, eventId: `${tag}-skew`, ts: new Date(servedAt.getTime() - 60_000).toISOString() }] });
    expect(skewed.status).toBe(200);
    const noRevenue = await post(eventsHttp, { events: [{ ...purchase, eventId: `${tag}-z`, revenue: undefined }] });
    expect((await noRevenue.json()).error.message).toBe("events[0].revenue: a purchase needs its revenue");

    await stream.requests.flush();
    await stream.events.flush();
    expect(stream.requests.stats().written - before).toBe(25);
    const logged = await db.rerankRequest.count({ where: { requestId: { startsWith: tag } } });
    expect(logged).toBe(25);
    const row = await db.rerankRequest.findFirstOrThrow({ where: { requestId: first.requestId } });
    expect(row).toMatchObject({ surface: "search", userKey: keyedHash("u0"), topK: 5, candidateCount: 30, fallbackUsed: false, modelVersionId: first.modelVersion!.id });
    // Kept compact ([id, score, reasons?], position = index + 1) and read back as the response's items.
    expect(readServedList(row.served)).toEqual(first.items);
    expect((row.served as unknown[]).every((entry) => Array.isArray(entry))).toBe(true);
    const events = await db.outcomeEvent.findMany({ where: { requestId: first.requestId }, orderBy: { eventId: "asc" } });
    // Ordered by event id: -buy, -click, -skew (the click a minute "before" its request, within clock skew).
    expect(events.map((e) => [e.type, e.position, e.revenue])).toEqual([["purchase", 2, 42.5], ["click", 2, null], ["click", 2, null]]);
    // Outcome events carry the same keyed hash as the request row, never the raw key.
    expect(events.map((e) => e.userKey)).toEqual([keyedHash("u0"), keyedHash("u0"), keyedHash("u0")]);
  });
});

