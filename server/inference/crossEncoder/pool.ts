import path from "node:path";
import { pathToFileURL } from "node:url";
import { Piscina } from "piscina";
import { env } from "../../config";
import { DomainError, InvalidInputError, type DomainErrorCode } from "../../errors";
import { ModelOutputError } from "../sessions";
import type { CrossEncoderBundle } from "./bundle";
import type { ScoreReply, ScoreTask, SharedBundle } from "./workerTask";

// Cross-encoders run in a pool of worker threads (piscina), because an onnxruntime-node run
// blocks the thread that calls it: a 100-document transformer run on the event loop would stall
// every tabular request behind it. Requests for the same bundle that arrive within `maxWaitMs` of
// each other are scored in one model run of at most `maxBatchPairs` pairs — Triton's dynamic
// batcher (max batch size, max queue delay) — and each gets its own slice of the scores back.

export interface CrossEncoderPoolOptions {
  /** Worker threads, each with its own copy of every bundle it has scored. */
  workers: number;
  /** Most pairs in one model run; a request larger than this runs alone. 0 turns batching off. */
  maxBatchPairs: number;
  /** Longest a request waits for others to share its run, in ms. 0 turns batching off. */
  maxWaitMs: number;
}

export interface CrossEncoderResult {
  /** One logit per document, in the order given. */
  scores: number[];
  /** Documents cut to the model's length or max_tokens_per_doc. */
  truncated: number;
  /** The model run's own time, in ms (shared by every request in the batch). */
  modelMs: number;
  /** Requests scored in the same run, this one included. */
  batchedRequests: number;
}

interface Pending {
  pairs: ScoreTask["pairs"];
  resolve: (result: CrossEncoderResult) => void;
  reject: (error: Error) => void;
}

interface Queue {
  pending: Pending[];
  pairs: number;
  timer?: NodeJS.Timeout;
}

// From the working directory, as scoringPool.ts does: inside Next's server bundle import.meta.url is
// the bundle's, not this file's (piscina stays out of the bundle too: next.config.ts).
const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "inference", "crossEncoder", "worker.mjs")).href;

export class CrossEncoderPool {
  private readonly piscina: Piscina;
  private readonly bundles = new Map<string, SharedBundle>();
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly options: CrossEncoderPoolOptions) {
    this.piscina = new Piscina({ filename: ENTRY, minThreads: options.workers, maxThreads: options.workers, idleTimeout: 60_000 });
  }

  /**
   * Places a bundle in shared memory under `key` and opens it in a worker, which checks it as an
   * upload is checked; rejects with the worker's InvalidInputError (naming `tokenizer`, `model` or
   * `config.*`) when it is refused, and then forgets it.
   */
  async register(key: string, bundle: CrossEncoderBundle): Promise<void> {
    const shared: SharedBundle = {
      onnx: toShared(bundle.onnx),
      tokenizerJson: toShared(new TextEncoder().encode(bundle.tokenizerJson)),
      tokenizerConfigJson: toShared(new TextEncoder().encode(bundle.tokenizerConfigJson)),
      config: bundle.config,
    };
    this.bundles.set(key, shared);
    try {
      await this.runTask({ key, bundle: shared, pairs: [] });
    } catch (error) {
      this.bundles.delete(key);
      throw error;
    }
  }

  has(key: string): boolean {
    return this.bundles.has(key);
  }

  /**
   * Scores `documents` against `query` with the bundle registered under `key`. Rejects with
   * NotFound-like DomainError for an unknown key, ModelOutputError when the model's output is
   * unusable, or the worker's error.
   */
  score(key: string, query: string, documents: readonly string[], maxTokensPerDoc?: number): Promise<CrossEncoderResult> {
    if (!this.bundles.has(key)) return Promise.reject(new DomainError("NOT_FOUND", `cross-encoder "${key}" is not loaded`));
    const pairs = documents.map((document) => ({ query, document, maxTokensPerDoc }));
    return new Promise((resolve, reject) => {
      const item: Pending = { pairs, resolve, reject };
      const { maxBatchPairs, maxWaitMs } = this.options;
      if (maxBatchPairs === 0 || maxWaitMs === 0 || pairs.length >= maxBatchPairs) {
        this.dispatch(key, [item]);
        return;
      }
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = { pending: [], pairs: 0 }));
      if (queue.pairs + pairs.length > maxBatchPairs) this.flush(key);
      queue = this.queues.get(key) ?? { pending: [], pairs: 0 };
      this.queues.set(key, queue);
      queue.pending.push(item);
      queue.pairs += pairs.length;
      if (queue.pairs >= maxBatchPairs) this.flush(key);
      else queue.timer ??= setTimeout(() => this.flush(key), maxWaitMs);
    });
  }

  /** Waits for running tasks and stops the workers. */
  async close(): Promise<void> {
    for (const key of [...this.queues.keys()]) this.flush(key);
    await this.piscina.close();
  }

  private flush(key: string): void {
    const queue = this.queues.get(key);
    if (!queue || queue.pending.length === 0) return;
    clearTimeout(queue.timer);
    this.queues.delete(key);
    this.dispatch(key, queue.pending);
  }

  private dispatch(key: string, items: Pending[]): void {
    const bundle = this.bundles.get(key);
    if (!bundle) {
      for (const item of items) item.reject(new DomainError("NOT_FOUND", `cross-encoder "${key}" is not loaded`));
      return;
    }
    const pairs = items.flatMap((item) => item.pairs);
    this.runTask({ key, bundle, pairs }).then(
      (reply) => {
        let offset = 0;
        for (const item of items) {
          const n = item.pairs.length;
          let truncated = 0;
          for (let i = offset; i < offset + n; i++) truncated += reply.truncatedRows[i]!;
          item.resolve({ scores: Array.from(reply.scores.subarray(offset, offset + n)), truncated, modelMs: reply.modelMs, batchedRequests: items.length });
          offset += n;
        }
      },
      (error: Error) => items.forEach((item) => item.reject(error)),
    );
  }

  private async runTask(task: ScoreTask): Promise<Extract<ScoreReply, { ok: true }>> {
    const reply = (await this.piscina.run(task)) as ScoreReply;
    if (reply.ok) return reply;
    const { code, field, message } = reply.error;
    if (code === "BAD_REQUEST" && field) throw new InvalidInputError(field, message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message);
    if (code) throw new DomainError(code as DomainErrorCode, message);
    throw new ModelOutputError(message);
  }
}

function toShared(bytes: Uint8Array): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}

// One pool per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __crossEncoderPool?: CrossEncoderPool };

/** The process's cross-encoder pool (CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS), started on first use. */
export function crossEncoderPool(): CrossEncoderPool {
  const { CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS } = env();
  return (holder.__crossEncoderPool ??= new CrossEncoderPool({ workers: CROSS_ENCODER_WORKERS, maxBatchPairs: CROSS_ENCODER_MAX_BATCH, maxWaitMs: CROSS_ENCODER_MAX_WAIT_MS }));
}

/** Stops the pool's workers (tests, shutdown); the next use starts a new pool, whose bundles are registered again by openModel. */
export async function closeCrossEncoders(): Promise<void> {
  const pool = holder.__crossEncoderPool;
  holder.__crossEncoderPool = undefined;
  await pool?.close();
}
