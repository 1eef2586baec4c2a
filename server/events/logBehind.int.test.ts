import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env, setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { featureStore } from "../features/store";
import { recentRequests, resetRecentRequests } from "../rerank/recent";
import { closeTelemetry, requestLogPendingSince, telemetry } from "../telemetry/streams";
import { keyHeaders } from "../testing/callers";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { TcpProxy, waitFor } from "../testing/tcpProxy";
import { LOG_BEHIND_RETRY_SECONDS, requestLogMayMissServed } from "./service";
import { connectClient } from "../db/pgClient";

// Issue #11 (found by bench:memory): a request served and acknowledged while the database was
// unreachable, pushed out of the recent-response cache (RECENT_RESPONSES_MAX_BYTES) before its log
// row reached PostgreSQL, must not get its events refused with 400 ("no served request": a client
// drops events on a 400, so they would be lost). While the request log is behind, such a batch is
// answered 503 with Retry-After, nothing kept; once the log is written the same batch is accepted.
// Real PostgreSQL behind a TCP proxy the test closes (connections refused) and opens again; the
// real front door over HTTP.

const directUrl = env().DATABASE_URL!;
const proxy = TcpProxy.forDatabase(directUrl);
const run = `lb-${Date.now().toString(36)}`;
let catalog: string[];
let frontDoor: TestFrontDoor;
let headers: Record<string, string>;
/** A direct connection holding rerank_requests locked against writes (not reads) while the test needs the log behind. */
let logLock: Awaited<ReturnType<typeof connectClient>> | null = null;

const rerankBody = (ids: string[], requestId: string) => ({ surface: "search", topK: ids.length, requestId, userKey: `${run}-user`, candidates: ids.map((id, i) => ({ id, retrievalScore: 1 - i / ids.length })) });

/** Whether the recent-response cache holds `requestId`, under whichever owner (requestIdOwner). */
const cached = (requestId: string) => [...recentRequests().keys()].some((key) => key.endsWith(`\u0000${requestId}`));

/** Rows of `table` whose `column` is one of `ids`: read directly, not through the proxy. */
async function countRows(table: "rerank_requests" | "outcome_events", column: "request_id" | "event_id", ids: string[]): Promise<number> {
  const client = await connectClient({ connectionString: directUrl });
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ANY($1)`, [ids]);
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}
const loggedRequests = (requestIds: string[]) => countRows("rerank_requests", "request_id", requestIds);
const storedEvents = (eventIds: string[]) => countRows("outcome_events", "event_id", eventIds);

beforeAll(async () => {
  await seedDemo(getDb());
  catalog = (await getDb().catalogItem.findMany({ select: { id: true }, orderBy: { id: "asc" }, take: 1000 })).map((c) => c.id);
  headers = await keyHeaders("serving");
  await proxy.open();
  await closeTelemetry();
  await disconnectDb();
  setEnv("DATABASE_URL", proxy.urlFor(directUrl));
  // The smallest bound: a dozen 1,000-candidate responses push the first one out.
  setEnv("RECENT_RESPONSES_MAX_BYTES", String(1024 * 1024));
  resetRecentRequests();
  featureStore().clear();
  frontDoor = await startTestFrontDoor();
  // The key, the surface's config and the features are cached while the database answers.
  await waitFor(async () => (await frontDoor.post("/api/v1/rerank", rerankBody(catalog.slice(0, 5), `${run}-warm`), { headers })).status === 200, "a warm-up request served");
}, 120_000);

afterAll(async () => {
  await logLock?.end();
  await proxy.open();
  await frontDoor?.close();
  await closeTelemetry();
  await disconnectDb();
  await proxy.close();
  setEnv("DATABASE_URL", directUrl);
  setEnv("RECENT_RESPONSES_MAX_BYTES", undefined);
  resetRecentRequests();
});

describe("events for a request whose log row is not yet in PostgreSQL", () => {
  it("answers 503 with Retry-After (not 400) while the log is behind, and accepts the same batch once it is written", async () => {
    await telemetry().requests.flush();
    // A healthy log: an id nobody served is refused at once, naming the field.
    expect(requestLogMayMissServed()).toBe(false);
    const unknown = await frontDoor.post("/api/v1/events", { events: [{ eventId: `${run}-u`, requestId: `${run}-never`, itemId: catalog[0], type: "click" }] }, { headers });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: unknown }).error).toEqual({
      code: "BAD_REQUEST",
      message: `events[0].requestId: no served request "${run}-never" (send events after the rerank response)`,
      // The field's message does not repeat its path (#11 break test).
      fields: [{ path: "events[0].requestId", message: `no served request "${run}-never" (send events after the rerank response)` }],
    });

    // The database goes away; requests are still served and acknowledged.
    await proxy.close();
    const first = `${run}-first`;
    const served = await frontDoor.post("/api/v1/rerank", rerankBody(catalog.slice(0, 3), first), { headers });
    expect(served.status).toBe(200);
    const firstItem = ((await served.json()) as { items: Array<{ id: string }> }).items[0]!.id;
    const big: string[] = [];
    for (let i = 0; cached(first); i++) {
      expect(i).toBeLessThan(60);
      const id = `${run}-big-${i}`;
      expect((await frontDoor.post("/api/v1/rerank", rerankBody(catalog, id), { headers })).status).toBe(200);
      big.push(id);
    }
    const last = big.at(-1)!;

    // The database is back, but the request log has not caught up: the first request is in neither
    // the cache nor PostgreSQL. The writer retries on its backoff (250 ms doubling), which on a busy
    // machine can land between any two of the requests below: its writes wait on this lock, which
    // lets the events' reads of the log through, until the test lets the log catch up.
    logLock = await connectClient({ connectionString: directUrl });
    await logLock.query("BEGIN");
    await logLock.query("LOCK TABLE rerank_requests IN EXCLUSIVE MODE");
    await proxy.open();
    expect(requestLogPendingSince()).not.toBeNull();
    expect(requestLogMayMissServed()).toBe(true);
    // The event alone (what a client sends right after its request) would have got a 400 and been dropped.
    const alone = await frontDoor.post("/api/v1/events", { events: [{ eventId: `${run}-e1`, requestId: first, itemId: firstItem, type: "click" }] }, { headers });
    expect(alone.status).toBe(503);
    expect(alone.headers.get("retry-after")).toBe(String(LOG_BEHIND_RETRY_SECONDS));
    // tRPC's events.record answers the same, with the header.
    const viaTrpc = await frontDoor.post("/api/trpc/events.record", { json: { events: [{ eventId: `${run}-e1`, requestId: first, itemId: firstItem, type: "click" }] } }, { headers });
    expect(viaTrpc.status).toBe(503);
    expect(viaTrpc.headers.get("retry-after")).toBe(String(LOG_BEHIND_RETRY_SECONDS));
    expect(((await viaTrpc.json()) as { error: { json: { message: string; data: { code: string } } } }).error.json).toMatchObject({
      message: `events[0].requestId: request "${first}" is not in the request log yet (its rows are waiting for the database); nothing of this batch was kept, retry in ${LOG_BEHIND_RETRY_SECONDS} s`,
      data: { code: "SERVICE_UNAVAILABLE" },
    });
    // With an event of a request still cached beside it, it would have been rejected inside a 200: dropped as well.
    const batch = { events: [
      { eventId: `${run}-e1`, requestId: first, itemId: firstItem, type: "click" },
      { eventId: `${run}-e2`, requestId: last, itemId: catalog[0], type: "impression" },
    ] };
    const behind = await frontDoor.post("/api/v1/events", batch, { headers });
    expect(await loggedRequests([first])).toBe(0);
    expect(behind.status).toBe(503);
    expect(behind.headers.get("retry-after")).toBe(String(LOG_BEHIND_RETRY_SECONDS));
    const body = (await behind.json()) as { error: { code: string; message: string } };
    expect(body.error).toEqual({
      code: "UNAVAILABLE",
      message: `events[0].requestId: request "${first}" is not in the request log yet (its rows are waiting for the database); nothing of this batch was kept, retry in ${LOG_BEHIND_RETRY_SECONDS} s`,
    });
    // Nothing of the batch was kept, the event of the still-cached request neither.
    expect(await storedEvents([`${run}-e1`, `${run}-e2`])).toBe(0);
    // An event for a request still in the cache alone is accepted while the log is behind.
    const recentOnly = await frontDoor.post("/api/v1/events", { events: [{ eventId: `${run}-e3`, requestId: last, itemId: catalog[0], type: "impression" }] }, { headers });
    expect(recentOnly.status).toBe(200);
    expect(await recentOnly.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

    // The log catches up; the client's retry of the same batch is kept.
    await logLock.query("COMMIT");
    await logLock.end();
    logLock = null;
    await telemetry().requests.flush();
    expect(requestLogPendingSince()).toBeNull();
    expect(await loggedRequests([first, last])).toBe(2);
    const retried = await frontDoor.post("/api/v1/events", batch, { headers });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await storedEvents([`${run}-e1`, `${run}-e2`, `${run}-e3`])).toBe(3);
    // With the log written, an unknown id is a 400 again.
    expect((await frontDoor.post("/api/v1/events", { events: [{ eventId: `${run}-u2`, requestId: `${run}-never`, itemId: catalog[0], type: "click" }] }, { headers })).status).toBe(400);
  }, 120_000);
});
