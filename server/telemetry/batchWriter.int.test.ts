import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "../config";
import { errorForLog } from "../redact";
import { TcpProxy, waitFor } from "../testing/tcpProxy";
import { BatchWriter } from "./batchWriter";
import { isDataException, outcomeEventSink, requestLogSink, reviveRequestLogEntry, serialiseRequestLogRow, type OutcomeEventRow, type RequestLogEntry, type RequestLogRow } from "./streams";
import { connectClient } from "../db/pgClient";

// The writer against real PostgreSQL, with the network between them cut and restored by a TCP
// proxy under the test's control: the database stays up, only the writer loses it.

describe("request log writer across a database outage", () => {
  const databaseUrl = env().DATABASE_URL!;
  const runId = `bw-${Date.now().toString(36)}-`;
  const proxy = TcpProxy.forDatabase(databaseUrl);
  let pool: pg.Pool;
  let dir: string;
  let writer: BatchWriter<RequestLogEntry> | undefined;
  let events: BatchWriter<OutcomeEventRow> | undefined;

  /** Directly, not through the proxy: the count must not depend on the link under test. */
  async function countWithPrefix(table: "rerank_requests" | "outcome_events", column: "request_id" | "event_id"): Promise<number> {
    const client = await connectClient({ connectionString: databaseUrl });
    try {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} LIKE $1`, [`${runId}%`]);
      return Number(rows[0]!.n);
    } finally {
      await client.end();
    }
  }
  const countRows = () => countWithPrefix("rerank_requests", "request_id");
  const countEvents = () => countWithPrefix("outcome_events", "event_id");

  const requestTs = new Date();

  function row(i: number): RequestLogRow {
    return {
      requestId: `${runId}${i}`, ts: requestTs, surface: "search", userKey: i % 3 === 0 ? null : `user-${i % 17}`, sessionKey: null,
      context: { query: "lamp" }, experimentKey: null, experimentPhase: null, variantKey: null, exposed: i % 2 === 0,
      modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 20, topK: 10,
      served: [{ id: `item-${i}`, score: 0.5, position: 1, reasons: [] }], timings: { total: 3.25 }, latencyMs: 3.25, defaultedFeatures: 0,
    };
  }

  function event(i: number): OutcomeEventRow {
    return {
      eventId: `${runId}e${i}`, requestTs, requestId: `${runId}${i}`, ts: new Date(), surface: "search", type: i % 5 === 0 ? "purchase" : "click",
      itemId: `item-${i}`, position: 1, revenue: i % 5 === 0 ? 19.99 : null, userKey: null, experimentKey: null, experimentPhase: null, variantKey: null,
    };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "batch-writer-int-"));
    await proxy.open();
    pool = new pg.Pool({ connectionString: proxy.urlFor(databaseUrl), max: 2, connectionTimeoutMillis: 1000, query_timeout: 10_000 });
    // Idle clients whose socket the proxy cuts emit here; without a listener that would crash the run.
    pool.on("error", () => {});
  });

  afterAll(async () => {
    await writer?.close();
    await events?.close();
    await pool?.end();
    await proxy.close();
    const client = await connectClient({ connectionString: databaseUrl });
    await client.query(`DELETE FROM rerank_requests WHERE request_id LIKE $1`, [`${runId}%`]);
    await client.query(`DELETE FROM outcome_events WHERE event_id LIKE $1`, [`${runId}%`]);
    await client.end();
    await rm(dir, { recursive: true, force: true });
  });

  it("buffers and spills requests and outcome events while the database is unreachable, then writes every row exactly once", async () => {
    const errors: unknown[] = [];
    const spillPath = path.join(dir, "spill", "rerank_requests.jsonl");
    events = new BatchWriter(outcomeEventSink(pool), {
      name: "outcome_events", maxBuffered: 500, retryBaseMs: 50, retryMaxMs: 500, spillPath: path.join(dir, "spill", "outcome_events.jsonl"),
      revive: (raw: OutcomeEventRow & { ts: string; requestTs: string }) => ({ ...raw, ts: new Date(raw.ts), requestTs: new Date(raw.requestTs) }),
      onError: () => {},
    });
    writer = new BatchWriter(requestLogSink(pool), {
      name: "rerank_requests",
      maxBatch: 250,
      maxBuffered: 1000,
      flushIntervalMs: 50,
      retryBaseMs: 50,
      retryMaxMs: 500,
      spillPath,
      revive: reviveRequestLogEntry,
      onError: (error) => errors.push(error),
    });
    writer.start();

    // Up: 500 rows go straight through.
    for (let i = 0; i < 500; i++) writer.enqueue(row(i)); // as objects
    await writer.flush();
    expect(await countRows()).toBe(500);
    expect(writer.stats()).toMatchObject({ written: 500, failures: 0 });

    // Down: memory fills to maxBuffered, the rest goes to the spill file at once.
    await proxy.close();
    for (let i = 500; i < 3500; i++) writer.enqueue(i % 2 === 0 ? serialiseRequestLogRow(row(i)) : row(i)); // as the pipeline sends them (strings), and objects
    for (let i = 0; i < 1200; i++) events.enqueue(event(i));
    expect(writer.stats()).toMatchObject({ buffered: 1000, spilledRows: 2000, dropped: 0 });
    await expect(writer.flush()).rejects.toThrow();
    const down = writer.stats();
    expect(down.failures).toBeGreaterThan(0);
    expect(down.lastError).not.toBeNull();
    expect(errors.length).toBeGreaterThan(0);
    // While the writes fail, the memory buffer moves to the spill file at the next flush interval
    // (a killed process then loses at most one interval of rows).
    await waitFor(async () => {
      const onDisk = await stat(spillPath).then((s) => s.size, () => 0);
      return writer!.stats().buffered === 0 && onDisk > 0 && onDisk === writer!.stats().spillBytes;
    }, "the buffered and spilled rows to reach the file");
    expect(writer.stats().spilledRows).toBe(3000);

    // Back up on the same port: the pool reconnects and the writer drains memory and spill.
    await proxy.open();
    await waitFor(async () => {
      await writer!.flush().catch(() => {});
      await events!.flush().catch(() => {});
      const s = writer!.stats();
      const e = events!.stats();
      return s.buffered === 0 && s.spilledRows === 0 && s.spillBytes === 0 && e.buffered === 0 && e.spilledRows === 0;
    }, "the buffer and the spill to drain");
    expect(await countEvents()).toBe(1200);
    expect(events.stats()).toMatchObject({ written: 1200, dropped: 0 });

    expect(await countRows()).toBe(3500);
    expect(writer.stats()).toMatchObject({ written: 3500, dropped: 0, buffered: 0, spilledRows: 0 });
    expect(await stat(spillPath).then(() => true, () => false)).toBe(false);
    await writer.close();
  });

  it("a row PostgreSQL refuses (a NUL character) is dropped and counted alone; the rest of its batch is written", async () => {
    const errors: unknown[] = [];
    const direct = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const refusing = new BatchWriter(requestLogSink(direct), { name: "rerank_requests", maxBatch: 50, isRowError: isDataException, onError: (e) => errors.push(e) });
    const rows = Array.from({ length: 40 }, (_, i) => row(10_000 + i));
    rows[13] = { ...rows[13]!, userKey: "nul\u0000user" };
    const before = await countRows();
    for (const r of rows) refusing.enqueue(r);
    await refusing.flush();
    expect((await countRows()) - before).toBe(39);
    expect(refusing.stats()).toMatchObject({ dropped: 1, buffered: 0 });
    expect(String((errors[0] as Error).message)).toMatch(/dropped a row the database refuses \(.*22\w{3}: .*\): 1 row, \d+ bytes of JSON$/);
    // What the default handler prints: the database's reason, not the row, its user key or PostgreSQL's quote of the data.
    // (COPY's text format carries the NUL as the escape \000, which PostgreSQL refuses as it refused JSON's \u0000: server/domain/copyText.ts.)
    expect(errorForLog(errors[0])).toMatch(/^Error: rerank_requests: dropped a row the database refuses \(error 22021: invalid byte sequence for encoding .*: 0x00\)/);
    expect(errorForLog(errors[0])).not.toMatch(/nul.user|COPY rerank_requests|10013/);
    await refusing.close();
    await direct.end();
  });
});
