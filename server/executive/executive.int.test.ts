import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { executiveOverview, purchasingUnitsSql } from "./service";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createTestSurface } from "../testing/models";
import { callerAs } from "../testing/callers";
import { insertRolledBackRollouts, startTestCanary } from "../testing/rollouts";

// The executive figures against hand-counted rows in the request log and outcome events, this
// week and the week before.

const DAY = 86_400_000;

async function logRequest(id: string, user: string | null, ts: Date, surface = "t-exec") {
  await getDb().$executeRaw`
    INSERT INTO rerank_requests (request_id, ts, surface, user_key, candidate_count, top_k, served, latency_ms)
    VALUES (${id}, ${ts}, ${surface}, ${user}, 10, 5, '[]'::jsonb, 1.5)`;
}
async function logEvent(id: string, request: string, requestTs: Date, type: string, revenue: number | null = null, surface = "t-exec") {
  await getDb().$executeRaw`
    INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
    VALUES (${id}, ${requestTs}, ${request}, ${requestTs}, ${surface}, ${type}::"OutcomeType", 'sku-00001', ${revenue})`;
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

describe("executive overview: break-test cases", () => {
  beforeAll(async () => {
    await createTestSurface(getDb(), { key: "t-exec-anon", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
    const now = Date.now();
    // Two users' requests, one purchase of 20 by a user; an anonymous request (no user or session key) with a purchase of 1,000.
    for (const [i, user] of ["a1", "a2", null].entries()) await logRequest(`anon-${i}`, user, new Date(now - (i + 1) * 3_600_000), "t-exec-anon");
    await logEvent("anon-buy-user", "anon-0", new Date(now - 3_600_000), "purchase", 20, "t-exec-anon");
    await logEvent("anon-buy-anonymous", "anon-2", new Date(now - 3 * 3_600_000), "purchase", 1000, "t-exec-anon");
    // A replica with a fast clock: a request and its impression stamped 20 minutes ahead.
    await logRequest("anon-future", "a3", new Date(now + 20 * 60_000), "t-exec-anon");
    await logEvent("anon-future-imp", "anon-future", new Date(now + 20 * 60_000), "impression", null, "t-exec-anon");
  });

  it("revenue per unit counts the revenue of requests with a unit only (an anonymous purchase of 1,000 made it 51.25 over the same units); revenue keeps all", async () => {
    const s = (await callerAs(["admin"]).executive.overview({ days: 7 })).surfaces.find((x) => x.key === "t-exec-anon")!;
    expect(s.current).toEqual({ requests: 3, units: 2, ctr: null, conversion: 0.5, revenuePerUnit: 10, revenue: 1020 });
  });

  it("counts CTR's clicks on shown items only, at most once per impression: clicks without impressions read 200 %, now 50 %", async () => {
    await createTestSurface(getDb(), { key: "t-exec-ctr", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
    const ts = new Date(Date.now() - 2 * 3_600_000);
    const event = (id: string, request: string, type: string, item: string) => getDb().$executeRaw`
      INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id)
      VALUES (${id}, ${ts}, ${request}, ${ts}, 't-exec-ctr', ${type}::"OutcomeType", ${item})`;
    for (const id of ["ctr-shown", "ctr-clicks-only"]) await logRequest(id, "c1", ts, "t-exec-ctr");
    // Shown: items a and b (2 impressions); a clicked twice (one click-through), c clicked but never shown.
    await event("ctr-imp-a", "ctr-shown", "impression", "a");
    await event("ctr-imp-b", "ctr-shown", "impression", "b");
    await event("ctr-click-a", "ctr-shown", "click", "a");
    await event("ctr-click-a-again", "ctr-shown", "click", "a");
    await event("ctr-click-c", "ctr-shown", "click", "c");
    // A request whose client sent its clicks and no impressions.
    await event("ctr-only-click-a", "ctr-clicks-only", "click", "a");
    await event("ctr-only-click-b", "ctr-clicks-only", "click", "b");
    const s = (await callerAs(["admin"]).executive.overview({ days: 7 })).surfaces.find((x) => x.key === "t-exec-ctr")!;
    // 5 clicks ÷ 2 impressions was 250 %; 1 click on a shown item ÷ 2 impressions is 50 %.
    expect(s.current.ctr).toBe(0.5);
    expect(s.daily.map((d) => d.ctr)).toEqual([0.5]);
  });

  it("leaves out rows stamped after now, as the On-call page does", async () => {
    const s = (await callerAs(["admin"]).executive.overview({ days: 1 })).surfaces.find((x) => x.key === "t-exec-anon")!;
    expect([s.current.requests, s.current.ctr]).toEqual([3, null]);
  });

  it("does not compare against a period that starts before retention's horizon (28 days against 28 more, 30 kept: +1,062 % for flat traffic)", async () => {
    const now = new Date();
    const month = await executiveOverview(getDb(), { days: 28 }, { now, retentionDays: 30 });
    expect(month.coverage.current.complete).toBe(true);
    expect(month.coverage.previous.complete).toBe(false);
    expect(month.coverage.keptFrom.toISOString()).toBe(new Date(Math.floor(now.getTime() / 86_400_000) * 86_400_000 - 30 * 86_400_000).toISOString());
    const s = month.surfaces.find((x) => x.key === "t-exec")!;
    expect(s.change).toEqual({ ctr: null, conversion: null, revenuePerUnit: null, requests: null });
    const week = await executiveOverview(getDb(), { days: 7 }, { now, retentionDays: 30 });
    expect(week.coverage.previous.complete).toBe(true);
    expect(week.surfaces.find((x) => x.key === "t-exec")!.change.ctr).toBeCloseTo(1, 12);
    const fortyFive = await executiveOverview(getDb(), { days: 45 }, { now, retentionDays: 30 });
    expect([fortyFive.coverage.current.complete, fortyFive.coverage.previous.complete]).toEqual([false, false]);
  });

  it("keeps 'serving since' when the alias is moved onto the version it already serves (a no-op move is no new stint)", async () => {
    const before = (await callerAs(["admin"]).executive.overview({ days: 7 })).surfaces.find((x) => x.key === "search")!.serving!;
    const model = await getDb().model.findUniqueOrThrow({ where: { name: "search-ranker" }, include: { aliases: true } });
    const production = model.aliases.find((a) => a.name === "production")!;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await callerAs(["admin"]).models.setAlias({ versionId: production.versionId, alias: "production", reason: "re-apply the same version" });
    const after = (await callerAs(["admin"]).executive.overview({ days: 7 })).surfaces.find((x) => x.key === "search")!.serving!;
    expect(after.version).toBe(before.version);
    expect(new Date(after.since).toISOString()).toBe(new Date(before.since).toISOString());
    expect(new Date(after.since).getTime()).toBeLessThan((await getDb().modelAlias.findUniqueOrThrow({ where: { id: production.id } })).updatedAt.getTime());
  });
});

describe("executive overview: live canaries are never crowded out", () => {
  // Break test: the badges read the 50 newest rollouts of all surfaces and the table showed the 8
  // newest, so 60 quick rollbacks on one surface hid a canary running since Monday from both, and a
  // paused canary (still serving its share) had no badge at all.
  let running: { id: string };
  let paused: { id: string };
  beforeAll(async () => {
    const db = getDb();
    for (const key of ["t-exec-canary", "t-exec-paused", "t-exec-pipeline"]) {
      await createTestSurface(db, { key, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("candidate")] });
    }
    running = await startTestCanary("t-exec-canary", { version: 4, daysAgo: 3 });
    paused = await startTestCanary("t-exec-paused", { version: 4, daysAgo: 2 });
    await callerAs(["ml_engineer", "oncall"], "ml@rerank.local").rollouts.pause({ surface: "t-exec-paused", rolloutId: paused.id, reason: "hold while we look" });
    await insertRolledBackRollouts("t-exec-pipeline", { version: 4, count: 60, newest: new Date(Date.now() - 60_000) });
  }, 120_000);

  it("badges each surface's running or paused canary, however many rollouts ended since elsewhere", async () => {
    const overview = await callerAs(["admin"]).executive.overview({ days: 7 });
    const of = (key: string) => overview.surfaces.find((x) => x.key === key)!.rollout;
    expect(of("t-exec-canary")).toMatchObject({ status: "running", version: 4, percent: 5 });
    expect(of("t-exec-paused")).toMatchObject({ status: "paused", version: 4, percent: 5 });
    // A surface with ended rollouts only: its newest.
    expect(of("t-exec-pipeline")).toMatchObject({ status: "rolled_back", endedAt: expect.any(Date) });
    expect(of("t-exec")).toBeNull();
  });

  it("lists every running or paused rollout first, then the newest ended ones up to 8 rows", async () => {
    const { rollouts } = await callerAs(["admin"]).executive.overview({ days: 7 });
    expect(rollouts.map((r) => [r.surface, r.status])).toEqual([
      ["t-exec-paused", "paused"], ["t-exec-canary", "running"],
      ...Array(6).fill(["t-exec-pipeline", "rolled_back"]),
    ]);
    expect(rollouts.slice(0, 2).map((r) => r.id)).toEqual([paused.id, running.id]);
    const newestEnded = await getDb().rollout.findMany({ where: { status: "rolled_back" }, orderBy: { startedAt: "desc" }, take: 6, select: { id: true } });
    expect(rollouts.slice(2).map((r) => r.id)).toEqual(newestEnded.map((r) => r.id));
  });

  it("shows every active rollout even when more than 8 are live, and no ended one then", async () => {
    const db = getDb();
    const more = Array.from({ length: 8 }, (_, i) => `t-exec-live-${i}`);
    for (const key of more) {
      await createTestSurface(db, { key, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("candidate")] });
      await startTestCanary(key, { version: 4, daysAgo: 1 });
    }
    const { rollouts } = await callerAs(["admin"]).executive.overview({ days: 7 });
    expect(rollouts).toHaveLength(10);
    expect(rollouts.every((r) => r.status === "running" || r.status === "paused")).toBe(true);
    expect(new Set(rollouts.map((r) => r.surface))).toEqual(new Set(["t-exec-canary", "t-exec-paused", ...more]));
  }, 180_000);
});

describe("executive overview: shipped experiments", () => {
  it("lists them by when they shipped, newest first, with that time (an experiment stopped long before it shipped is not buried by its stop)", async () => {
    const db = getDb();
    const surface = await db.surface.findUniqueOrThrow({ where: { key: "t-exec" }, select: { id: true } });
    const now = Date.now();
    const shipped = (key: string, stoppedDaysAgo: number, shippedDaysAgo: number) => db.experiment.create({
      data: { key, name: key, surfaceId: surface.id, owner: "pm@rerank.local", seed: key, status: "shipped", shippedVariantKey: "treatment", phase: 1,
        startedAt: new Date(now - 30 * DAY), stoppedAt: new Date(now - stoppedDaysAgo * DAY), shippedAt: new Date(now - shippedDaysAgo * DAY) },
    });
    // Stopped 20 days ago and shipped today (after the results were read again); stopped and shipped 2 days ago.
    await shipped("exec-ship-late", 20, 0);
    await shipped("exec-ship-early", 2, 2);
    const { shipped: listed } = await callerAs(["admin"]).executive.overview({ days: 7 });
    expect(listed.map((e) => e.key)).toEqual(["exec-ship-late", "exec-ship-early"]);
    expect(listed[0]!.at!.getTime()).toBe(now);
    expect(listed[1]!.at!.getTime()).toBe(now - 2 * DAY);
  });
});

describe("executive overview: the day-partitioned logs are read within the periods", () => {
  it("plans the purchases' request-log join on the periods' days only (the join's equality carried no bound to it: every day was planned)", async () => {
    const client = await connectClient({ connectionString: databaseUrl() });
    try { await ensurePartitions(client, { daysBack: 10 }); } finally { await client.end(); }
    const to = new Date();
    const since = new Date(to.getTime() - DAY);
    const from = new Date(to.getTime() - 2 * DAY);
    const explained = await getDb().$queryRaw<Array<{ "QUERY PLAN": unknown }>>`EXPLAIN (FORMAT JSON) ${purchasingUnitsSql({ from, since, to })}`;
    const relations: string[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (typeof node["Relation Name"] === "string") relations.push(node["Relation Name"] as string);
      for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
    };
    walk((explained[0]!["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
    const days = (table: string) => relations.filter((r) => r.startsWith(`${table}_p`)).sort();
    const first = (table: string) => partitionName(table, utcDay(from));
    const last = (table: string) => partitionName(table, utcDay(to));
    for (const table of ["rerank_requests", "outcome_events"]) {
      expect(days(table).length, table).toBeGreaterThan(0);
      expect(days(table).filter((name) => name < first(table) || name > last(table)), table).toEqual([]);
    }
  });
});
