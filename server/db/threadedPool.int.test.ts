import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { env } from "../config";
import { connectClient } from "./pgClient";
import pg from "pg";
import { copyBatch, ThreadedPool, type CopyBatch, type Queryable } from "./threadedPool";

// A pg pool in a worker thread (the telemetry writers' pool): answers, PostgreSQL's error codes and
// Dates cross the thread; the thread holds the process only while a query is in flight; a dead thread
// fails its queries and the next query gets a new one.

const url = env().DATABASE_URL!;

describe("ThreadedPool", () => {
  const pool = new ThreadedPool({ connectionString: url, max: 2, query_timeout: 5000 });
  afterAll(() => pool.end());

  it("runs named and unnamed queries with values, Dates and arrays crossing both ways", async () => {
    const at = new Date("2026-11-30T05:00:00.123Z");
    const { rows } = await pool.query<{ n: number; at: Date; xs: string[] }>({ name: "threaded_pool_test", text: "SELECT $1::int + 1 AS n, $2::timestamptz AS at, $3::text[] AS xs", values: [41, at, ["a", "b"]] });
    expect(rows).toEqual([{ n: 42, at, xs: ["a", "b"] }]);
    expect(rows[0]!.at).toBeInstanceOf(Date);
    // The prepared statement again, on whichever connection: same answer.
    expect((await pool.query<{ n: number }>({ name: "threaded_pool_test", text: "SELECT $1::int + 1 AS n, $2::timestamptz AS at, $3::text[] AS xs", values: [1, at, []] })).rows[0]!.n).toBe(2);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.query<{ i: number }>({ text: "SELECT $1::int AS i", values: [i] })));
    expect(many.map((r) => r.rows[0]!.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("fails a query with PostgreSQL's message and SQLSTATE, and goes on", async () => {
    await expect(pool.query({ text: "SELECT 1 / $1::int", values: [0] })).rejects.toMatchObject({ code: "22012", message: "division by zero" });
    await expect(pool.query({ text: "SELECT * FROM no_such_table_here" })).rejects.toMatchObject({ code: "42P01" });
    expect((await pool.query<{ ok: boolean }>({ text: "SELECT true AS ok" })).rows).toEqual([{ ok: true }]);
  });

  it("fails the queries of a thread that died, and starts a new thread for the next", async () => {
    const slow = pool.query({ text: "SELECT pg_sleep(2)" });
    await new Promise((r) => setTimeout(r, 200));
    await (pool as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(slow).rejects.toThrow(/database thread exited/);
    expect((await pool.query<{ n: number }>({ text: "SELECT 7 AS n" })).rows).toEqual([{ n: 7 }]);
  });

  it("outlives PostgreSQL ending its connections: the thread stays, and serves again", async () => {
    const worker = (pool as unknown as { worker: unknown }).worker;
    const pids = (await Promise.all([pool.query<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid, pg_sleep(0.1)" }), pool.query<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid, pg_sleep(0.1)" })])).map((r) => r.rows[0]!.pid);
    const admin = await connectClient({ connectionString: url });
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [pids]);
    await admin.end();
    await new Promise((r) => setTimeout(r, 300));
    // An idle client the server ended is dropped by the pool: the next query gets a new connection.
    const again = await pool.query<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid" }).catch(() => pool.query<{ pid: number }>({ text: "SELECT pg_backend_pid() AS pid" }));
    expect(pids).not.toContain(again.rows[0]!.pid);
    expect((pool as unknown as { worker: unknown }).worker).toBe(worker);
  });

  it("fails a query whose values cannot cross to the thread, and holds nothing for it (the process could not exit)", async () => {
    await expect(pool.query({ text: "SELECT $1::text", values: [() => 1] })).rejects.toThrow(/could not be cloned/);
    expect((pool as unknown as { pending: Map<number, unknown> }).pending.size).toBe(0);
    expect((await pool.query<{ n: number }>({ text: "SELECT 8 AS n" })).rows).toEqual([{ n: 8 }]);
  });

  /** The replay path of a batch into `table` (id, note): a staging table and INSERT … ON CONFLICT DO NOTHING. */
  const stagedFallback = (table: string): CopyBatch["fallback"] => ({
    before: [{ text: `CREATE TEMP TABLE staged (LIKE ${table}) ON COMMIT DROP` }],
    copy: "COPY staged (id, note) FROM STDIN",
    after: [{ text: `INSERT INTO ${table} SELECT * FROM staged ON CONFLICT DO NOTHING` }],
  });

  for (const [name, make] of [["ThreadedPool", () => pool], ["pg.Pool", () => new pg.Pool({ connectionString: url, max: 1 })]] as Array<[string, () => Queryable]>) {
    it(`runs a COPY batch in one transaction, falls back on a unique violation, and fails with the SQLSTATE (${name})`, async () => {
      const target = make();
      const table = `copy_batch_${name === "pg.Pool" ? "plain" : "threaded"}`;
      await target.query({ text: `CREATE TABLE ${table} (id text PRIMARY KEY, note text)` });
      await target.query({ text: `CREATE TABLE ${table}_log (rows int)` });
      const batch = (data: string): CopyBatch => ({
        data,
        copy: `COPY ${table} (id, note) FROM STDIN`,
        after: [{ text: `INSERT INTO ${table}_log SELECT count(*) FROM ${table}` }],
        fallback: stagedFallback(table),
      });
      expect(await copyBatch(target, batch("a\tone\\\\\nb\t\\N\n"))).toEqual({ path: "direct" });
      // "b" again: the direct COPY is rolled back (its `after` with it), the fallback adds only "c".
      expect(await copyBatch(target, batch("b\tagain\nc\tthree\n"))).toEqual({ path: "fallback" });
      expect((await target.query({ text: `SELECT id, note FROM ${table} ORDER BY id` })).rows).toEqual([{ id: "a", note: "one\\" }, { id: "b", note: null }, { id: "c", note: "three" }]);
      expect((await target.query({ text: `SELECT rows FROM ${table}_log` })).rows).toEqual([{ rows: 2 }]);
      // A value PostgreSQL refuses: its SQLSTATE crosses back, nothing is kept, and the pool goes on.
      await expect(copyBatch(target, batch("d\tnul\\000\n"))).rejects.toMatchObject({ code: "22021" });
      await expect(copyBatch(target, batch("e\n"))).rejects.toMatchObject({ code: "22P04" });
      expect((await target.query<{ n: string }>({ text: `SELECT count(*) AS n FROM ${table}` })).rows).toEqual([{ n: "3" }]);
      if (target !== pool) await target.end();
    });

    it(`runs a lone COPY (nothing before or after it) without BEGIN and COMMIT, with the same fallback and errors (${name})`, async () => {
      const target: Queryable & { end(): Promise<void> } = name === "pg.Pool" ? new pg.Pool({ connectionString: url, max: 1 }) : new ThreadedPool({ connectionString: url, max: 1 });
      const table = `copy_alone_${name === "pg.Pool" ? "plain" : "threaded"}`;
      await target.query({ text: `CREATE TABLE ${table} (id text PRIMARY KEY, note text)` });
      const batch = (data: string): CopyBatch => ({
        data,
        copy: `COPY ${table} (id, note) FROM STDIN`,
        fallback: stagedFallback(table),
      });
      expect(await copyBatch(target, batch("a\tone\nb\ttwo\n"))).toEqual({ path: "direct" });
      // A unique violation aborts the lone COPY as a whole ("c" is not kept by it); the fallback adds "c".
      expect(await copyBatch(target, batch("c\tthree\nb\tagain\n"))).toEqual({ path: "fallback" });
      await expect(copyBatch(target, batch("d\tnul\\000\n"))).rejects.toMatchObject({ code: "22021" });
      // One connection (max 1): after each failure it is back to idle, not inside an aborted transaction.
      expect((await target.query<{ id: string; note: string }>({ text: `SELECT id, note FROM ${table} ORDER BY id` })).rows)
        .toEqual([{ id: "a", note: "one" }, { id: "b", note: "two" }, { id: "c", note: "three" }]);
      expect((await target.query<{ open: boolean }>({ text: "SELECT now() = statement_timestamp() AS open" })).rows).toEqual([{ open: true }]);
      await target.end();
    });
  }

  it("a COPY that outlives query_timeout while PostgreSQL holds it back (a lock) fails alone: the late CopyInResponse crashes neither the process nor the pool's thread", async () => {
    // pg-copy-streams lets go of the connection when the driver's read timeout fails the COPY; when PostgreSQL then
    // gets the lock and answers CopyInResponse, it called the connection it let go of: an uncaught TypeError that
    // ended the process (pg.Pool) or the thread and every query in flight on it (ThreadedPool).
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", record);
    const admin = await connectClient({ connectionString: url });
    await admin.query("CREATE TABLE copy_batch_locked (a text)");
    const threaded = new ThreadedPool({ connectionString: url, max: 2, query_timeout: 500 });
    const plain = new pg.Pool({ connectionString: url, max: 2, query_timeout: 500 });
    try {
      for (const target of [plain, threaded] as Queryable[]) {
        await admin.query("BEGIN");
        await admin.query("LOCK TABLE copy_batch_locked IN ACCESS EXCLUSIVE MODE");
        const copied = copyBatch(target, { data: "x\n", copy: "COPY copy_batch_locked (a) FROM STDIN" }).then(() => null, (error: Error) => error);
        // Released after the COPY's timeout (500 ms) but before a ROLLBACK queued behind it would time out,
        // counted from when the COPY waits on the lock (on a loaded machine starting the pool's thread and
        // connecting took longer than the 800 ms, and the COPY began after the COMMIT).
        await expect.poll(async () => (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'copy_batch_locked'::regclass AND NOT granted")).rows[0]!.n, { timeout: 15_000 }).toBe(1);
        await new Promise((r) => setTimeout(r, 800));
        const meanwhile = target.query<{ n: number }>({ text: "SELECT 1 AS n, pg_sleep(0.3)" });
        await admin.query("COMMIT");
        expect(String(await copied)).toMatch(/Query read timeout/);
        expect((await meanwhile).rows[0]!.n).toBe(1);
        await new Promise((r) => setTimeout(r, 300));
        expect(uncaught.map(String)).toEqual([]);
        expect((await target.query<{ n: string }>({ text: "SELECT count(*) AS n FROM copy_batch_locked WHERE a = 'x'" })).rows).toEqual([{ n: "0" }]);
        expect(await copyBatch(target, { data: "y\n", copy: "COPY copy_batch_locked (a) FROM STDIN" })).toEqual({ path: "direct" });
      }
    } finally {
      process.off("uncaughtException", record);
      await admin.query("ROLLBACK").catch(() => {});
      await admin.query("DROP TABLE copy_batch_locked");
      await admin.end();
      await threaded.end();
      await plain.end();
    }
  });

  it("refuses queries once ended", async () => {
    const ended = new ThreadedPool({ connectionString: url, max: 1 });
    await ended.query({ text: "SELECT 1" });
    await ended.end();
    await expect(ended.query({ text: "SELECT 1" })).rejects.toThrow(/ended/);
  });

  it("keeps the process alive while a query is in flight, and not when idle", async () => {
    // A script whose only work left is a query: the process waits for its answer, then exits by itself.
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "threaded-pool-")), "script.mts");
    writeFileSync(file, `
      import { ThreadedPool } from ${JSON.stringify(path.join(process.cwd(), "server", "db", "threadedPool.ts"))};
      const pool = new ThreadedPool({ connectionString: ${JSON.stringify(url)}, max: 1 });
      pool.query({ text: "SELECT pg_sleep(0.8), 'done' AS s" }).then((r) => console.log(r.rows[0].s));`);
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: "done" });
    // Exited soon after the answer: the idle pool's connection did not hold it (the pool's idle timeout is 10 s).
    expect(Date.now() - started).toBeLessThan(8000);
  }, 20_000);
});
