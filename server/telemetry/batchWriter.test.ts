import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchWriter, type BatchSink } from "./batchWriter";
import { SpillFile } from "./spillFile";

interface Row {
  id: string;
  ts: Date;
  n: number;
}

const revive = (raw: { id: string; ts: string; n: number }): Row => ({ ...raw, ts: new Date(raw.ts) });

function rowsFrom(start: number, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => ({ id: `r${start + i}`, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, start + i)), n: start + i }));
}

/** In-memory sink that can be switched to fail like an unreachable database. */
class FakeSink implements BatchSink<Row> {
  failing = false;
  /** When set, decides per call (1-based) whether that call fails; overrides `failing`. */
  failOnCall: ((call: number) => boolean) | null = null;
  calls = 0;
  attemptTimes: number[] = [];
  batches: Row[][] = [];
  private active = 0;
  maxConcurrent = 0;

  async write(rows: Row[]): Promise<void> {
    this.calls++;
    this.attemptTimes.push(Date.now());
    this.active++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.failOnCall ? this.failOnCall(this.calls) : this.failing) throw new Error("database unavailable");
      this.batches.push([...rows]);
    } finally {
      this.active--;
    }
  }

  get rows(): Row[] {
    return this.batches.flat();
  }

  uniqueIds(): number {
    return new Set(this.rows.map((r) => r.id)).size;
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

let dir: string;
let fileCounter = 0;
const spillPath = () => path.join(dir, `spill-${++fileCounter}`, "rerank_requests.jsonl");

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "batch-writer-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writing in batches", () => {
  it("never sends more than maxBatch rows per write and keeps their order", async () => {
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 1000 });
    const rows = rowsFrom(0, 2500);
    for (const row of rows) writer.enqueue(row);
    expect(writer.stats().buffered).toBe(2500);
    await writer.flush();
    expect(sink.batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(sink.rows).toEqual(rows);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 2500, dropped: 0, failures: 0, lastError: null });
  });

  it("enqueue returns before the database is touched", () => {
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 1 });
    writer.start();
    writer.enqueue(rowsFrom(0, 1)[0]!);
    expect(sink.calls).toBe(0);
    return writer.close();
  });

  it("flushes in the background on the timer and as soon as a batch is full", async () => {
    const sink = new FakeSink();
    const slow = new BatchWriter(sink, { name: "t", maxBatch: 100, flushIntervalMs: 20 });
    slow.start();
    for (const row of rowsFrom(0, 5)) slow.enqueue(row);
    await waitFor(() => slow.stats().written === 5, "the interval flush");
    await slow.close();

    const sink2 = new FakeSink();
    // An interval far beyond the test's deadline: only the size trigger can write these rows.
    const full = new BatchWriter(sink2, { name: "t", maxBatch: 100, flushIntervalMs: 60_000 });
    full.start();
    for (const row of rowsFrom(0, 250)) full.enqueue(row);
    await waitFor(() => full.stats().written >= 200, "the size-triggered flush");
    expect(sink2.batches.every((b) => b.length <= 100)).toBe(true);
    await full.close();
    expect(full.stats().written).toBe(250);
  });

  it("runs one write at a time however many flushes are requested", async () => {
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 10 });
    for (const row of rowsFrom(0, 100)) writer.enqueue(row);
    const first = writer.flush();
    // Rows enqueued while a flush runs are covered by a flush requested after them.
    for (const row of rowsFrom(100, 5)) writer.enqueue(row);
    await Promise.all([first, writer.flush(), writer.flush()]);
    expect(sink.maxConcurrent).toBe(1);
    expect(sink.uniqueIds()).toBe(105);
    expect(writer.stats().written).toBe(105);
  });

  it("leaves rows that arrive during a write for the next flush instead of chasing them a few rows a write", async () => {
    // A sink as slow as a real round trip, and a steady stream of rows: before, every write was
    // followed at once by another of the few rows that arrived meanwhile (one batch per round trip).
    class SlowSink extends FakeSink {
      override async write(rows: Row[]): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 10));
        await super.write(rows);
      }
    }
    const sink = new SlowSink();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 1000, flushIntervalMs: 100 });
    writer.start();
    let n = 0;
    const stream = setInterval(() => {
      for (const row of rowsFrom(n, 2)) writer.enqueue(row);
      n += 2;
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(stream);
    await writer.close();
    // About one write per 100 ms interval (timers may fire late on a loaded machine: never more than
    // one per interval plus the final flush); chasing the stream wrote one per ~11 ms round trip.
    expect(sink.calls).toBeLessThanOrEqual(12);
    expect(sink.uniqueIds()).toBe(n);
    expect(sink.rows.map((r) => r.n)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("a flush covers the rows buffered when it was called, and keeps writing while full batches wait", async () => {
    // A sink that hands rows to the writer while its n-th write is in flight.
    class HookedSink extends FakeSink {
      during = new Map<number, () => void>();
      override async write(rows: Row[]): Promise<void> {
        this.during.get(this.calls + 1)?.();
        await super.write(rows);
      }
    }
    const sink = new HookedSink();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 10 });
    for (const row of rowsFrom(0, 5)) writer.enqueue(row);
    sink.during.set(1, () => rowsFrom(5, 3).forEach((row) => writer.enqueue(row)));
    await writer.flush();
    // The 5 rows of the call are written; the 3 that came during the write wait (fewer than maxBatch).
    expect(sink.rows.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    expect(writer.stats().buffered).toBe(3);

    for (const row of rowsFrom(8, 12)) writer.enqueue(row);
    sink.during.set(2, () => rowsFrom(20, 10).forEach((row) => writer.enqueue(row)));
    await writer.flush();
    // 15 buffered at the call; 10 more came during the first write. In order, the 15 go out in two
    // full batches (the second takes 5 of the newcomers along); the 5 left are fewer than a batch: they wait.
    expect(sink.batches.map((b) => b.length)).toEqual([5, 10, 10]);
    expect(sink.rows.map((r) => r.n)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(writer.stats().buffered).toBe(5);
    await writer.flush();
    expect(sink.rows.map((r) => r.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe("when the database is down", () => {
  it("keeps the failed batch in memory, in order, and retries with exponential backoff", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const errors: unknown[] = [];
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 3, flushIntervalMs: 2, retryBaseMs: 20, retryMaxMs: 80, onError: (e) => errors.push(e) });
    const rows = rowsFrom(0, 7);
    for (const row of rows) writer.enqueue(row);

    await expect(writer.flush()).rejects.toThrow("database unavailable");
    expect(writer.stats()).toMatchObject({ buffered: 7, written: 0, failures: 1, lastError: "database unavailable" });

    writer.start();
    await waitFor(() => sink.calls >= 6, "five retries");
    const gaps = sink.attemptTimes.slice(1, 6).map((t, i) => t - sink.attemptTimes[i]!);
    // Ticks every 2 ms, yet attempts are spaced by the backoff: 20, 40, 80, then capped at 80.
    // (1 ms of slack for timer rounding.)
    [20, 40, 80, 80, 80].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 1));
    expect(errors.length).toBe(writer.stats().failures);

    sink.failing = false;
    await waitFor(() => writer.stats().buffered === 0, "recovery");
    expect(sink.rows).toEqual(rows);
    expect(writer.stats()).toMatchObject({ written: 7, dropped: 0 });
    await writer.close();
  });

  it("spills rows beyond maxBuffered to disk and writes them, Dates intact, after recovery", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const file = spillPath();
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 64, maxBuffered: 100, spillPath: file, revive, onError: () => {} });
    const rows = rowsFrom(0, 1000);
    for (const row of rows) writer.enqueue(row);
    expect(writer.stats()).toMatchObject({ buffered: 100, spilledRows: 900, dropped: 0 });

    await expect(writer.flush()).rejects.toThrow();
    await waitFor(async () => (await new SpillFile(file).readAll()).length === 900, "the spill file to hold 900 rows");
    expect(writer.stats().spillBytes).toBe((await stat(file)).size);

    sink.failing = false;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ buffered: 0, spilledRows: 0, spillBytes: 0, written: 1000, dropped: 0 });
    expect(sink.rows.length).toBe(1000);
    expect(sink.uniqueIds()).toBe(1000);
    const byId = new Map(sink.rows.map((r) => [r.id, r]));
    for (const row of rows) expect(byId.get(row.id)).toEqual(row);
    expect(sink.rows.every((r) => r.ts instanceof Date)).toBe(true);
    expect(await exists(file)).toBe(false);
  });

  it("bounds memory in bytes: rows beyond maxBufferedBytes go to the spill file, counted, and are all written after recovery", async () => {
    // Serialised request log rows as the pipeline enqueues them: 10,000 characters each (a long served list).
    const written: string[] = [];
    let failing = true;
    const sink: BatchSink<string> = {
      async write(rows) {
        if (failing) throw new Error("database unavailable");
        written.push(...rows);
      },
    };
    const file = spillPath();
    const bound = 100_000;
    const writer = new BatchWriter<string>(sink, { name: "rerank_requests", maxBufferedBytes: bound, spillPath: file, onError: () => {} });
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ requestId: `big-${i}`, served: "x".repeat(10_000 - 40) }).padEnd(10_000, " "));
    for (const row of rows) writer.enqueue(row);
    // 24 + 10,000 bytes a row (a one-byte string): 9 rows fit in 100,000 bytes, the 41 others wait on disk.
    expect(writer.stats()).toMatchObject({ buffered: 9, bufferedBytes: 9 * 10_024, overflowed: 41, spilledRows: 41, dropped: 0 });
    expect(writer.stats().bufferedBytes).toBeLessThanOrEqual(bound);
    // A row larger than the whole bound never enters memory.
    writer.enqueue("y".repeat(bound));
    expect(writer.stats()).toMatchObject({ buffered: 9, overflowed: 42, spilledRows: 42, dropped: 0 });
    await waitFor(async () => (await new SpillFile(file).readAll()).length === 42, "the spill file to hold 42 rows");

    failing = false;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ buffered: 0, bufferedBytes: 0, spilledRows: 0, written: 51, dropped: 0, overflowed: 42 });
    expect(new Set(written).size).toBe(51);
    expect(written.filter((r) => r.startsWith("{")).sort()).toEqual([...rows].sort());
    // Memory is free again: the next rows are buffered, not spilled.
    writer.enqueue(rows[0]!);
    expect(writer.stats()).toMatchObject({ buffered: 1, bufferedBytes: 10_024, overflowed: 42 });
  });

  it("neither loses nor double-counts spilled rows when the database fails in the middle of draining", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 50, maxBuffered: 20, spillPath: spillPath(), revive, onError: () => {} });
    for (const row of rowsFrom(0, 520)) writer.enqueue(row);
    await expect(writer.flush()).rejects.toThrow();

    // Every third write fails: the drain stops part-way several times and resumes where it stopped.
    sink.failOnCall = (call) => call % 3 === 0;
    await waitFor(async () => {
      await writer.flush().catch(() => {});
      return writer.stats().buffered === 0 && writer.stats().spillBytes === 0;
    }, "the spill to drain");
    expect(writer.stats()).toMatchObject({ written: 520, spilledRows: 0, dropped: 0 });
    expect(sink.rows.length).toBe(520);
    expect(sink.uniqueIds()).toBe(520);
  });

  it("drops and counts overflow when there is no spill file", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const errors: unknown[] = [];
    const writer = new BatchWriter(sink, { name: "rerank_requests", maxBuffered: 10, onError: (e) => errors.push(e) });
    for (const row of rowsFrom(0, 25)) writer.enqueue(row);
    expect(writer.stats()).toMatchObject({ buffered: 10, dropped: 15, spilledRows: 0 });
    // One report for the run of drops, not one per row.
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("rerank_requests: dropping rows");

    sink.failing = false;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 10, dropped: 15 });
  });

  it("drops and counts rows once the spill file reaches maxSpillBytes", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    // Ids r10..r39: every line has the same length.
    const oneLine = Buffer.byteLength(JSON.stringify(rowsFrom(10, 1)[0])) + 1;
    const writer = new BatchWriter(sink, { name: "t", maxBuffered: 5, spillPath: spillPath(), maxSpillBytes: oneLine * 10 + 3, onError: () => {} });
    for (const row of rowsFrom(10, 30)) writer.enqueue(row);
    const stats = writer.stats();
    expect(stats.buffered).toBe(5);
    expect(stats.spilledRows).toBe(10);
    expect(stats.dropped).toBe(15);
    expect(stats.spillBytes).toBeLessThanOrEqual(oneLine * 10 + 3);
    await writer.close();
  });

  it("drops and reports rows that cannot be serialised for the spill", async () => {
    const errors: unknown[] = [];
    const writer = new BatchWriter<unknown>({ write: async () => {} }, { name: "t", maxBuffered: 1, spillPath: spillPath(), onError: (e) => errors.push(e) });
    writer.enqueue({ ok: true });
    writer.enqueue({ big: 1n });
    expect(writer.stats()).toMatchObject({ buffered: 1, spilledRows: 0, dropped: 1 });
    expect(String(errors[0])).toContain("cannot be serialised");
    await writer.close();
  });
});

describe("rows the database refuses", () => {
  it("isolates them by halving the batch, writes every other row once, drops and reports only those", async () => {
    const refused = new Set(["r7", "r42"]);
    const writes: Row[][] = [];
    const sink: BatchSink<Row> = {
      async write(rows) {
        if (rows.some((r) => refused.has(r.id))) throw Object.assign(new Error("invalid byte sequence for encoding \"UTF8\": 0x00"), { code: "22021" });
        writes.push([...rows]);
      },
    };
    const errors: unknown[] = [];
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 64, isRowError: (e) => (e as { code?: string }).code === "22021", onError: (e) => errors.push(e) });
    for (const row of rowsFrom(0, 100)) writer.enqueue(row);
    await writer.flush();
    const written = writes.flat().map((r) => r.id);
    expect(written).toHaveLength(98);
    expect(new Set(written).size).toBe(98);
    expect(written.filter((id) => refused.has(id))).toEqual([]);
    // Order is kept.
    expect(written).toEqual(rowsFrom(0, 100).map((r) => r.id).filter((id) => !refused.has(id)));
    expect(writer.stats()).toMatchObject({ dropped: 2, buffered: 0 });
    // Reported with the database's reason (quoted values masked) and the row's size, never its content.
    const messages = errors.map((e) => (e as Error).message);
    expect(messages).toEqual([
      expect.stringMatching(/^t: dropped a row the database refuses \(Error 22021: invalid byte sequence for encoding "\[4 chars\]": 0x00\): 1 row, \d+ bytes of JSON$/),
      expect.stringMatching(/^t: dropped a row the database refuses/),
    ]);
    for (const message of messages) expect(message).not.toMatch(/r7|r42|"id"/);
    await writer.close();
  });

  it("retries, never drops, when the failure is not about the rows", async () => {
    let down = true;
    const sink: BatchSink<Row> = { async write() { if (down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }); } };
    const writer = new BatchWriter(sink, { name: "t", maxBatch: 10, retryBaseMs: 5, isRowError: (e) => (e as { code?: string }).code === "22021", onError: () => {} });
    for (const row of rowsFrom(0, 30)) writer.enqueue(row);
    await expect(writer.flush()).rejects.toThrow(/ECONNREFUSED/);
    expect(writer.stats()).toMatchObject({ dropped: 0, buffered: 30 });
    down = false;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ dropped: 0, buffered: 0, written: 30 });
    await writer.close();
  });
});

describe("closing and restarting", () => {
  it("close() spills what it cannot write, and a new writer on the same file writes it", async () => {
    const file = spillPath();
    const down = new FakeSink();
    down.failing = true;
    const first = new BatchWriter(down, { name: "t", maxBatch: 20, spillPath: file, onError: () => {} });
    first.start();
    const rows = rowsFrom(0, 50);
    for (const row of rows) first.enqueue(row);
    await first.close();
    expect(first.stats()).toMatchObject({ buffered: 0, spilledRows: 50, written: 0, dropped: 0 });
    expect(first.stats().spillBytes).toBe((await stat(file)).size);
    expect(await new SpillFile(file).readAll()).toHaveLength(50);

    const up = new FakeSink();
    const second = new BatchWriter(up, { name: "t", maxBatch: 20, spillPath: file, revive });
    await waitFor(() => second.stats().spilledRows === 50, "the leftover file to be counted");
    await second.flush();
    expect(up.rows).toEqual(rows);
    expect(second.stats()).toMatchObject({ spilledRows: 0, spillBytes: 0, written: 50, dropped: 0 });
    expect(await exists(file)).toBe(false);
  });

  it("replays a spill file in batches bounded in bytes as the memory buffer is (maxBufferedBytes), not only in rows", async () => {
    // A caller chooses a row's size (1,000 served ids of 256 escaped characters: ~1 MB as a COPY line); a replay
    // batch of maxBatch such rows (1,000) was ~1 GB in one string (past V8's longest string: every retry failed the
    // same way, and every row spilled behind it waited for ever) and in one COPY.
    const file = spillPath();
    const rows = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, "0")}${"\\t".repeat(1000)}`);
    await new SpillFile(file).append(rows);
    const batches: string[][] = [];
    const writer = new BatchWriter<string>({ write: async (batch) => void batches.push([...batch]) }, { name: "t", maxBatch: 1000, maxBufferedBytes: 20_000, spillPath: file });
    await writer.flush();
    expect(batches.flat()).toEqual(rows);
    expect(batches.length).toBeGreaterThan(1);
    // Each batch holds at most maxBufferedBytes of spilled lines (at least one row, however large).
    for (const batch of batches) expect(batch.length === 1 || batch.reduce((n, row) => n + Buffer.byteLength(JSON.stringify(row)) + 1, 0) <= 20_000).toBe(true);
    expect(writer.stats()).toMatchObject({ written: 40, spilledRows: 0, dropped: 0 });
    expect(await exists(file)).toBe(false);
  });

  it("skips, counts and reports a line torn by a crash in a leftover file", async () => {
    const file = spillPath();
    const good = rowsFrom(0, 3);
    await new SpillFile(file).append(good);
    await writeFile(file, '{"id":"r3","ts":"2026-01-01T00:00', { flag: "a" });

    const errors: unknown[] = [];
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", maxBuffered: 1, spillPath: file, revive, onError: (e) => errors.push(e) });
    // Spilled after the torn line: must not be glued onto it.
    for (const row of rowsFrom(10, 2)) writer.enqueue(row);
    await writer.flush();
    expect(sink.rows.map((r) => r.id).sort()).toEqual(["r0", "r1", "r10", "r11", "r2"]);
    expect(writer.stats()).toMatchObject({ written: 5, dropped: 1, spilledRows: 0, spillBytes: 0 });
    expect(String(errors[0])).toContain("unreadable");
  });
});

describe("durable commits (outcome events)", () => {
  it("groups concurrent commits into one sink write and resolves each once the sink acknowledged it", async () => {
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", groupCommitMs: 5 });
    const rows = rowsFrom(0, 40);
    await Promise.all(rows.map((row) => writer.commit([row])));
    expect(sink.calls).toBe(1);
    expect(sink.rows).toEqual(rows);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 40, spilledRows: 0 });
  });

  it("with the database failing, resolves only after the rows are appended to the spill file (fsynced), which the next flush writes", async () => {
    const file = spillPath();
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, groupCommitMs: 1, onError: () => {} });
    const rows = rowsFrom(0, 10);
    await Promise.all([writer.commit(rows.slice(0, 5)), writer.commit(rows.slice(5))]);
    expect(await new SpillFile(file).readAll()).toHaveLength(10);
    expect(writer.stats()).toMatchObject({ spilledRows: 10, written: 0, dropped: 0 });
    sink.failing = false;
    await writer.flush();
    expect(sink.rows).toEqual(rows);
    expect(await exists(file)).toBe(false);
  });

  it("does not wait on a stalled database longer than commitTimeoutMs: the rows go to the spill file and later commits skip the sink during the backoff", async () => {
    const file = spillPath();
    let release: () => void = () => {};
    const stalled: BatchSink<Row> = { write: () => new Promise<void>((resolve) => (release = resolve)) };
    const errors: unknown[] = [];
    const writer = new BatchWriter(stalled, { name: "t", spillPath: file, revive, groupCommitMs: 1, commitTimeoutMs: 50, retryBaseMs: 10_000, onError: (e) => errors.push(e) });
    await writer.commit(rowsFrom(0, 3));
    await writer.commit(rowsFrom(3, 2));
    expect(await new SpillFile(file).readAll()).toHaveLength(5);
    expect(String(errors[0])).toContain("did not acknowledge 3 row(s) within 50 ms");
    expect(errors).toHaveLength(1); // the second commit went straight to disk
    release();
  });

  it("rejects, keeping nothing, when the rows can be kept neither in the database nor in the spill file", async () => {
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", spillPath: spillPath(), maxSpillBytes: 100, groupCommitMs: 1, onError: () => {} });
    await expect(writer.commit(rowsFrom(0, 10))).rejects.toMatchObject({ code: "TELEMETRY_NOT_DURABLE" });
    expect(writer.stats()).toMatchObject({ spilledRows: 0, dropped: 0 });
  });

  it("after close, commits go to the spill file without trying the sink", async () => {
    const file = spillPath();
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, groupCommitMs: 1 });
    await writer.close();
    await writer.commit(rowsFrom(0, 2));
    expect(sink.calls).toBe(0);
    expect(await new SpillFile(file).readAll()).toHaveLength(2);
  });
});

describe("what a killed process can lose", () => {
  it("while the database fails, buffered rows move to the spill file at each flush interval instead of waiting in memory", async () => {
    const file = spillPath();
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, flushIntervalMs: 10, retryBaseMs: 60_000, onError: () => {} });
    writer.start();
    writer.enqueue(rowsFrom(0, 1)[0]!);
    await waitFor(() => sink.calls === 1, "the first failed write");
    for (const row of rowsFrom(1, 20)) writer.enqueue(row);
    await waitFor(async () => (await new SpillFile(file).readAll()).length === 21, "the buffer to reach the spill file");
    expect(writer.stats()).toMatchObject({ buffered: 0, spilledRows: 21 });
    await writer.close();
  });
});

describe("oldestPendingAt: rows enqueued and not yet written", () => {
  it("names the oldest row in memory, in a failed batch and in the spill file, and is null once every row is written", async () => {
    const file = spillPath();
    const sink = new FakeSink();
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, maxBuffered: 3, maxBatch: 2, onError: () => {} });
    expect(writer.oldestPendingAt()).toBeNull();
    const before = Date.now();
    writer.enqueue(rowsFrom(0, 1)[0]!);
    const first = writer.oldestPendingAt()!;
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Later rows, the overflow to the spill file among them, leave the oldest where it was.
    for (const row of rowsFrom(1, 5)) writer.enqueue(row);
    expect(writer.stats()).toMatchObject({ buffered: 3, spilledRows: 3 });
    expect(writer.oldestPendingAt()).toBe(first);
    // A failed write keeps its batch pending.
    sink.failing = true;
    await expect(writer.flush()).rejects.toThrow("database unavailable");
    expect(writer.oldestPendingAt()).toBe(first);
    // The memory buffer written, the spilled rows are still pending: their own time, after the first's.
    sink.failing = false;
    sink.failOnCall = (call) => call > 3; // the buffer's two batches (and the failed one before) pass; the spill's fails
    await expect(writer.flush()).rejects.toThrow("database unavailable");
    expect(writer.stats().buffered).toBe(0);
    const spilled = writer.oldestPendingAt()!;
    expect(spilled).toBeGreaterThan(first);
    sink.failOnCall = null;
    await writer.flush();
    expect(sink.uniqueIds()).toBe(6);
    expect(writer.oldestPendingAt()).toBeNull();
    await writer.close();
  });

  it("rows in a spill file left by an earlier process count as the oldest (0) until they are written", async () => {
    const file = spillPath();
    await new SpillFile(file).appendLines(rowsFrom(0, 3).map((r) => JSON.stringify(r)));
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, onError: () => {} });
    await expect(writer.flush()).rejects.toThrow("database unavailable");
    writer.enqueue(rowsFrom(3, 1)[0]!);
    expect(writer.oldestPendingAt()).toBe(0);
    sink.failing = false;
    await writer.flush();
    expect(sink.uniqueIds()).toBe(4);
    expect(writer.oldestPendingAt()).toBeNull();
    await writer.close();
  });

  it("a row enqueued after close (to the spill file) is pending until a later writer drains it", async () => {
    const file = spillPath();
    const sink = new FakeSink();
    sink.failing = true;
    const writer = new BatchWriter(sink, { name: "t", spillPath: file, revive, onError: () => {} });
    await writer.close();
    writer.enqueue(rowsFrom(0, 1)[0]!);
    expect(writer.oldestPendingAt()).not.toBeNull();
  });
});

describe("commit tells which rows the sink already held", () => {
  it("maps the sink's answer back to each of the commits grouped into one write, and knows none for rows spilled", async () => {
    const stored = new Set<string>(["r1", "r4"]);
    const sink: BatchSink<Row> & { failing: boolean } = {
      failing: false,
      async write(rows) {
        if (this.failing) throw new Error("database unavailable");
        const held = new Set<number>();
        rows.forEach((row, i) => (stored.has(row.id) ? held.add(i) : stored.add(row.id)));
        return held;
      },
    };
    const writer = new BatchWriter(sink, { name: "t", spillPath: spillPath(), revive, groupCommitMs: 20, onError: () => {} });
    const [a, b] = await Promise.all([writer.commit(rowsFrom(0, 3)), writer.commit(rowsFrom(3, 3))]);
    expect([...a.held]).toEqual([1]);
    expect([...b.held]).toEqual([1]);
    sink.failing = true;
    // Durable in the spill file: whether the database held them is not known.
    expect([...(await writer.commit(rowsFrom(0, 2))).held]).toEqual([]);
    await writer.close();
  });
});
