import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { callerOfKey } from "../auth/principal";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { answerSiblingQuestion, recordOutcomes } from "../events/service";
import { callerAs } from "../testing/callers";
import { metrics } from "../telemetry/metrics";
import { publishTelemetryStats, telemetry } from "../telemetry/streams";
import { rerank } from "./pipeline";
import { shadowIdle } from "./shadow";
import { copyTextFieldCount, copyTextLine } from "../domain/copyText";
import { inspectRequest } from "../debug/requestInspection";
import { shadowComparison } from "../shadow/service";
import { surfaceConfigs } from "../surfaces/configCache";
import { resetRecentRequests } from "./recent";
import type { RerankResponse } from "./schema";

// Who owns a client-chosen request id (server/rerank/recent.ts requestIdOwner), end to end on real
// PostgreSQL: in the request log's row identity, for people as for API keys, and what an event's
// check of its request costs.

const A = callerOfKey("owner-a");
const B = callerOfKey("owner-b");
let catalog: string[];
const candidates = (ids: string[]) => ids.map((id, i) => ({ id, retrievalScore: 1 - i / ids.length }));
const dropped = async () => {
  publishTelemetryStats();
  return (await metrics.telemetryDropped.get()).values.find((v) => v.labels.stream === "requests")?.value ?? 0;
};

beforeAll(async () => {
  await seedDemo(getDb());
  catalog = (await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" }, take: 1000 })).map((c) => c.id);
}, 120_000);
afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => resetRecentRequests());

describe("two callers' requests with one id served in the same millisecond", () => {
  it("break test: both are logged (logged = served), and each caller's events find its own row once only the log holds them", async () => {
    // Keys A and B sent requestId cols-i in parallel; where two were served in one millisecond the
    // log's key (request_id, ts) kept one row and dropped B's acknowledged request, counting nothing.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date());
    const before = await dropped();
    const requestId = `cols-${Date.now()}`;
    const [a, b] = await Promise.all([
      rerank({ surface: "search", requestId, topK: 3, candidates: candidates(catalog.slice(0, 10)) }, { caller: A }),
      rerank({ surface: "search", requestId, topK: 3, candidates: candidates(catalog.slice(100, 110)) }, { caller: B }),
    ]);
    vi.useRealTimers();
    await telemetry().requests.flush();
    const rows = await getDb().rerankRequest.findMany({ where: { requestId }, select: { caller: true, ts: true } });
    expect(rows.map((r) => r.caller).sort()).toEqual([A, B]);
    expect(new Set(rows.map((r) => r.ts.getTime())).size).toBe(1);
    expect((await dropped()) - before).toBe(0);
    // Only in the log now (evicted, another worker's): each caller's event is checked against its own row.
    resetRecentRequests();
    const click = (eventId: string, itemId: string) => ({ events: [{ eventId, requestId, type: "click" as const, itemId, position: 1 }] });
    expect(await recordOutcomes(click("e-b", b.items[0]!.id), [], B)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await recordOutcomes(click("e-a", a.items[0]!.id), [], A)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await expect(recordOutcomes(click("e-b2", a.items[0]!.id), [], B)).rejects.toThrow(`"${a.items[0]!.id}" was not served in request "${requestId}"`);
  });
});

describe("what hangs off two callers' requests with one id served in the same millisecond", () => {
  it("review of the owner key: their events with one event id, their scoring samples and shadow comparisons are each kept, and each joins its own request", async () => {
    // The request log's key had the owner; events (event_id, request_ts), samples (request_id, ts) and
    // shadow rows (id, ts) did not: B's impression with A's event id was dropped as a duplicate, B's
    // sample and shadow row were dropped, and a join from events to the log met both callers' rows.
    await getDb().surface.update({ where: { key: "search" }, data: { shadowSampleRate: 1 } });
    await surfaceConfigs().refresh();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date());
    const requestId = `kids-${Date.now()}`;
    const [a, b] = await Promise.all([
      rerank({ surface: "search", requestId, topK: 3, candidates: candidates(catalog.slice(0, 10)) }, { caller: A, keepScoringRows: true }),
      rerank({ surface: "search", requestId, topK: 3, candidates: candidates(catalog.slice(100, 110)) }, { caller: B, keepScoringRows: true }),
    ]);
    vi.useRealTimers();
    await shadowIdle();
    await telemetry().requests.flush();
    await telemetry().shadow.flush();
    const count = async (table: "scoring_samples" | "shadow_records") =>
      (await getDb().$queryRawUnsafe<Array<{ owner: string }>>(`SELECT owner FROM ${table} WHERE request_id = $1 ORDER BY owner`, requestId)).map((r) => r.owner);
    await vi.waitFor(async () => {
      await telemetry().scoringSamples.flush();
      expect(await count("scoring_samples")).toEqual([A, B]);
    });
    expect(await count("shadow_records")).toEqual([A, B]);

    const impression = (r: RerankResponse) => ({ events: [{ eventId: `${requestId}:imp`, requestId, type: "impression" as const, itemId: r.items[0]!.id, position: 1 }] });
    expect(await recordOutcomes(impression(a), [], A)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await recordOutcomes(impression(b), [], B)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    // A replay is still one event.
    expect(await recordOutcomes(impression(b), [], B)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const joined = await getDb().$queryRaw<Array<{ owner: string; item_id: string; requests: number }>>`
      SELECT o.owner, o.item_id, count(r.*)::int AS requests FROM outcome_events o
      LEFT JOIN rerank_requests r ON r.request_id = o.request_id AND r.ts = o.request_ts AND r.owner = o.owner
      WHERE o.request_id = ${requestId} GROUP BY 1, 2 ORDER BY 1`;
    expect(joined).toEqual([{ owner: A, item_id: a.items[0]!.id, requests: 1 }, { owner: B, item_id: b.items[0]!.id, requests: 1 }]);

    // The Debug page's row of B shows B's sample and B's shadow comparison, the shadow page's link B's row.
    const [row] = await getDb().rerankRequest.findMany({ where: { requestId, caller: B }, select: { ts: true } });
    const seen = await inspectRequest(getDb(), { requestId, ts: row!.ts, owner: B });
    expect(seen.features?.rows.map((r) => r.id)).toEqual(b.items.map((i) => i.id));
    expect(seen.shadows).toHaveLength(1);
    const compared = await shadowComparison(getDb(), { requestId, versionId: seen.shadows[0]!.versionId, ts: row!.ts, owner: B });
    expect(compared).toMatchObject({ owner: B, primary: b.items.map((i) => ({ id: i.id, score: expect.any(Number) })) });
    await getDb().surface.update({ where: { key: "search" }, data: { shadowSampleRate: 0.25 } });
    await surfaceConfigs().refresh();
  });

  it("a shadow line and a sample spilled by the version before owners are written as shared, and the Debug page finds them on their request", async () => {
    const requestId = `old-spill-${Date.now()}`;
    const served = await rerank({ surface: "search", requestId, topK: 3, candidates: candidates(catalog.slice(0, 10)) }, { caller: A });
    await telemetry().requests.flush();
    const [row] = await getDb().rerankRequest.findMany({ where: { requestId }, select: { ts: true, modelVersionId: true } });
    const line = copyTextLine([row!.ts.toISOString(), `${requestId}:${row!.modelVersionId}`, requestId, "search", null, row!.modelVersionId, "[]", "[]", null, null, null, null, null, null, null, "boom"]);
    expect(copyTextFieldCount(line)).toBe(16);
    telemetry().shadow.enqueue(line);
    telemetry().scoringSamples.enqueue({ requestId, ts: row!.ts, surface: "search", modelVersionId: null, reason: "sampled", featureNames: [], rows: served.items.map((i) => ({ id: i.id, position: i.position, score: i.score, values: [], defaulted: [] })), timings: {} });
    await telemetry().shadow.flush();
    await telemetry().scoringSamples.flush();
    expect(await getDb().$queryRaw<Array<{ owner: string; error: string }>>`SELECT owner, error FROM shadow_records WHERE request_id = ${requestId} AND shadow_version_id = ${row!.modelVersionId}`).toEqual([{ owner: "", error: "boom" }]);
    // The request is A's (owner api_key:…); its only row at that ts, so the shared rows are its own (break test: features null, shadows []).
    const seen = await inspectRequest(getDb(), { requestId, ts: row!.ts, owner: A });
    expect(seen.features?.rows.map((r) => r.id)).toEqual(served.items.map((i) => i.id));
    expect(seen.shadows.find((x) => x.versionId === row!.modelVersionId)).toMatchObject({ error: "boom" });
    // The Shadow page's link names the row's owner '': it opens the request.
    expect((await inspectRequest(getDb(), { requestId, ts: row!.ts, owner: "" })).owner).toBe(A);
    expect(await shadowComparison(getDb(), { requestId, versionId: row!.modelVersionId!, ts: row!.ts, owner: A })).toMatchObject({ owner: "", error: "boom" });
  });
});

describe("a signed-in person's request id", () => {
  it("break test: is their own: another person's request with it is served and logged as theirs, and another caller's events do not find it, cached or only in the log", async () => {
    const requestId = `order-${Date.now()}`;
    const admin = callerAs(["admin"], "ids-admin@rerank.test");
    const engineer = callerAs(["ml_engineer"], "ids-engineer@rerank.test");
    const analyst = callerAs(["admin"], "ids-analyst@rerank.test");
    const adminRequest = { surface: "search", requestId, topK: 3, userKey: "console-user", candidates: candidates(catalog.slice(0, 10)) };
    const served = await admin.rerank.rank(adminRequest);
    // Another person's id with other candidates: their own request (it was a 409 "already used").
    const theirs = await engineer.rerank.rank({ ...adminRequest, candidates: candidates(catalog.slice(100, 110)) });
    expect(theirs.items.every((i) => catalog.slice(100, 110).includes(i.id))).toBe(true);
    // A third person sending the admin's exact request is served and logged as theirs (it was the admin's replay, logged for nobody).
    await analyst.rerank.rank(adminRequest);
    // The admin's retry is still the admin's replay: served and logged once.
    expect(await admin.rerank.rank(adminRequest)).toEqual(served);
    await telemetry().requests.flush();
    const rows = await getDb().rerankRequest.findMany({ where: { requestId }, select: { caller: true } });
    expect(rows.map((r) => r.caller).sort()).toEqual(["user:test-ids-admin@rerank.test", "user:test-ids-analyst@rerank.test", "user:test-ids-engineer@rerank.test"]);
    // Events: the person's own are found, cached or only in the log; an API key's are refused as for an unknown id.
    const click = (eventId: string) => ({ events: [{ eventId, requestId, type: "click" as const, itemId: served.items[0]!.id, position: 1 }] });
    const refused = `events[0].requestId: no served request "${requestId}" (send events after the rerank response)`;
    expect(await admin.events.record(click("e-admin-cached"))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await expect(recordOutcomes(click("e-key-cached"), [], A)).rejects.toThrow(refused);
    resetRecentRequests();
    expect(await admin.events.record(click("e-admin-logged"))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await expect(recordOutcomes(click("e-key-logged"), [], A)).rejects.toThrow(refused);
    // The engineer's event finds the engineer's own request in the log, not the admin's.
    const asEngineer = "user:test-ids-engineer@rerank.test";
    expect(await recordOutcomes({ events: [{ eventId: "e-engineer", requestId, type: "click", itemId: theirs.items[0]!.id, position: 1 }] }, [], asEngineer)).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await expect(recordOutcomes(click("e-engineer-2"), [], asEngineer)).rejects.toThrow(`"${served.items[0]!.id}" was not served in request "${requestId}"`);
  });
});

describe("an event's check of its request costs the items it names, not the response's size", () => {
  it("break test: events on 1,000-item responses parse no response, and a sibling worker's answer carries the asked items only", async () => {
    // 400 events, one per 1,000-item response, cost ~1 s of CPU across a 2-worker cluster: every
    // cached response was parsed whole and all its positions sent through the primary.
    const requests: RerankResponse[] = [];
    for (let i = 0; i < 20; i++) requests.push(await rerank({ surface: "search", requestId: `big-${Date.now()}-${i}`, topK: 1000, candidates: candidates(catalog) }, { caller: A }));
    const events = requests.map((r, i) => ({ eventId: `big-e-${i}`, requestId: r.requestId, type: "impression" as const, itemId: r.items[500 + i]!.id, position: 501 + i }));
    const parse = vi.spyOn(JSON, "parse");
    try {
      expect(await recordOutcomes({ events }, [], A)).toEqual({ accepted: 20, duplicates: 0, rejected: [] });
      // No response text (~50 KB each) was parsed.
      expect(parse.mock.calls.filter(([text]) => typeof text === "string" && text.length > 10_000).length).toBe(0);
      const answer = answerSiblingQuestion({ requests: events.map((e) => [e.requestId, [e.itemId, "never-served"]]), caller: A });
      expect(parse.mock.calls.filter(([text]) => typeof text === "string" && text.length > 10_000).length).toBe(0);
      expect(answer!.served.map(([id, r]) => [id, r.positions])).toEqual(events.map((e) => [e.requestId, [[e.itemId, e.position]]]));
      expect(JSON.stringify(answer).length).toBeLessThan(20 * 400);
    } finally {
      parse.mockRestore();
    }
    // A wrong position is still told, found without a parse.
    await expect(recordOutcomes({ events: [{ ...events[0]!, eventId: "big-wrong", position: 1 }] }, [], A)).rejects.toThrow(`was served at position ${events[0]!.position}, not 1`);
    // Many items of one response: its text is parsed once, with the same answer.
    const many = requests[0]!.items.slice(0, 100).map((item, i) => ({ eventId: `big-many-${i}`, requestId: requests[0]!.requestId, type: "impression" as const, itemId: item.id, position: item.position }));
    expect(await recordOutcomes({ events: many }, [], A)).toEqual({ accepted: 100, duplicates: 0, rejected: [] });
  });
});
