import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type pg from "pg";
import { runCopyBatch, type CopyBatch, type CopyBatchResult } from "./copyBatch.mjs";

export type { CopyBatch, CopyBatchResult, CopyStatement, CopySteps } from "./copyBatch.mjs";

/**
 * What a sink needs of a pool: one query at a time, a COPY batch, and an end. pg.Pool and
 * ThreadedPool both are one: ThreadedPool runs copyBatch in its thread; a pool without the method
 * (pg.Pool) gets it from copyBatch() below, on one of its connections.
 */
export interface Queryable {
  query<R = Record<string, unknown>>(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: R[] }>;
  copyBatch?(batch: CopyBatch): Promise<CopyBatchResult>;
  end(): Promise<void>;
}

/**
 * Writes one batch with COPY in a transaction (server/db/copyBatch.mjs): through the pool's own
 * copyBatch (ThreadedPool: in its thread), else on a connection of a pg.Pool. Rejects with
 * PostgreSQL's error, its SQLSTATE in `code`.
 */
export function copyBatch(pool: Queryable, batch: CopyBatch): Promise<CopyBatchResult> {
  if (pool.copyBatch) return pool.copyBatch(batch);
  const connectable = pool as Partial<Pick<pg.Pool, "connect">>;
  if (typeof connectable.connect !== "function") return Promise.reject(new TypeError("copyBatch: the pool has neither copyBatch() nor connect()"));
  return runCopyBatch(connectable as Pick<pg.Pool, "connect">, batch);
}

const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "db", "pgThreadWorker.mjs"));

/** The settings a threaded pool passes to its thread's pg.Pool (plain data: it crosses to the thread). */
export type ThreadedPoolConfig = Pick<pg.PoolConfig, "connectionString" | "max" | "connectionTimeoutMillis" | "query_timeout" | "idleTimeoutMillis" | "options">;

interface Pending {
  resolve: (result: { rows: never[]; result?: unknown }) => void;
  reject: (error: Error) => void;
}

/**
 * A pg.Pool in a worker thread of its own (server/db/pgThreadWorker.mjs): `query` posts the query
 * there and resolves with its rows, so the driver's CPU (encoding, socket writes, parsing answers)
 * is not spent on the event loop that serves requests. For the telemetry writers, whose batches are
 * large and whose answers are small; values must survive structured cloning (strings, numbers,
 * Dates, arrays of them).
 *
 * Errors come back as Errors with PostgreSQL's `code` (SQLSTATE) when it gave one, so a caller can tell
 * a row it refused (class 22) from an outage. The thread keeps the process alive only while a query
 * is in flight (a write during shutdown finishes; an idle pool does not hold the process). If the
 * thread dies, its queries in flight fail and the next query starts a new one.
 */
export class ThreadedPool implements Queryable {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended = false;

  constructor(private readonly config: ThreadedPoolConfig) {}

  query<R = Record<string, unknown>>(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: R[] }> {
    if (this.ended) return Promise.reject(new Error("the pool has ended"));
    return this.post({ name: config.name, text: config.text, values: config.values }) as Promise<{ rows: R[] }>;
  }

  /** Runs a COPY batch in the thread (server/db/copyBatch.mjs); the data crosses as one string. */
  async copyBatch(batch: CopyBatch): Promise<CopyBatchResult> {
    if (this.ended) throw new Error("the pool has ended");
    return (await this.post({ copyBatch: batch })).result as CopyBatchResult;
  }

  /** Ends the thread's pool (waiting for its queries), then the thread. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (!this.worker) return;
    const worker = this.worker;
    await this.post({ end: true }).catch(() => {});
    await worker.terminate();
  }

  private post(message: Record<string, unknown>): Promise<{ rows: never[]; result?: unknown }> {
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      try {
        worker.postMessage({ id, ...message });
      } catch (error) {
        // A value structured cloning refuses (a function, a symbol): nothing was sent, so nothing will
        // answer; settled here, or it would keep the thread referenced and the process from exiting.
        this.settle(id)?.reject(error as Error);
      }
    });
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return pending;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // No execArgv of the process (a TypeScript loader, --input-type, profiling flags): the entry is plain JavaScript.
    const worker = new Worker(ENTRY, { workerData: { config: this.config }, execArgv: [] });
    worker.unref();
    worker.on("message", (message: { id: number; rows?: never[]; result?: unknown; error?: { message: string; code?: string } }) => {
      const pending = this.settle(message.id);
      if (!pending) return;
      if (message.error) pending.reject(Object.assign(new Error(message.error.message), message.error.code ? { code: message.error.code } : {}));
      else pending.resolve({ rows: message.rows ?? [], result: message.result });
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the database thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
