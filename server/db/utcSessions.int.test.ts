import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, disconnectDb, getDb } from "./client";
import { connectClient, durablePool, inUtc } from "./pgClient";
import { ThreadedPool } from "./threadedPool";
import { seedDemo } from "./seed";
import { callerAs } from "../testing/callers";
import { oncallOverview } from "../oncall/service";

// A database whose TimeZone is not UTC (Debian's initdb takes the host's): every session of ours
// runs in UTC all the same (pgClient.ts inUtc). Before, Prisma's adapter sent a Date without its
// offset, read in the session's zone: on America/Los_Angeles the On-call page read no traffic in
// the last hour and Executive days were a day early (break test; prisma/orm#26786).

const instant = new Date("2026-12-01T02:00:00.000Z");

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  await db.$executeRawUnsafe(`ALTER DATABASE "${new URL(databaseUrl()).pathname.slice(1)}" SET timezone TO 'America/Los_Angeles'`);
  // New sessions take the database's setting: let every pooled one go.
  await disconnectDb();
}, 60_000);
afterAll(async () => {
  await disconnectDb();
});

describe("sessions on a database whose TimeZone is America/Los_Angeles", () => {
  it("run in UTC: Prisma's, connectClient's, a durablePool's and the telemetry's ThreadedPool", async () => {
    const [prisma] = await getDb().$queryRaw<Array<{ tz: string }>>`SELECT current_setting('TimeZone') AS tz`;
    expect(prisma!.tz).toBe("UTC");
    const client = await connectClient({ connectionString: databaseUrl() });
    const pool = durablePool({ connectionString: databaseUrl(), max: 1 });
    const threaded = new ThreadedPool(inUtc({ connectionString: databaseUrl(), max: 1 }));
    try {
      expect((await client.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz).toBe("UTC");
      expect((await pool.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz).toBe("UTC");
      expect((await threaded.query<{ tz: string }>({ text: "SELECT current_setting('TimeZone') AS tz" })).rows[0]!.tz).toBe("UTC");
      // A connection without it sees the database's zone: the test's premise holds.
      const bare = new pg.Client({ connectionString: databaseUrl() });
      await bare.connect();
      expect((await bare.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz).toBe("America/Los_Angeles");
      await bare.end();
    } finally {
      await client.end();
      await pool.end();
      await threaded.end();
    }
  });

  it("a Date goes in and comes back as the same instant through Prisma", async () => {
    const [row] = await getDb().$queryRaw<Array<{ t: Date; text: string }>>`SELECT ${instant}::timestamptz AS t, ${instant}::timestamptz::text AS text`;
    expect(row!.t.toISOString()).toBe(instant.toISOString());
    expect(row!.text).toBe("2026-12-01 02:00:00+00");
  });

  it("On-call counts a request logged ten minutes ago in its last hour, and Executive puts an event at 02:00Z in its UTC day", async () => {
    const db = getDb();
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    await db.$executeRaw`
      INSERT INTO rerank_requests (request_id, ts, surface, user_key, candidate_count, top_k, served, latency_ms, fallback_used)
      VALUES ('tz-recent', ${tenMinutesAgo}, 'search', 'tz-user', 10, 5, '[]'::jsonb, 1.5, false)`;
    const search = (await oncallOverview(db, { hours: 1 })).surfaces.find((s) => s.key === "search")!;
    expect(search.window.requests).toBeGreaterThanOrEqual(1);
    expect(search.burn.availability.oneHour).not.toBeNull();
    // An event at 02:00Z today (UTC): its day is today's in UTC, not yesterday's (Los Angeles' day then).
    const today = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    const early = new Date(today.getTime() + 2 * 3_600_000);
    if (early.getTime() < Date.now()) {
      await db.$executeRaw`
        INSERT INTO rerank_requests (request_id, ts, surface, user_key, candidate_count, top_k, served, latency_ms)
        VALUES ('tz-early', ${early}, 'search', 'tz-user', 10, 5, '[]'::jsonb, 1.5)`;
      await db.$executeRaw`
        INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
        VALUES ('tz-early-buy', ${early}, 'tz-early', ${early}, 'search', 'purchase'::"OutcomeType", 'sku-00001', 7)`;
      const daily = (await callerAs(["admin"]).executive.overview({ days: 1 })).surfaces.find((s) => s.key === "search")!.daily;
      expect(daily.map((d) => new Date(d.day).toISOString())).toContain(today.toISOString());
    }
  });
});
