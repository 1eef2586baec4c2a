import path from "node:path";
import { Worker } from "node:worker_threads";
import { env } from "../config";

// Heavy models run on worker threads. onnxruntime-node runs a session on the calling thread and
// blocks it for the model's whole run, so on the main thread a 5 ms ensemble holds every other
// request for 5 ms. A model whose measured run for 100 candidates exceeds INFERENCE_WORKER_MS is
// scored here instead (server/inference/sessions.ts decides at load): the main thread only posts
// the feature matrix and awaits the scores. INFERENCE_WORKERS threads; a job goes to the one with
// the fewest jobs in flight. One pool per process, on globalThis.

interface Job {
  resolve: (value: { scores: Float32Array; modelMs: number }) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  inFlight: Map<number, Job>;
  /** Versions whose bytes this worker has been sent. */
  loaded: Set<string>;
}

/** What a worker needs to score with a model: its version, bytes and tensor names. */
export interface PooledModel {
  versionId: string;
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
}

const WORKER_FILE = path.join(process.cwd(), "server", "inference", "scoringWorker.mjs");

class ScoringPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;

  constructor(private readonly size: number) {}

  /** Scores `rows` rows of a row-major matrix on a worker; `modelMs` is the run's time on that worker. */
  run(model: PooledModel, data: Float32Array, rows: number, cols: number): Promise<{ scores: Float32Array; modelMs: number }> {
    const target = this.pick();
    const id = this.nextId++;
    const first = !target.loaded.has(model.versionId);
    target.loaded.add(model.versionId);
    return new Promise((resolve, reject) => {
      target.inFlight.set(id, { resolve, reject });
      target.worker.ref();
      // The matrix is copied (not transferred): the caller keeps it for drift sampling and shadow.
      target.worker.postMessage({ id, versionId: model.versionId, bytes: first ? model.bytes : undefined, inputName: model.inputName, outputName: model.outputName, data, rows, cols });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
  }

  private pick(): PoolWorker {
    if (this.workers.length < this.size && this.workers.every((w) => w.inFlight.size > 0)) return this.spawn();
    return this.workers.reduce((best, w) => (w.inFlight.size < best.inFlight.size ? w : best), this.workers[0] ?? this.spawn());
  }

  private spawn(): PoolWorker {
    const worker = new Worker(WORKER_FILE);
    // Idle workers must not keep a process alive; one with jobs in flight is ref'd until they answer.
    worker.unref();
    const entry: PoolWorker = { worker, inFlight: new Map(), loaded: new Set() };
    worker.on("message", (message: { id: number; scores?: Float32Array | null; modelMs?: number; error?: string }) => {
      const job = entry.inFlight.get(message.id);
      if (!job) return;
      entry.inFlight.delete(message.id);
      if (entry.inFlight.size === 0) worker.unref();
      if (message.error || !message.scores) job.reject(new Error(message.error ?? "the scoring worker returned no scores"));
      else job.resolve({ scores: message.scores, modelMs: message.modelMs ?? 0 });
    });
    const fail = (error: Error) => {
      // A crashed worker fails its jobs (the request path falls back) and is replaced on next use.
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      for (const job of entry.inFlight.values()) job.reject(error);
      entry.inFlight.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the scoring worker exited (code ${code})`)));
    this.workers.push(entry);
    return entry;
  }
}

const holder = globalThis as unknown as { __rerankScoringPool?: ScoringPool };

/** The process's scoring pool (INFERENCE_WORKERS threads, started on first use). */
export function scoringPool(): ScoringPool {
  return (holder.__rerankScoringPool ??= new ScoringPool(env().INFERENCE_WORKERS));
}

/** Stops the pool's threads (tests, shutdown); the next use starts new ones. */
export async function closeScoringPool(): Promise<void> {
  const pool = holder.__rerankScoringPool;
  holder.__rerankScoringPool = undefined;
  await pool?.close();
}
