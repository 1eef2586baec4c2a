import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createTestSurface } from "../testing/models";
import { callerAs } from "../testing/callers";

// The executive figures against hand-counted rows in the request log and outcome events, this
// week and the week before.

const DAY = 86_400_000;

async function logRequest(id: string, user: string, ts: Date) {
  await getDb().$executeRaw`
    INSERT INTO rerank_requests (request_id, ts, surface, user_key, candidate_count, top_k, served, latency_ms)
    VALUES (${id}, ${ts}, 't-exec', ${user}, 10, 5, '[]'::jsonb, 1.5)`;
}
async function logEvent(id: string, request: string, requestTs: Date, type: string, revenue: number | null = null) {
  await getDb().$executeRaw`
    INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
    VALUES (${id}, ${requestTs}, ${request}, ${requestTs}, 't-exec', ${type}::"OutcomeType", 'sku-00001', ${revenue})`;
}

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  await createTestSurface(db, { key: "t-exec", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  const now = Date.now();
  // This week: 10 requests from 5 users, 20 impressions, 4 clicks, one purchase of 50.
  for (let i = 0; i < 10; i++) {
    const ts = new Date(now - (i + 1) * 3_600_000);
    await logRequest(`exec-now-${i}`, `u${i % 5}`, ts);
    await logEvent(`exec-now-imp-a-${i}`, `exec-now-${i}`, ts, "impression");
    await logEvent(`exec-now-imp-b-${i}`, `exec-now-${i}`, ts, "impression");
    if (i < 4) await logEvent(`exec-now-click-${i}`, `exec-now-${i}`, ts, "click");
  }
  // Three purchases, all by user u0 (requests 0 and 5): one converted unit of 5, not 3 purchases ÷ 5.
  await logEvent("exec-now-buy", "exec-now-0", new Date(now - 3_600_000), "purchase", 50);
  await logEvent("exec-now-buy-2", "exec-now-0", new Date(now - 3_600_000), "purchase", 25);
  await logEvent("exec-now-buy-3", "exec-now-5", new Date(now - 6 * 3_600_000), "purchase", 25);
  // The week before: 10 requests from 10 users, 20 impressions, 2 clicks, nothing bought.
  for (let i = 0; i < 10; i++) {
    const ts = new Date(now - 8 * DAY - i * 3_600_000);
    await logRequest(`exec-before-${i}`, `w${i}`, ts);
    await logEvent(`exec-before-imp-a-${i}`, `exec-before-${i}`, ts, "impression");
    await logEvent(`exec-before-imp-b-${i}`, `exec-before-${i}`, ts, "impression");
    if (i < 2) await logEvent(`exec-before-click-${i}`, `exec-before-${i}`, ts, "click");
  }
}, 120_000);

describe("executive overview", () => {
  it("gives CTR, conversion and revenue per unit (the catalogue's definitions) for the period and their change on the period before", async () => {
    const overview = await callerAs(["admin"]).executive.overview({ days: 7 });
    const s = overview.surfaces.find((x) => x.key === "t-exec")!;
    expect(s.current).toEqual({ requests: 10, units: 5, ctr: 0.2, conversion: 0.2, revenuePerUnit: 20, revenue: 100 });
    expect(s.previous).toEqual({ requests: 10, units: 10, ctr: 0.1, conversion: 0, revenuePerUnit: 0, revenue: 0 });
    expect(s.change.ctr).toBeCloseTo(1, 12);
    expect(s.change.requests).toBe(0);
    expect(s.change.revenuePerUnit).toBeNull();
    expect(s.daily.reduce((sum, d) => sum + d.revenue, 0)).toBe(100);
    expect(s.serving).toMatchObject({ model: "t-exec-model", alias: "production", version: 1 });
    const search = overview.surfaces.find((x) => x.key === "search")!;
    expect(search.serving).toMatchObject({ model: "search-ranker", version: 2 });
  });
});
