import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startJobRunner } from "../jobs/runner";
import { databaseUrl, getDb } from "./client";
import { connectClient, durablePool } from "./pgClient";

// PostgreSQL may end any connection at any moment (restart, pg_terminate_backend, failover). A
// connection ended while its client waits between queries is an `error` event; without a listener
// it would end the process. Each case here ends real backends of the run's database.

const uncaught: unknown[] = [];
const record = (error: unknown) => void uncaught.push(error);
beforeEach(() => {
  uncaught.length = 0;
  process.on("uncaughtException", record);
});
afterEach(() => void process.off("uncaughtException", record));

const terminate = (applicationName: string) =>
  getDb().$queryRaw<Array<{ ended: boolean }>>`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = ${applicationName}`;
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("connections PostgreSQL ends", () => {
  it("an idle connectClient client keeps the process up; its next query fails", async () => {
    const client = await connectClient({ connectionString: databaseUrl(), application_name: "t-pgclient-idle" });
    await client.query("SELECT 1");
    expect((await terminate("t-pgclient-idle")).map((r) => r.ended)).toEqual([true]);
    await settle();
    expect(uncaught).toEqual([]);
    await expect(client.query("SELECT 1")).rejects.toThrow();
    await client.end().catch(() => {});
  });

  it("a durablePool keeps the process up for idle and checked-out clients, and serves again after", async () => {
    const pool = durablePool({ connectionString: databaseUrl(), application_name: "t-pgclient-pool", max: 3 });
    const held = await pool.connect();
    await Promise.all([pool.query("SELECT pg_sleep(0.05)"), pool.query("SELECT pg_sleep(0.05)")]); // two idle clients besides the held one
    expect((await terminate("t-pgclient-pool")).length).toBe(3);
    await settle();
    expect(uncaught).toEqual([]);
    await expect(held.query("SELECT 1")).rejects.toThrow();
    held.release(true);
    expect((await pool.query<{ n: number }>("SELECT 1 AS n")).rows).toEqual([{ n: 1 }]);
    // Ending the pool while the server ends its connections: still no uncaught error.
    const ending = pool.end();
    await terminate("t-pgclient-pool");
    await ending;
    await settle();
    expect(uncaught).toEqual([]);
  });

  it("the job runner's connections ended while it stops do not end the process", async () => {
    const tasks = { "test.pgclient-idle": z.object({}) };
    for (let i = 0; i < 3; i++) {
      const runner = await startJobRunner({ connectionString: databaseUrl(), tasks, handlers: { "test.pgclient-idle": async () => {} }, concurrency: 2, pollIntervalMs: 50, log: () => {} });
      await settle();
      const stopping = runner.stop(2000);
      await getDb().$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query ILIKE '%graphile_worker%' OR query ILIKE 'LISTEN%')`;
      await stopping;
    }
    await settle();
    expect(uncaught).toEqual([]);
  });
});
