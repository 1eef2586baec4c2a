import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "./apiKeys";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { callerAsPerson } from "../testing/callers";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { metrics } from "../telemetry/metrics";

// A serving key's own rate limit (server/auth/keyRateLimit.ts) on the real front door over HTTP, on
// tRPC's serving procedures, and as an admin sets it (audited, reaching the running server at once).
// Real PostgreSQL, real onnxruntime (the demo search surface).

let frontDoor: TestFrontDoor;
let ownerId: string;
const candidates = Array.from({ length: 10 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 10 }));
const rerankBody = (user: string) => ({ surface: "search", topK: 3, userKey: user, candidates });

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  ownerId = (await db.user.upsert({ where: { email: "rate-owner@rerank.test" }, create: { email: "rate-owner@rerank.test", name: "Rate owner", roles: ["admin"] }, update: {} })).id;
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(async () => {
  await frontDoor?.close();
});

async function newKey(name: string, rateLimit: { rate: number; burst: number | null } | null) {
  const { key, apiKey } = await createApiKey(getDb(), { name, kind: "serving", rateLimit }, ownerId);
  return { id: apiKey.id, headers: { authorization: `Bearer ${key}` } };
}

const refusedByLimit = async () => (await metrics.admissionRefused.get()).values.find((v) => v.labels.reason === "key_rate_limit")?.value ?? 0;

describe("a serving key's rate limit", () => {
  it("admits the burst, refuses the rest with 429 and Retry-After naming the key and its limit, counts rerank and events alike, and leaves other keys alone", async () => {
    // One request every 2 s: slow enough that a loaded machine's requests do not earn a new one mid-test.
    const limited = await newKey("limited frontend", { rate: 0.5, burst: 3 });
    const other = await newKey("other frontend", null);
    // The surface's model opened first (another key's request), so the burst below comes at once.
    expect((await frontDoor.post("/api/v1/rerank", rerankBody("warm"), { headers: other.headers })).status).toBe(200);
    const before = await refusedByLimit();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await frontDoor.post("/api/v1/rerank", rerankBody(`l-${i}`), { headers: limited.headers })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await frontDoor.post("/api/v1/rerank", rerankBody("l-x"), { headers: limited.headers });
    expect(refused.status).toBe(429);
    expect(["1", "2"]).toContain(refused.headers.get("retry-after"));
    const body = await refused.json();
    expect(body.error.code).toBe("TOO_MANY_REQUESTS");
    expect(body.error.message).toMatch(/^rate limit: API key "limited frontend" may send 1 request every 2 s \(bursts of 3\); retry in (\d+ ms|[12](\.\d)? s)/);
    // Events are the same key's serving requests: refused too, and nothing is recorded.
    const events = await frontDoor.post("/api/v1/events", { events: [{ eventId: "rate-ev-1", requestId: "none", type: "impression", itemId: "sku-00001", position: 1 }] }, { headers: limited.headers });
    expect(events.status).toBe(429);
    expect(await getDb().outcomeEvent.count({ where: { eventId: "rate-ev-1" } })).toBe(0);
    // Cohere's route answers in its shape.
    const cohere = await frontDoor.post("/v2/rerank", { model: "search", query: "q", documents: ["a", "b"] }, { headers: limited.headers });
    expect(cohere.status).toBe(429);
    expect((await cohere.json()).message).toMatch(/^rate limit: API key "limited frontend"/);
    // Another key, meanwhile: never refused.
    for (let i = 0; i < 10; i++) expect((await frontDoor.post("/api/v1/rerank", rerankBody(`o-${i}`), { headers: other.headers })).status).toBe(200);
    expect((await refusedByLimit()) - before).toBe(5);
    // One more request is admitted 2 s after the burst took the last.
    await new Promise((resolve) => setTimeout(resolve, 2_050));
    expect((await frontDoor.post("/api/v1/rerank", rerankBody("l-later"), { headers: limited.headers })).status).toBe(200);
    expect((await frontDoor.post("/api/v1/rerank", rerankBody("l-later2"), { headers: limited.headers })).status).toBe(429);
  });

  it("tRPC's serving procedures (rerank.rank, debug.rerank, events.record) count against the same limit", async () => {
    const limited = await newKey("limited trpc", { rate: 0.5, burst: 2 });
    const call = (procedure: string, input: unknown) => frontDoor.post(`/api/trpc/${procedure}`, { json: input }, { headers: limited.headers });
    expect((await call("rerank.rank", rerankBody("t-1"))).status).toBe(200);
    expect((await call("debug.rerank", rerankBody("t-2"))).status).toBe(200);
    for (const [procedure, input] of [["rerank.rank", rerankBody("t-3")], ["debug.rerank", rerankBody("t-4")], ["events.record", { events: [{ eventId: "rate-ev-2", requestId: "none", type: "impression", itemId: "sku-00001", position: 1 }] }]] as const) {
      const answer = await call(procedure, input);
      expect(answer.status, procedure).toBe(429);
      expect(answer.headers.get("retry-after"), procedure).toBe("2");
      expect(JSON.stringify(await answer.json()), procedure).toMatch(/TOO_MANY_REQUESTS.*rate limit: API key \\"limited trpc\\" may send 1 request every 2 s \(bursts of 2\)/);
    }
  });

  it("an admin sets, changes and removes a limit: audited with the reason, effective at once in the running server; a press that changes nothing writes nothing; automation and revoked keys, and limits out of range, are refused naming the field", async () => {
    const db = getDb();
    const admin = await callerAsPerson(["admin"], "rate-admin@rerank.test");
    const key = await newKey("changing frontend", null);
    for (let i = 0; i < 5; i++) expect((await frontDoor.post("/api/v1/rerank", rerankBody(`c-${i}`), { headers: key.headers })).status).toBe(200);
    await admin.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 0.2, burst: null }, reason: "noisy neighbour" });
    // The next request counts at once (this process forgot the key's verdict when the change committed).
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await frontDoor.post("/api/v1/rerank", rerankBody(`c-l-${i}`), { headers: key.headers })).status);
    expect(statuses).toEqual([200, 429, 429]);
    // The same limit again: nothing written.
    await admin.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 0.2, burst: null }, reason: "noisy neighbour" });
    // Raised: the next requests are held to the new limit, not to the old one's wait (re-break: a key slowed to 0.01/s and raised to 1,000/s waited 97 s).
    await admin.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 1000, burst: null }, reason: "bigger plan" });
    for (let i = 0; i < 5; i++) expect((await frontDoor.post("/api/v1/rerank", rerankBody(`c-r-${i}`), { headers: key.headers })).status).toBe(200);
    // The same limit written with its default burst spelled out changes nothing (re-break: it wrote an entry).
    await admin.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 1000, burst: 1000 }, reason: "same plan, spelt out" });
    await admin.apiKeys.setRateLimit({ id: key.id, rateLimit: null, reason: "incident over" });
    for (let i = 0; i < 5; i++) expect((await frontDoor.post("/api/v1/rerank", rerankBody(`c-u-${i}`), { headers: key.headers })).status).toBe(200);
    const entries = await db.auditLog.findMany({ where: { action: "api_key.rate_limit", entityId: key.id }, orderBy: { id: "asc" } });
    expect(entries.map((e) => [e.before, e.after, e.reason])).toEqual([
      [{ rateLimit: null }, { rateLimit: { rate: 0.2, burst: null } }, "noisy neighbour"],
      [{ rateLimit: { rate: 0.2, burst: null } }, { rateLimit: { rate: 1000, burst: null } }, "bigger plan"],
      [{ rateLimit: { rate: 1000, burst: null } }, { rateLimit: null }, "incident over"],
    ]);
    const listed = (await admin.apiKeys.list()).find((k) => k.id === key.id)!;
    expect([listed.rateLimit, listed.rateBurst]).toEqual([null, null]);

    const automation = await createApiKey(db, { name: "rate automation", kind: "automation", roles: ["ml_engineer"] }, ownerId);
    await expect(admin.apiKeys.setRateLimit({ id: automation.apiKey.id, rateLimit: { rate: 5, burst: null }, reason: "try it" })).rejects.toThrow(/^id: "rate automation" is an automation key/);
    await admin.apiKeys.revoke({ id: key.id, reason: "done with it" });
    await expect(admin.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 5, burst: null }, reason: "try it" })).rejects.toThrow(/^id: "changing frontend" is revoked/);
    await expect(admin.apiKeys.setRateLimit({ id: "no-such-key", rateLimit: null, reason: "try it" })).rejects.toThrow(/API key "no-such-key" does not exist/);
    for (const [rateLimit, field] of [[{ rate: 0, burst: null }, "rateLimit.rate"], [{ rate: 1e9, burst: null }, "rateLimit.rate"], [{ rate: 5, burst: 0 }, "rateLimit.burst"], [{ rate: 5, burst: 2.5 }, "rateLimit.burst"]] as const) {
      await expect(admin.apiKeys.setRateLimit({ id: automation.apiKey.id, rateLimit, reason: "try it" }), JSON.stringify(rateLimit)).rejects.toThrow(new RegExp(`^${field.replace(".", "\\.")}:`));
    }
    await expect(admin.apiKeys.create({ kind: "serving", name: "bad limit", rateLimit: { rate: -1, burst: null } })).rejects.toThrow(/^rateLimit\.rate:/);
    // Only a person sets limits (a key cannot lift its own): the procedure needs keys.manage, which no serving key has.
    expect(await db.auditLog.count({ where: { action: "api_key.rate_limit", entityId: automation.apiKey.id } })).toBe(0);
  });

  it("a limit dialog opened before someone else changed the limit is refused (409 naming both limits): nothing written or audited; a fresh pin, or none, applies", async () => {
    const db = getDb();
    const alice = await callerAsPerson(["admin"], "rate-alice@rerank.test");
    const bob = await callerAsPerson(["admin"], "rate-bob@rerank.test");
    const key = await newKey("pinned frontend", null);
    const stored = async () => {
      const row = await db.apiKey.findUniqueOrThrow({ where: { id: key.id } });
      return [row.rateLimit, row.rateBurst];
    };
    const entries = () => db.auditLog.count({ where: { action: "api_key.rate_limit", entityId: key.id } });
    // Both open the dialog (it shows no limit). Bob, in an incident, sets 10/s; Alice meant to raise a limit she thought absent.
    await bob.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 10, burst: 20 }, expectRateLimit: null, reason: "incident" });
    expect(await entries()).toBe(1);
    await expect(alice.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 5000, burst: null }, expectRateLimit: null, reason: "bigger plan" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: 'the rate limit of "pinned frontend" changed since it was shown (it showed no limit of its own, it is now 10 requests per second (bursts of 20)): not applied over it; look at it again and decide',
    });
    // Nor does a stale limit remove Bob's: removing is pinned as well.
    await expect(alice.apiKeys.setRateLimit({ id: key.id, rateLimit: null, expectRateLimit: { rate: 10, burst: null }, reason: "incident over" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^the rate limit of "pinned frontend" changed since it was shown \(it showed 10 requests per second, it is now 10 requests per second \(bursts of 20\)\)/) });
    expect(await stored()).toEqual([10, 20]);
    expect(await entries()).toBe(1);
    // She looks again: pinned to what is stored, it applies.
    await alice.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 50, burst: null }, expectRateLimit: { rate: 10, burst: 20 }, reason: "after the incident" });
    expect(await stored()).toEqual([50, null]);
    // A pin spelt with the rate's default burst is the same limit as stored (default: null).
    await alice.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 60, burst: null }, expectRateLimit: { rate: 50, burst: 50 }, reason: "a bit more" });
    expect(await stored()).toEqual([60, null]);
    // Unpinned (scripts): applies as before.
    await bob.apiKeys.setRateLimit({ id: key.id, rateLimit: null, reason: "script" });
    expect(await stored()).toEqual([null, null]);
    expect(await entries()).toBe(4);
    // A pin out of range is bad input naming the field; nothing changes.
    await expect(alice.apiKeys.setRateLimit({ id: key.id, rateLimit: { rate: 5, burst: null }, expectRateLimit: { rate: 0, burst: null }, reason: "try it" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectRateLimit\.rate: /) });
    expect(await stored()).toEqual([null, null]);
    expect(await entries()).toBe(4);
  });
});
