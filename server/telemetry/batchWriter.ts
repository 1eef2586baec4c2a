import { heapBytes, stringBytes } from "../domain/memory/heapBytes";
import { errorForLog, redactMessage, rowsForLog } from "../redact";
import { SpillFile } from "./spillFile";
import { withDeadline } from "../domain/time/deadline";

// Buffers telemetry rows (served requests, outcome events) in memory and writes them to the
// database in batches, off the response path. Memory is bounded by maxBufferedBytes (the rows' heap
// size, estimated) and by maxBuffered rows; beyond either (the database down or slower than the
// traffic) the overflow goes to a JSONL spill file on disk (bounded by maxSpillBytes), counted in
// stats().overflowed, and is written once the database is back. A row that can be neither buffered nor spilled is counted in
// stats().dropped and reported through onError: rows are never lost silently.
//
// Two ways in:
// - enqueue(row): synchronous, for rows that may be lost with the process (the request log): a
//   SIGKILL loses what is in memory, at most about one flush interval of rows, because while the
//   database fails the buffer is moved to the spill file at every flush interval.
// - commit(rows): resolves only once the rows are durable (outcome events, whose acknowledgement
//   promises that): written by the sink, or appended to the spill file and fsynced. Concurrent
//   commits are grouped into one write (group commit, as PostgreSQL does with its WAL).

/** The background flush interval's default (ms); the streams take TELEMETRY_FLUSH_INTERVAL_MS (server/config.ts, 200 by default). The request rows a SIGKILL may lose are those of about one interval. */
export const DEFAULT_FLUSH_INTERVAL_MS = 200;

export interface BatchSink<T> {
  /**
   * Writes one batch; throws when the database is unavailable. Must be idempotent (rows carry their
   * own ids; the SQL uses ON CONFLICT DO NOTHING, or COPY with a fallback to it on a unique violation). May resolve with the indices (in `rows`) of the
   * rows it already held, written before (a replay, or a retry through another process): commit()
   * passes them on, so a caller can tell a duplicate from a new row.
   */
  write(rows: T[]): Promise<void | ReadonlySet<number>>;
}

/** What commit() knows of its rows once they are durable. */
export interface CommitResult {
  /** Indices (in the committed rows) the sink said it already held; empty when it did not say, or the rows went to the spill file. */
  held: ReadonlySet<number>;
}

const NONE_HELD: ReadonlySet<number> = new Set();

export interface BatchWriterOptions<T = unknown> {
  /** e.g. "rerank_requests"; used in messages. */
  name: string;
  /** Rows per sink.write call. Default 1000. */
  maxBatch?: number;
  /** Interval of the background flush started by start(). Default DEFAULT_FLUSH_INTERVAL_MS (200). */
  flushIntervalMs?: number;
  /** In-memory bound, default 50_000 rows; beyond it rows go to the spill file. */
  maxBuffered?: number;
  /**
   * In-memory bound in bytes (rows' heap size as rowBytes estimates it), default 64 MiB; beyond it
   * rows go to the spill file, as beyond maxBuffered. A row's size is the caller's to choose (a
   * 1,000-candidate request logs its whole served list), so rows alone would not bound memory.
   */
  maxBufferedBytes?: number;
  /** Estimated heap bytes of a row. Default: stringBytes for strings (serialised rows), else heapBytes. */
  rowBytes?: (row: T) => number;
  /** JSONL file; default null = no spill (then overflow is dropped and counted). */
  spillPath?: string | null;
  /** Default 512 MiB; beyond it rows are dropped and counted. */
  maxSpillBytes?: number;
  /** Backoff after a failed write, default 250, doubling up to retryMaxMs. */
  retryBaseMs?: number;
  /** Upper bound of the backoff, default 10_000. */
  retryMaxMs?: number;
  /** Rebuilds a row read back from the spill file (e.g. turns ISO strings into Dates). Default: the parsed JSON as is. */
  revive?: (row: any) => T; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON has no static type
  /**
   * Whether a write failure is about the rows themselves (e.g. PostgreSQL's data exceptions, SQLSTATE
   * class 22), so retrying the same batch can never succeed. Such a batch is split in halves until
   * the refused rows stand alone; those are dropped, counted and reported, and every other row is
   * written. Anything else (the database is down, a timeout) is retried with backoff. Default: never.
   */
  isRowError?: (error: unknown) => boolean;
  /**
   * Group commit of commit(): rows committed within this many ms share one sink write (or one
   * append + fsync of the spill file). Default 2.
   */
  groupCommitMs?: number;
  /**
   * How long commit() waits for the sink before it makes the rows durable in the spill file
   * instead (a stalled database must not hold acknowledgements). Default 1000.
   */
  commitTimeoutMs?: number;
  /** Sink failures, spill I/O errors, unreadable spilled rows, and the start of each run of dropped rows (never a row's content). Default: console.error of errorForLog. */
  onError?: (error: unknown) => void;
}

export interface WriterStats {
  /** Rows in memory, including a batch being written. */
  buffered: number;
  /** Estimated heap bytes of the rows in `buffered` (enqueued rows; commits waiting are not counted). */
  bufferedBytes: number;
  /** Rows sent to the spill file because the memory buffer was full (maxBuffered or maxBufferedBytes), since start. */
  overflowed: number;
  /** Rows in the spill file not yet written, plus rows waiting to be appended to it. */
  spilledRows: number;
  /** Spill file size plus bytes waiting to be appended. */
  spillBytes: number;
  /** Rows acknowledged by the sink. */
  written: number;
  /** Rows lost: no room in memory nor in the spill, unserialisable, or unreadable from the spill. */
  dropped: number;
  /** Failed sink.write calls. */
  failures: number;
  lastError: string | null;
}

const MiB = 1024 * 1024;
/** Runs of spilled lines kept apart for oldestPendingAt (beyond it, new runs join the last). */
const MAX_SPILL_RUNS = 1024;

export class BatchWriter<T> {
  private readonly sink: BatchSink<T>;
  private readonly name: string;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly maxBufferedBytes: number;
  private readonly rowBytes: (row: T) => number;
  private readonly maxSpillBytes: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly revive: (row: unknown) => T;
  private readonly onError: (error: unknown) => void;
  private readonly isRowError: (error: unknown) => boolean;
  private readonly groupCommitMs: number;
  private readonly commitTimeoutMs: number;

  private buffer: T[] = [];
  /** rowBytes of each buffered row, index-aligned with buffer. */
  private bufferSizes: number[] = [];
  /** When each buffered row was enqueued (epoch ms), index-aligned with buffer: oldestPendingAt(). */
  private bufferTimes: number[] = [];
  private bufferedBytes = 0;
  private overflowed = 0;
  private written = 0;
  private dropped = 0;
  private failures = 0;
  private lastError: string | null = null;
  private consecutiveFailures = 0;
  private backoffUntil = 0;
  private droppingReported = false;

  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private sizeTriggerScheduled = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  private readonly spill: SpillFile | null;
  /** Every append/clear of the spill file runs on this chain, one at a time and in order. */
  private spillChain: Promise<void> = Promise.resolve();
  private readonly spillReady: Promise<void>;
  private pendingLines: string[] = [];
  private pendingBytes = 0;
  private appendingBytes = 0;
  private appendScheduled = false;
  private spillRows = 0;
  /** Byte offset up to which the spill file has been written to the sink (so a retry after a failed batch never re-counts rows). */
  private drainOffset = 0;
  /** Bytes of durable commits on their way to the spill file (counted against maxSpillBytes). */
  private committingBytes = 0;
  /**
   * The spill file's lines not yet written to the sink, in file order, as runs of lines with the
   * earliest time one of them was handed to the writer (0: a file left by an earlier process, whose
   * rows' times are unknown); `openRun` is the rows waiting for their append. oldestPendingAt().
   */
  private spillRuns: Array<{ lines: number; since: number }> = [];
  private openRun: { lines: number; since: number } | null = null;

  private commitQueue: Array<{ rows: T[]; resolve: (result: CommitResult) => void; reject: (error: unknown) => void }> = [];
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;

  constructor(sink: BatchSink<T>, options: BatchWriterOptions<T>) {
    this.sink = sink;
    this.name = options.name;
    this.maxBatch = positive(options.maxBatch ?? 1000, "maxBatch");
    this.flushIntervalMs = positive(options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, "flushIntervalMs");
    this.maxBuffered = positive(options.maxBuffered ?? 50_000, "maxBuffered");
    this.maxBufferedBytes = positive(options.maxBufferedBytes ?? 64 * MiB, "maxBufferedBytes");
    this.rowBytes = options.rowBytes ?? ((row) => (typeof row === "string" ? stringBytes(row) : heapBytes(row)));
    this.maxSpillBytes = positive(options.maxSpillBytes ?? 512 * MiB, "maxSpillBytes");
    this.retryBaseMs = positive(options.retryBaseMs ?? 250, "retryBaseMs");
    this.retryMaxMs = Math.max(this.retryBaseMs, options.retryMaxMs ?? 10_000);
    this.revive = options.revive ?? ((row) => row as T);
    this.onError = options.onError ?? ((error) => console.error(`[telemetry:${this.name}] ${errorForLog(error)}`));
    this.isRowError = options.isRowError ?? (() => false);
    this.groupCommitMs = Math.max(0, options.groupCommitMs ?? 2);
    this.commitTimeoutMs = positive(options.commitTimeoutMs ?? 1000, "commitTimeoutMs");
    this.spill = options.spillPath ? new SpillFile(options.spillPath) : null;
    // A file left by an earlier process is counted now and drained by the next successful flush.
    this.spillReady = this.spill ? this.onSpillChain(() => this.loadSpill()) : Promise.resolve();
  }

  /** Synchronous, O(1): never awaits the database. */
  enqueue(row: T): void {
    const now = Date.now();
    if (this.closed) return this.toSpill(row, now);
    const bytes = this.rowBytes(row);
    if (this.buffer.length < this.maxBuffered && this.bufferedBytes + bytes <= this.maxBufferedBytes) {
      this.buffer.push(row);
      this.bufferSizes.push(bytes);
      this.bufferTimes.push(now);
      this.bufferedBytes += bytes;
      this.droppingReported = false;
      if (this.started && this.buffer.length >= this.maxBatch) this.scheduleSizeTrigger();
      return;
    }
    // The memory bound is reached: the row waits on disk instead (never dropped while the spill has room).
    this.overflowed++;
    this.toSpill(row, now);
  }

  /**
   * When the oldest row handed to enqueue() that is not yet written by the sink was enqueued (epoch
   * ms; 0 for rows in a spill file left by an earlier process), or null when every enqueued row is
   * written (or dropped). Rows in memory, in a batch being written and in the spill file all count;
   * O(1) but for the spill's runs of lines (one per append). Outcome events ask it of the request
   * log: an event whose request is neither recent nor in the database may refer to such a row.
   */
  oldestPendingAt(): number | null {
    let oldest = this.bufferTimes.length > 0 ? this.bufferTimes[0]! : Infinity;
    for (const run of this.spillRuns) oldest = Math.min(oldest, run.since);
    if (this.openRun) oldest = Math.min(oldest, this.openRun.since);
    return oldest === Infinity ? null : oldest;
  }

  /**
   * Resolves once `rows` are durable: acknowledged by the sink, or appended to the spill file and
   * fsynced (the database failing, in backoff, slower than commitTimeoutMs, or the writer closed).
   * Rejects only when neither is possible (the spill file is full or cannot be written): then the
   * rows are not kept and the caller must not acknowledge them. Commits arriving within
   * groupCommitMs, or while a commit runs, share the next sink write or fsync. Resolves with the
   * rows the sink said it already held (CommitResult.held).
   */
  commit(rows: T[]): Promise<CommitResult> {
    if (rows.length === 0) return Promise.resolve({ held: NONE_HELD });
    return new Promise((resolve, reject) => {
      this.commitQueue.push({ rows, resolve, reject });
      this.scheduleCommit();
    });
  }

  /**
   * Writes everything buffered (and spilled) now, ignoring any backoff; resolves when done or
   * rejects with the sink's error if it is still failing. A call during a flush waits for it and
   * then runs one more pass, so rows enqueued before the call are always covered.
   */
  flush(): Promise<void> {
    if (!this.running) {
      this.running = this.runFlush().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => {})
      .then(() => {
        this.queued = null;
        return this.flush();
      });
    return this.queued;
  }

  stats(): WriterStats {
    return {
      buffered: this.buffer.length + this.commitQueue.reduce((n, c) => n + c.rows.length, 0),
      bufferedBytes: this.bufferedBytes,
      overflowed: this.overflowed,
      spilledRows: this.spillRows,
      spillBytes: this.spillUsage(),
      written: this.written,
      dropped: this.dropped,
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  /** Starts background flushing: every flushIntervalMs, and soon after the buffer reaches maxBatch. Both respect the backoff. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.timer = setInterval(() => this.autoFlush(), this.flushIntervalMs);
    // Telemetry must never keep the process alive on its own.
    this.timer.unref();
    if (this.buffer.length >= this.maxBatch) this.scheduleSizeTrigger();
  }

  /** Stops the timer, tries a final flush; whatever cannot be written is spilled (never lost silently). */
  close(): Promise<void> {
    this.closing ??= this.runClose();
    return this.closing;
  }

  private async runClose(): Promise<void> {
    // From here on enqueue sends rows to the spill: nothing would flush the memory buffer again.
    this.closed = true;
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.flush();
    } catch {
      // Already reported through onError; the rows left in memory are spilled below.
    }
    const times = this.bufferTimes;
    const left = this.takeBuffer();
    left.forEach((row, i) => this.toSpill(row, times[i] ?? Date.now()));
    // Commits still queued go to the spill file (closed: no sink write); one running finishes.
    await this.settleCommits();
    await this.spillChain;
  }

  private async settleCommits(): Promise<void> {
    while (this.committing || this.commitQueue.length > 0) {
      if (this.commitTimer) clearTimeout(this.commitTimer);
      this.commitTimer = null;
      if (!this.committing) this.startCommit();
      await this.committing;
    }
  }

  private autoFlush(): void {
    if (this.running || this.closed) return;
    if (Date.now() < this.backoffUntil) {
      // While the database fails, rows wait on disk rather than in memory, so a killed process
      // loses at most the rows of one flush interval.
      if (this.spill && this.buffer.length > 0) this.spillBuffer();
      return;
    }
    if (this.buffer.length === 0 && !this.hasSpilled()) return;
    // Errors are reported through onError; the next tick after the backoff retries.
    this.flush().catch(() => {});
  }

  private spillBuffer(): void {
    const times = this.bufferTimes;
    this.takeBuffer().forEach((row, i) => this.toSpill(row, times[i] ?? Date.now()));
  }

  /** Empties the memory buffer and returns its rows. */
  private takeBuffer(): T[] {
    const rows = this.buffer;
    this.buffer = [];
    this.bufferSizes = [];
    this.bufferTimes = [];
    this.bufferedBytes = 0;
    return rows;
  }

  private scheduleCommit(): void {
    if (this.committing || this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      this.startCommit();
    }, this.groupCommitMs);
  }

  private startCommit(): void {
    this.committing = this.runCommit().finally(() => {
      this.committing = null;
      if (this.commitQueue.length > 0) this.scheduleCommit();
    });
  }

  /** One group commit: every queued commit's rows in one sink write per maxBatch, else one fsynced spill append. */
  private async runCommit(): Promise<void> {
    const group = this.commitQueue;
    this.commitQueue = [];
    if (group.length === 0) return;
    const rows = group.flatMap((c) => c.rows);
    // Indices in `rows` the sink already held.
    const held = new Set<number>();
    try {
      await this.spillReady;
      let written = 0;
      if (!this.closed && Date.now() >= this.backoffUntil) {
        try {
          for (; written < rows.length; written += this.maxBatch) {
            const before = await this.writeWithin(rows.slice(written, written + this.maxBatch), this.commitTimeoutMs);
            for (const i of before ?? []) held.add(written + i);
          }
        } catch {
          // Reported by writeBatch (or the timeout below); the rest is made durable on disk.
        }
      }
      if (written < rows.length) await this.spillDurable(rows.slice(written));
      let offset = 0;
      for (const c of group) {
        const own = new Set<number>();
        for (let i = 0; i < c.rows.length; i++) if (held.has(offset + i)) own.add(i);
        offset += c.rows.length;
        c.resolve({ held: own });
      }
    } catch (error) {
      for (const c of group) c.reject(error);
    }
  }

  /** A sink write that gives up waiting after `ms` (the write may still land later: sinks are idempotent, so a spilled copy replays as nothing). */
  private async writeWithin(rows: T[], ms: number): Promise<ReadonlySet<number> | void> {
    return withDeadline(this.writeBatch(rows), ms, () => {
      const error = new Error(`${this.name}: the database did not acknowledge ${rows.length} row(s) within ${ms} ms; they are kept in the spill file`);
      // Later commits go straight to disk until the backoff ends.
      this.failures++;
      this.consecutiveFailures++;
      this.backoffUntil = Date.now() + Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(this.consecutiveFailures - 1, 30));
      this.report(error);
      throw error;
    });
  }

  /** Appends rows to the spill file and fsyncs it; throws (rows not kept) when the file is full or fails. */
  private async spillDurable(rows: T[]): Promise<void> {
    if (!this.spill) throw notDurable(`${this.name}: cannot keep ${rows.length} row(s): the database is unavailable and no spill file is configured`);
    const lines = rows.map((row) => JSON.stringify(row));
    const bytes = lines.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
    if (this.spillUsage() + bytes > this.maxSpillBytes) {
      throw notDurable(`${this.name}: cannot keep ${rows.length} row(s): the database is unavailable and the spill file is full (maxSpillBytes ${this.maxSpillBytes})`);
    }
    const spill = this.spill;
    this.committingBytes += bytes;
    this.spillRows += lines.length;
    const run = { lines: lines.length, since: Date.now() };
    try {
      await this.onSpillChain(() => {
        // Runs are pushed in the chain's order, which is the file's.
        this.pushRun(run);
        return spill.appendLines(lines, { sync: true });
      });
    } catch (error) {
      this.dropRun(run);
      this.spillRows = Math.max(0, this.spillRows - lines.length);
      const failure = notDurable(`${this.name}: cannot append ${lines.length} row(s) to the spill file ${spill.path}`, error);
      this.report(failure);
      throw failure;
    } finally {
      this.committingBytes -= bytes;
    }
  }

  private scheduleSizeTrigger(): void {
    if (this.sizeTriggerScheduled || this.running) return;
    this.sizeTriggerScheduled = true;
    // Deferred so that enqueue returns at once; a burst of enqueues schedules one flush.
    setImmediate(() => {
      this.sizeTriggerScheduled = false;
      if (this.started) this.autoFlush();
    });
  }

  /**
   * Writes the rows buffered when it was called, then the spill file. Rows enqueued while it writes
   * wait for the next flush (the interval, the size trigger, or a flush() called after them) unless a
   * full batch (maxBatch) has built up: chasing them would write a batch per round trip, a few rows
   * each, whose fixed cost (a transaction, a message to the database thread, a commit) then
   * outweighs the rows' own (counted in one process at 1,000 req/s: ~80 request-log batches a second
   * of one to ten rows each before this, ~5 after; the README's "A batch per flush interval").
   */
  private async runFlush(): Promise<void> {
    let covered = this.buffer.length;
    await this.spillReady;
    for (;;) {
      if (this.buffer.length > 0 && (covered > 0 || this.buffer.length >= this.maxBatch)) {
        const count = Math.min(this.maxBatch, this.buffer.length);
        covered = Math.max(0, covered - count);
        // The batch stays at the front of the buffer until the sink acknowledges it, so a failure
        // keeps it (order preserved) and it still counts against maxBuffered. enqueue only appends
        // at the back, so the front is unchanged when the write returns.
        await this.writeBatch(this.buffer.slice(0, count));
        this.buffer.splice(0, count);
        this.bufferTimes.splice(0, count);
        for (const bytes of this.bufferSizes.splice(0, count)) this.bufferedBytes -= bytes;
        continue;
      }
      if (this.spill && this.hasSpilled() && (await this.drainSpillBatch(this.spill))) continue;
      return;
    }
  }

  /** Writes the next batch of spilled rows. Returns false once the spill is empty (and removed). */
  private async drainSpillBatch(spill: SpillFile): Promise<boolean> {
    // Reads run on the spill chain too: after any append already queued (so pending rows are on
    // disk), and never beside an append that might fail and cut the file back under the reader.
    const { batch, cleared } = await this.onSpillChain(async () => {
      // Bounded in bytes as the memory buffer is: a caller chooses a row's size, so maxBatch rows of a
      // spill file could make one batch (one string, one COPY) of any size.
      const next = await spill.readBatch(this.drainOffset, this.maxBatch, this.maxBufferedBytes).catch((error: unknown) => {
        this.report(new Error(`${this.name}: cannot read the spill file ${spill.path}`, { cause: error }));
        throw error;
      });
      if (next.lines > 0 || this.pendingLines.length > 0) return { batch: next, cleared: false };
      // Everything was written: remove the file. A tail without "\n" (a failed append whose
      // rows were already counted as dropped) goes with it.
      await spill.clear().catch((error: unknown) => {
        this.report(new Error(`${this.name}: cannot remove the drained spill file ${spill.path}`, { cause: error }));
        throw error;
      });
      this.drainOffset = 0;
      this.spillRows = 0;
      this.spillRuns = [];
      return { batch: next, cleared: true };
    });
    if (cleared) return false;
    if (batch.lines === 0) return true; // rows arrived meanwhile; their append is queued
    const rows: T[] = [];
    let unreadable = batch.invalid;
    let reviveError: unknown = null;
    for (const raw of batch.rows) {
      try {
        rows.push(this.revive(raw));
      } catch (error) {
        unreadable++;
        reviveError ??= error;
      }
    }
    if (rows.length > 0) await this.writeBatch(rows);
    // Committed only after the sink acknowledged the batch: a failure above re-reads the same lines.
    this.drainOffset = batch.end;
    this.spillRows = Math.max(0, this.spillRows - batch.lines);
    this.consumeRuns(batch.lines);
    if (unreadable > 0) {
      this.dropped += unreadable;
      this.report(new Error(`${this.name}: dropped ${unreadable} unreadable row(s) from the spill file ${spill.path}`, { cause: reviveError ?? undefined }));
    }
    return true;
  }

  /** Writes a batch (a refused row alone is dropped); resolves with the rows the sink said it already held. */
  private async writeBatch(rows: T[]): Promise<ReadonlySet<number> | void> {
    let held: ReadonlySet<number> | void;
    try {
      held = await this.sink.write(rows);
    } catch (error) {
      if (this.isRowError(error)) return this.isolateRefusedRows(rows, error);
      this.failures++;
      this.consecutiveFailures++;
      const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(this.consecutiveFailures - 1, 30));
      this.backoffUntil = Date.now() + delay;
      this.report(error);
      throw error;
    }
    this.consecutiveFailures = 0;
    this.backoffUntil = 0;
    this.written += rows.length;
    return held;
  }

  /** A batch refused for its data: halves are written on their own until each refused row is alone. */
  private async isolateRefusedRows(rows: T[], error: unknown): Promise<void> {
    if (rows.length === 1) {
      this.dropped++;
      // The row itself carries user keys and request data: the log gets its size, not its content.
      this.report(new Error(`${this.name}: dropped a row the database refuses (${errorForLog(error, { stack: false })}): ${rowsForLog(rows)}`));
      return;
    }
    const half = rows.length >> 1;
    await this.writeBatch(rows.slice(0, half));
    await this.writeBatch(rows.slice(half));
  }

  /** The spill file's first `lines` lines were written to the sink: their runs are no longer pending. */
  private consumeRuns(lines: number): void {
    while (lines > 0 && this.spillRuns.length > 0) {
      const run = this.spillRuns[0]!;
      const taken = Math.min(lines, run.lines);
      run.lines -= taken;
      lines -= taken;
      if (run.lines === 0) this.spillRuns.shift();
    }
  }

  /**
   * Appends a run of lines to the spill's runs; past MAX_SPILL_RUNS (a long outage, one append per
   * tick) it joins the last one instead, keeping the earlier time: oldestPendingAt may then say a
   * row is pending a little longer, never shorter.
   */
  private pushRun(run: { lines: number; since: number }): void {
    const last = this.spillRuns.at(-1);
    if (last && this.spillRuns.length >= MAX_SPILL_RUNS) {
      last.lines += run.lines;
      last.since = Math.min(last.since, run.since);
    } else this.spillRuns.push(run);
  }

  /** A run whose append failed: its rows are counted as dropped, not pending. */
  private dropRun(run: { lines: number; since: number }): void {
    const at = this.spillRuns.lastIndexOf(run);
    if (at >= 0) this.spillRuns.splice(at, 1);
  }

  /** The overflow path of enqueue (and close): spill the row, or drop and count it. `since`: when it was enqueued (oldestPendingAt). */
  private toSpill(row: T, since: number = Date.now()): void {
    if (!this.spill) return this.drop(1, "the memory buffer is full and no spill file is configured");
    let line: string | undefined;
    try {
      // Serialised now: the sync size check needs the byte count, and later mutation of the row
      // by the caller must not change what was logged.
      line = JSON.stringify(row);
    } catch (error) {
      this.dropped++;
      this.report(new Error(`${this.name}: dropped a row that cannot be serialised to JSON`, { cause: error }));
      return;
    }
    if (line === undefined) return this.drop(1, "a row serialised to nothing (undefined or a function)");
    const bytes = Buffer.byteLength(line) + 1;
    if (this.spillUsage() + bytes > this.maxSpillBytes) return this.drop(1, `the spill file is full (maxSpillBytes ${this.maxSpillBytes})`);
    this.pendingLines.push(line);
    this.pendingBytes += bytes;
    this.spillRows++;
    if (this.openRun) {
      this.openRun.lines++;
      this.openRun.since = Math.min(this.openRun.since, since);
    } else this.openRun = { lines: 1, since };
    this.droppingReported = false;
    if (!this.appendScheduled) {
      this.appendScheduled = true;
      this.onSpillChain(() => this.appendPending()).catch(() => {});
    }
  }

  private async appendPending(): Promise<void> {
    this.appendScheduled = false;
    const spill = this.spill!;
    const lines = this.pendingLines;
    this.pendingLines = [];
    this.appendingBytes = this.pendingBytes;
    this.pendingBytes = 0;
    const run = this.openRun;
    this.openRun = null;
    if (run) this.pushRun(run);
    try {
      await spill.appendLines(lines);
    } catch (error) {
      if (run) this.dropRun(run);
      this.spillRows = Math.max(0, this.spillRows - lines.length);
      this.dropped += lines.length;
      this.report(new Error(`${this.name}: dropped ${lines.length} row(s): cannot append to the spill file ${spill.path}`, { cause: error }));
    } finally {
      this.appendingBytes = 0;
    }
  }

  private async loadSpill(): Promise<void> {
    const spill = this.spill!;
    try {
      const { lines } = await spill.open();
      this.spillRows += lines;
      // Rows of an earlier process: when they were served is not known here, so they are the oldest.
      if (lines > 0) this.spillRuns.unshift({ lines, since: 0 });
    } catch (error) {
      this.report(new Error(`${this.name}: cannot read the spill file ${spill.path} left by an earlier run`, { cause: error }));
    }
  }

  private onSpillChain<R>(task: () => Promise<R>): Promise<R> {
    const result = this.spillChain.then(task);
    this.spillChain = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /** Rows to drain, or a drained file still to remove. */
  private hasSpilled(): boolean {
    return this.spillRows > 0 || this.spillUsage() > 0;
  }

  private spillUsage(): number {
    return (this.spill?.sizeBytes() ?? 0) + this.pendingBytes + this.appendingBytes + this.committingBytes;
  }

  private drop(count: number, reason: string): void {
    this.dropped += count;
    // One report per run of drops, not one per row: the count is in stats().dropped.
    if (this.droppingReported) return;
    this.droppingReported = true;
    this.report(new Error(`${this.name}: dropping rows: ${reason}`));
  }

  private report(error: unknown): void {
    this.lastError = redactMessage(error instanceof Error ? error.message : String(error));
    try {
      this.onError(error);
    } catch {
      // A throwing handler must not break the writer.
    }
  }
}

/** commit() could keep the rows neither in the database nor on disk: the service is unavailable (503), the caller retries. */
export const NOT_DURABLE = "TELEMETRY_NOT_DURABLE";
const notDurable = (message: string, cause?: unknown) => Object.assign(new Error(message, { cause }), { code: NOT_DURABLE });

function positive(value: number, option: string): number {
  if (!(value > 0)) throw new RangeError(`BatchWriter: ${option} must be > 0 (got ${value})`);
  return value;
}
