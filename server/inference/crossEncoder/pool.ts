import path from "node:path";
import { pathToFileURL } from "node:url";
import { env } from "../../config";
import { DomainError, InvalidInputError, type DomainErrorCode } from "../../errors";
import { ModelOutputError } from "../sessions";
import { ModelWorkerPool, PoolClosedError, poolSlot, QueueTimeoutError } from "../workerPool";
import { FairQueue } from "../../domain/admission/fairQueue";
import type { CrossEncoderBundle } from "./bundle";
import { batchTokens, estimateWork, paddedTokens, priceAt, WorkPrice, type TextWork, type WorkRates } from "./work";
import type { ScoreReply, ScoreTask, SharedBundle, TextRequest } from "./workerTask";

// Cross-encoders run in a pool of worker threads (the one worker-pool kind, ../workerPool.ts: its
// crash, ref, release and close rules apply here), because an onnxruntime-node run blocks the
// thread that calls it: a 100-document transformer run on the event loop would stall every tabular
// request behind it. Requests for the same bundle share one model run of at most `maxBatchPairs`
// pairs and `maxBatchTokens` padded tokens, and each gets its own slice of the scores back: Triton's
// dynamic batcher, which sends a batch when a model instance is free. A request that finds a worker free goes at once (or after
// `maxWaitMs`, if set, for others to join it); requests that arrive while every worker is busy wait
// on the main thread and go together as the next task when one is free. No timer per batch: each
// wake-up of the event loop costs it tens of µs on a virtualised host, and under load the requests
// batch without one. A request may bound its wait for a run (`startWithinMs`, its surface's
// budget): past it, it leaves the queue it waits in (a timer, set only while it waits there), or its
// run is withdrawn from the thread that has not started it (the worker pool's start rule), and it
// rejects with QueueTimeoutError instead of being scored after its caller gave up.
//
// While every worker is busy, waiting requests are served in start-time fair order over their
// callers (server/domain/admission/fairQueue.ts), not in arrival order: a caller's backlog of large
// requests delays another caller's request by about one of them, not all of them. A request is
// charged its work, not its documents (./work.ts: characters tokenised and padded tokens, priced at
// the bundle's measured cost): estimated from its texts when it is queued or sent, and corrected
// with the characters read and tokens padded when its run returns, before the next request is
// chosen (break test: charged by documents, a caller of 400 60-word documents got 0.4× the work of
// its share against one of 1,000 one-word documents).
// A run's time is charged to each request in it: its own tokenising, and the rest of the run by its
// share of the run's padded tokens (what it would have cost alone), so a request batched with another
// caller's long documents is not judged slow for them (the circuit breakers read `modelMs`, and
// judge a timeout by the same two parts: server/domain/breakers/callerCircuits.ts, RunCost).

export interface CrossEncoderPoolOptions {
  /** Worker threads, each with its own copy of every bundle it has scored. */
  workers: number;
  /** Most pairs in one model run; a request larger than this runs alone. 0 turns batching off. */
  maxBatchPairs: number;
  /**
   * Most padded tokens (rows × the widest row, estimated: ./work.ts) in one batched run; a request
   * larger than this runs alone. Default maxBatchPairs × 128: a batch's run, which every request in
   * it waits for, is bounded by its work, not only by its pairs (64 pairs of 512 tokens are 16× 64
   * of 32).
   */
  maxBatchTokens?: number;
  /**
   * Longest a request that finds a worker free waits for others to share its run, in ms; 0 sends it
   * at once (requests that arrive while every worker is busy are batched either way).
   */
  maxWaitMs: number;
}

export interface CrossEncoderResult {
  /** One logit per document, in the order given. */
  scores: number[];
  /** Documents cut to the model's length or max_tokens_per_doc. */
  truncated: number;
  /**
   * This request's share of its model run's time, in ms: its own tokenising (tokenizeMs) plus the
   * rest of the run × (its rows × its widest row's tokens) / (the run's rows × the run's padded
   * width), i.e. what the rest costs per padded token times the tokens it would have been padded to
   * alone (runMs when it ran alone).
   */
  modelMs: number;
  /** ms of modelMs spent tokenising this request's texts (its documents, and its query once). */
  tokenizeMs: number;
  /** Characters of this request's texts given to the tokenizer (at most 5/4 × encode.ts's readBound per document). */
  chars: number;
  /** Tokens this request would have been padded to alone: its rows × its widest row. */
  paddedTokens: number;
  /** The whole model run's time, in ms (shared by every request in the batch). */
  runMs: number;
  /** Requests scored in the same run, this one included. */
  batchedRequests: number;
}

interface Pending {
  request: TextRequest;
  resolve: (result: CrossEncoderResult) => void;
  reject: (error: Error) => void;
  /** performance.now() past which it must not start (its startWithinMs), if it has one. */
  startBy?: number;
  /** Its timer while it waits in a queue on the main thread. */
  timer?: NodeJS.Timeout;
  /** The bundle it is for. */
  key: string;
  /** Who sent it (ScoreOptions.caller; "" when none). */
  caller: string;
  /** Its work, estimated before it runs (its caller's fair share is charged this until its run returns). */
  work: TextWork;
  /** The bundle's cost rates when it was charged (its correction is priced at them too). */
  rates: WorkRates;
}

/** What one score() call may bound besides its documents. */
export interface ScoreOptions {
  /** Tokens kept per document (at most the model's own length). */
  maxTokensPerDoc?: number;
  /**
   * Longest the request may wait for its model run to start, in ms (its surface's budget); past it
   * the request rejects with QueueTimeoutError (code ETIMEDOUT, `queued`) and is not scored.
   */
  startWithinMs?: number;
  /**
   * Who sent it (an API key's id, a user's): while every worker is busy, callers' waiting requests
   * are served in fair order (requests without one share the caller "").
   */
  caller?: string;
}

interface Queue {
  pending: Pending[];
  pairs: number;
  timer?: NodeJS.Timeout;
}

/** Padded tokens a batch is bounded by when maxBatchTokens is not given: per pair of maxBatchPairs. */
export const DEFAULT_BATCH_TOKENS_PER_PAIR = 128;

// From the working directory, as scoringPool.ts does: inside Next's server bundle import.meta.url is
// the bundle's, not this file's.
const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "inference", "crossEncoder", "worker.mjs")).href;

export class CrossEncoderPool {
  private readonly workers: ModelWorkerPool<ScoreTask, ScoreReply>;
  private readonly bundles = new Map<string, SharedBundle>();
  /** Requests waiting to share a run, per bundle key, oldest queue first. */
  private readonly queues = new Map<string, Queue>();
  /** Requests waiting while every worker is busy, in callers' fair order. */
  private readonly fair = new FairQueue<Pending>();
  /** Tasks sent to the workers and not yet answered (running or in the worker pool's queue). */
  private inFlight = 0;
  /** Each bundle's measured cost of work (its successful runs), by key. */
  private readonly prices = new Map<string, WorkPrice>();
  private readonly maxBatchTokens: number;

  constructor(private readonly options: CrossEncoderPoolOptions) {
    this.maxBatchTokens = options.maxBatchTokens ?? options.maxBatchPairs * DEFAULT_BATCH_TOKENS_PER_PAIR;
    this.workers = new ModelWorkerPool<ScoreTask, ScoreReply>({
      name: "the cross-encoder pool", entry: ENTRY, threads: options.workers, nice: env().MODEL_THREAD_NICE, schedIdle: env().MODEL_THREAD_SCHED === "idle",
      // A crashed thread's replacement opens every registered bundle before its first request.
      warmTasks: () => [...this.bundles].map(([key, bundle]) => ({ key, bundle, requests: [] })),
    });
  }

  /**
   * Places a bundle in shared memory under `key` and opens it in every worker, which checks it as an
   * upload is checked; rejects with the worker's InvalidInputError (naming `tokenizer`, `model` or
   * `config.*`) when it is refused, and then forgets it; with PoolClosedError after close().
   */
  async register(key: string, bundle: CrossEncoderBundle): Promise<void> {
    const shared: SharedBundle = {
      onnx: toShared(bundle.onnx),
      tokenizerJson: toShared(new TextEncoder().encode(bundle.tokenizerJson)),
      tokenizerConfigJson: toShared(new TextEncoder().encode(bundle.tokenizerConfigJson)),
      config: bundle.config,
    };
    this.bundles.set(key, shared);
    this.workers.hold(key);
    try {
      // On every thread (pinned: a busy thread opens it before its queued requests): a thread that
      // first met the bundle in a request would open it within that request's budget.
      await Promise.all(this.workers.runOnEachThread({ key, bundle: shared, requests: [] }).map((copy) => this.answer(copy)));
    } catch (error) {
      this.unregister(key);
      throw error;
    }
  }

  /** Forgets a bundle (its version unloaded): each worker thread releases its copy at its next task; scoring it then rejects NOT_FOUND. */
  unregister(key: string): void {
    this.bundles.delete(key);
    this.prices.delete(key);
    this.workers.release(key);
  }

  has(key: string): boolean {
    return this.bundles.has(key);
  }

  /**
   * Scores `documents` against `query` with the bundle registered under `key`. Rejects with
   * NotFound-like DomainError for an unknown key, ModelOutputError when the model's output is
   * unusable, or the worker's error.
   */
  score(key: string, query: string, documents: readonly string[], options: ScoreOptions = {}): Promise<CrossEncoderResult> {
    const bundle = this.bundles.get(key);
    if (!bundle) return Promise.reject(new DomainError("NOT_FOUND", `cross-encoder "${key}" is not loaded`));
    const pairs = documents.length;
    const { maxTokensPerDoc, startWithinMs } = options;
    const caller = options.caller ?? "";
    return new Promise((resolve, reject) => {
      const request: TextRequest = maxTokensPerDoc === undefined ? { query, documents } : { query, documents, maxTokensPerDoc };
      const work = estimateWork(request, bundle.config.maxLength);
      const rates = this.priceOf(key).rates();
      const item: Pending = { key, request, resolve, reject, caller, work, rates };
      const cost = priceAt(rates, { chars: work.chars, paddedTokens: paddedTokens(work) });
      if (startWithinMs !== undefined) item.startBy = performance.now() + startWithinMs;
      const { maxWaitMs } = this.options;
      if (this.inFlight >= this.options.workers || this.fair.size > 0) {
        // Every worker busy: it waits its callers' turn (sendWaiting), or its start deadline.
        this.fair.push(caller, cost, item);
        if (startWithinMs !== undefined) item.timer = setTimeout(() => this.expireFair(item, startWithinMs), startWithinMs);
        this.sendWaiting();
        return;
      }
      // A worker is free: it goes now (or joins a batch about to go), charged to its caller's share.
      this.fair.charge(caller, cost);
      if (!this.batchable(item)) {
        // Requests waiting to share a run go first (arrival order): a large request goes straight to
        // the worker pool's FIFO, and the waiting ones are sent only once fewer tasks than workers are
        // in flight, so a stream of large requests would hold them back for ever.
        for (const waiting of [...this.queues.keys()]) this.flush(waiting);
        this.dispatch(key, [item]);
        return;
      }
      let queue = this.queues.get(key);
      if (queue && !this.fits(queue.pending, item)) {
        this.flush(key);
        queue = undefined;
      }
      if (!queue) this.queues.set(key, (queue = { pending: [], pairs: 0 }));
      queue.pending.push(item);
      queue.pairs += pairs;
      if (queue.pairs >= this.options.maxBatchPairs || batchTokens(queue.pending.map((p) => p.work)) >= this.maxBatchTokens) this.flush(key);
      else if (maxWaitMs === 0) this.flush(key);
      else queue.timer ??= setTimeout(() => this.flush(key), maxWaitMs);
    });
  }

  /** May it share a run? Batching is on and it is below both limits (a larger request runs alone). */
  private batchable(item: Pending): boolean {
    const { maxBatchPairs } = this.options;
    return maxBatchPairs > 0 && item.work.rows < maxBatchPairs && paddedTokens(item.work) < this.maxBatchTokens;
  }

  /** Would `item` joining `batch` keep the run within maxBatchPairs pairs and maxBatchTokens padded tokens? */
  private fits(batch: readonly Pending[], item: Pending): boolean {
    const pairs = batch.reduce((n, p) => n + p.work.rows, item.work.rows);
    return pairs <= this.options.maxBatchPairs && batchTokens([...batch.map((p) => p.work), item.work]) <= this.maxBatchTokens;
  }

  private priceOf(key: string): WorkPrice {
    let price = this.prices.get(key);
    if (!price) this.prices.set(key, (price = new WorkPrice()));
    return price;
  }

  /**
   * A run returned: the bundle's cost is measured on it, and each request's caller is charged the
   * difference between its real work (the characters it gave the tokenizer, and its rows × its
   * widest row) and its estimate, both at the rates it was charged at (WorkPrice.rates).
   */
  private settleCharges(key: string, items: readonly Pending[], reply: Extract<ScoreReply, { ok: true }>): void {
    const tokenizeMs = reply.encodeMs.reduce((sum, ms) => sum + ms, 0);
    const cells = reply.scores.length * reply.width;
    const charsRead = reply.chars.reduce((sum, n) => sum + n, 0);
    if (this.bundles.has(key)) this.priceOf(key).observe({ chars: charsRead, tokenizeMs, paddedTokens: cells, restMs: Math.max(0, reply.modelMs - tokenizeMs) });
    let offset = 0;
    for (const item of items) {
      const n = item.request.documents.length;
      let chars = 0;
      let width = 0;
      for (let i = offset; i < offset + n; i++) {
        chars += reply.chars[i] ?? 0;
        width = Math.max(width, reply.tokens[i] ?? 0);
      }
      offset += n;
      const estimated = priceAt(item.rates, { chars: item.work.chars, paddedTokens: paddedTokens(item.work) });
      this.fair.adjust(item.caller, priceAt(item.rates, { chars, paddedTokens: n * width }) - estimated);
    }
  }

  /** A waiting request's start deadline passed while every worker was still busy: it leaves the queue, unscored. */
  private expireFair(item: Pending, waitedMs: number): void {
    if (this.fair.remove(item)) item.reject(queueTimeout(`waited ${waitedMs} ms`));
  }

  /** Sends the requests waiting to share a run, waits for running tasks and stops the workers; later tasks reject with PoolClosedError. */
  async close(): Promise<void> {
    for (const key of [...this.queues.keys()]) this.flush(key);
    while (this.fair.size > 0) this.sendNext();
    await this.workers.close();
  }

  private flush(key: string): void {
    const queue = this.queues.get(key);
    if (!queue || queue.pending.length === 0) return;
    clearTimeout(queue.timer);
    this.queues.delete(key);
    this.dispatch(key, queue.pending);
  }

  private dispatch(key: string, waiting: Pending[]): void {
    const bundle = this.bundles.get(key);
    if (!bundle) {
      for (const item of waiting) {
        clearTimeout(item.timer);
        item.reject(new DomainError("NOT_FOUND", `cross-encoder "${key}" is not loaded`));
      }
      return;
    }
    // The run must start by the earliest start deadline of its requests (one whose deadline has
    // passed, its timer not yet run, is answered now and left out).
    const now = performance.now();
    let startWithinMs: number | undefined;
    const items: Pending[] = [];
    for (const item of waiting) {
      clearTimeout(item.timer);
      if (item.startBy === undefined) items.push(item);
      else if (item.startBy <= now) item.reject(queueTimeout("waited past its start deadline"));
      else {
        items.push(item);
        startWithinMs = Math.min(startWithinMs ?? Infinity, item.startBy - now);
      }
    }
    if (items.length === 0) return;
    this.runTask({ key, bundle, requests: items.map((item) => item.request) }, startWithinMs, (reply) => this.settleCharges(key, items, reply)).then(
      (reply) => {
        let offset = 0;
        const cells = reply.scores.length * reply.width;
        // Tokenising is charged to the request whose texts it was; the rest of the run (tensors and
        // the model) by padded tokens.
        const rest = Math.max(0, reply.modelMs - reply.encodeMs.reduce((sum, ms) => sum + ms, 0));
        for (const item of items) {
          const n = item.request.documents.length;
          let truncated = 0;
          let width = 0;
          let tokenizeMs = 0;
          let chars = 0;
          for (let i = offset; i < offset + n; i++) {
            truncated += reply.truncatedRows[i]!;
            width = Math.max(width, reply.tokens[i]!);
            tokenizeMs += reply.encodeMs[i]!;
            chars += reply.chars[i]!;
          }
          const paddedTokens = n * width;
          const modelMs = items.length === 1 || cells === 0 ? reply.modelMs : tokenizeMs + (rest * paddedTokens) / cells;
          item.resolve({ scores: Array.from(reply.scores.subarray(offset, offset + n)), truncated, modelMs, tokenizeMs, chars, paddedTokens, runMs: reply.modelMs, batchedRequests: items.length });
          offset += n;
        }
      },
      (error: Error) => {
        // One request's fault (a document the tokenizer refuses, a pair the model scores non-finite)
        // must not fail the others that shared its run: each is run again alone, once (its run had
        // started in time, so the re-run has no start deadline; the caller's own cap bounds it). A
        // closed pool is every request's answer. A run withdrawn at the batch's earliest start
        // deadline answers the requests whose own deadline has passed; the others go again.
        if (error instanceof QueueTimeoutError) {
          const now = performance.now();
          const left = items.filter((item) => item.startBy === undefined || item.startBy > now);
          items.filter((item) => !left.includes(item)).forEach((item) => item.reject(error));
          if (left.length > 0) this.dispatch(key, left);
        } else if (items.length > 1 && !(error instanceof PoolClosedError)) {
          for (const item of items) this.dispatch(key, [{ ...item, startBy: undefined, timer: undefined }]);
        } else items.forEach((item) => item.reject(error));
      },
    ).catch((error: unknown) => {
      // A throw while answering (a reply it could not read, a re-run that could not be sent) must
      // not be an unhandled rejection (Node ends the process) nor leave a request unanswered: each
      // request not yet answered gets the error (answered ones ignore it).
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const item of items) item.reject(failure);
    });
  }

  /** Sends waiting requests, in callers' fair order, while a worker is free. */
  private sendWaiting(): void {
    while (this.inFlight < this.options.workers && this.fair.size > 0) this.sendNext();
  }

  /**
   * Sends the request whose turn it is: a large one alone; a small one with the small requests for
   * the same bundle next in fair order, up to maxBatchPairs pairs and maxBatchTokens padded tokens
   * (Triton's dynamic batcher takes what is queued; here the queue's order is the callers' fair order).
   */
  private sendNext(): void {
    const head = this.fair.next();
    if (!head) return;
    const batch = [head];
    if (this.batchable(head)) {
      for (const other of this.fair.ordered()) {
        if (other.key !== head.key || !this.batchable(other) || !this.fits(batch, other)) continue;
        this.fair.take(other);
        batch.push(other);
      }
    }
    this.dispatch(head.key, batch);
  }

  private runTask(task: ScoreTask, startWithinMs?: number, onReply?: (reply: Extract<ScoreReply, { ok: true }>) => void): Promise<Extract<ScoreReply, { ok: true }>> {
    return this.answer(this.workers.run(task, startWithinMs === undefined ? {} : { startWithinMs }), onReply);
  }

  /**
   * A task's reply, counted in flight until it comes; a refusal mapped to its error (field errors
   * name the field). `onReply` sees a successful reply before a waiting request is sent (the
   * run's real cost charged before the next turn is chosen).
   */
  private async answer(running: Promise<ScoreReply>, onReply?: (reply: Extract<ScoreReply, { ok: true }>) => void): Promise<Extract<ScoreReply, { ok: true }>> {
    let reply: ScoreReply | undefined;
    this.inFlight++;
    try {
      reply = await running;
    } finally {
      this.inFlight--;
      if (reply?.ok && onReply) {
        try {
          onReply(reply);
        } catch (error) {
          // Fair shares are bookkeeping: a fault in them must not lose the scores.
          console.error(`[rerank] the cross-encoder pool could not charge a run's cost:`, error);
        }
      }
      if (this.fair.size > 0) this.sendWaiting();
      else if (this.inFlight === 0) this.fair.idle();
    }
    if (reply.ok) return reply;
    const { code, field, message } = reply.error;
    if (code === "BAD_REQUEST" && field) throw new InvalidInputError(field, message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message);
    if (code) throw new DomainError(code as DomainErrorCode, message);
    throw new ModelOutputError(message);
  }
}

/** A request left unscored because no thread started its run in time. */
const queueTimeout = (waited: string) => new QueueTimeoutError(`${waited} for a thread of the cross-encoder pool (every thread busy): not scored`);

function toShared(bytes: Uint8Array): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}

const slot = poolSlot("__crossEncoderPool", "the cross-encoder pool", () => {
  const { CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS } = env();
  return new CrossEncoderPool({ workers: CROSS_ENCODER_WORKERS, maxBatchPairs: CROSS_ENCODER_MAX_BATCH, maxWaitMs: CROSS_ENCODER_MAX_WAIT_MS });
});

/**
 * The process's cross-encoder pool (CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS), started on first use.
 * @throws PoolClosedError after closeCrossEncoders().
 */
export function crossEncoderPool(): CrossEncoderPool {
  return slot.get();
}

/** Forgets a bundle in the process's pool, if the pool was started (never starts it). */
export function unregisterCrossEncoder(key: string): void {
  slot.peek()?.unregister(key);
}

/** Stops the pool's workers (shutdown, tests' afterAll); from then on crossEncoderPool() refuses with PoolClosedError. */
export function closeCrossEncoders(): Promise<void> {
  return slot.close();
}
