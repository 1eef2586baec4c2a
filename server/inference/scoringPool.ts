import path from "node:path";
import { pathToFileURL } from "node:url";
import { env } from "../config";
import { ModelWorkerPool, poolSlot } from "./workerPool";

// Heavy models run on worker threads. onnxruntime-node runs a session on the calling thread and
// blocks it for the model's whole run, so on the main thread a 5 ms ensemble holds every other
// request for 5 ms. A model whose measured run for 100 candidates exceeds INFERENCE_WORKER_MS is
// scored here instead (server/inference/sessions.ts decides at load): the main thread only posts
// the feature matrix and awaits the scores. INFERENCE_WORKERS threads of the one worker-pool kind
// (workerPool.ts: its crash, deadline, ref, release and close rules apply here): a run past the
// model's budget answers ETIMEDOUT at once, so a slow or wedged run no longer holds its request.
//
// A version's bytes are placed in shared memory once and travel with every task (a
// SharedArrayBuffer is shared, not copied), so any thread can open any held version: no thread is
// ever asked to score a version it was not given, and a thread whose session failed to open simply
// opens it again at its next task.

/** What a worker needs to score with a model: its version, bytes and tensor names. */
export interface PooledModel {
  versionId: string;
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
}

/** One task of scoringWorker.mjs (ModelWorkerPool adds its PoolTaskEnvelope: jobId, live). */
export interface ScoringTask {
  versionId: string;
  /** The ONNX bytes, shared by every task of the version. */
  bytes: SharedArrayBuffer;
  inputName: string;
  outputName: string;
  /** Row-major [rows × cols] features (copied to the worker). */
  data: Float32Array;
  rows: number;
  cols: number;
}

/** scoringWorker.mjs's answer: the scores and the run's ms, or why it failed; `openSessions` counts the thread's sessions after it dropped released versions. */
export type ScoringReply = { ok: true; scores: Float32Array; modelMs: number; openSessions: number } | { ok: false; message: string; openSessions: number };

// From the working directory, as crossEncoder/pool.ts does: inside Next's server bundle import.meta.url is the bundle's.
const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "inference", "scoringWorker.mjs")).href;

export class ScoringPool {
  private readonly pool: ModelWorkerPool<ScoringTask, ScoringReply>;
  /** Shared bytes by version id, and the array they were copied from (a new array for the same id replaces them). */
  private readonly shared = new Map<string, { from: Uint8Array; bytes: SharedArrayBuffer }>();
  /** The task each warmed version was warmed with: a crashed thread's replacement runs them before its first request. */
  private readonly warmed = new Map<string, ScoringTask>();

  /** @param threads worker threads (INFERENCE_WORKERS), ≥ 1. */
  constructor(private readonly threads: number) {
    this.pool = new ModelWorkerPool<ScoringTask, ScoringReply>({
      name: "the scoring pool", entry: ENTRY, threads, nice: env().MODEL_THREAD_NICE, schedIdle: env().MODEL_THREAD_SCHED === "idle",
      warmTasks: () => [...this.warmed.values()],
    });
  }

  /** The task scoring `data` with `model`: the version's bytes in shared memory (copied once per version), held until release(). */
  private taskOf(model: PooledModel, data: Float32Array, rows: number, cols: number): ScoringTask {
    let shared = this.shared.get(model.versionId);
    if (!shared || shared.from !== model.bytes) {
      const bytes = new SharedArrayBuffer(model.bytes.byteLength);
      new Uint8Array(bytes).set(model.bytes);
      this.shared.set(model.versionId, (shared = { from: model.bytes, bytes }));
    }
    this.pool.hold(model.versionId);
    return { versionId: model.versionId, bytes: shared.bytes, inputName: model.inputName, outputName: model.outputName, data, rows, cols };
  }

  /**
   * Scores `rows` rows of a row-major [rows × cols] matrix with `model` on a worker thread (the
   * matrix is copied: the caller keeps it for drift sampling and shadow); holds the version until
   * release(). `modelMs` is the run's own time on that thread.
   * @param options.timeoutMs the model's budget in ms: a run still going after it is cut.
   * @param options.startWithinMs longest the task may wait for a thread to start it, in ms.
   * @throws an Error with code ETIMEDOUT when the run passed `timeoutMs` (it finishes on its thread, result dropped),
   *   QueueTimeoutError (code ETIMEDOUT, `queued`) when no thread started it within `startWithinMs` (not run),
   *   PoolClosedError after close(), or the worker's error (session could not be opened, run failed,
   *   no output named `outputName`).
   */
  async run(model: PooledModel, data: Float32Array, rows: number, cols: number, options: { timeoutMs?: number; startWithinMs?: number } = {}): Promise<{ scores: Float32Array; modelMs: number; openSessions: number }> {
    const reply = await this.pool.run(this.taskOf(model, data, rows, cols), { deadlineMs: options.timeoutMs, startWithinMs: options.startWithinMs });
    if (!reply.ok) throw new Error(reply.message);
    return { scores: reply.scores, modelMs: reply.modelMs, openSessions: reply.openSessions };
  }

  /**
   * Opens `model` on every thread by scoring `rows` rows once on each (runOnEachThread: a busy thread
   * runs it before its queued tasks), each run started within `startWithinMs` or withdrawn; a thread
   * that later replaces a crashed one runs the same task before its first request. Resolves when
   * every run ended, to how many of them succeeded (`threads` when all did); failures are left to
   * the request path, which reports them.
   */
  async warm(model: PooledModel, data: Float32Array, rows: number, cols: number, startWithinMs: number): Promise<number> {
    const task = this.taskOf(model, data, rows, cols);
    this.warmed.set(model.versionId, task);
    const runs = await Promise.allSettled(this.pool.runOnEachThread(task, { startWithinMs }));
    return runs.filter((run) => run.status === "fulfilled" && run.value.ok).length;
  }

  /** The pool's thread count (INFERENCE_WORKERS). */
  get size(): number {
    return this.threads;
  }

  /** Forgets a version (unloaded or replaced): each thread releases its session at its next task. */
  release(versionId: string): void {
    this.shared.delete(versionId);
    this.warmed.delete(versionId);
    this.pool.release(versionId);
  }

  /** Lets running tasks finish and stops the threads; later runs reject with PoolClosedError. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

const slot = poolSlot("__rerankScoringPool", "the scoring pool", () => new ScoringPool(env().INFERENCE_WORKERS));

/** The process's scoring pool (INFERENCE_WORKERS threads, started on first use). @throws PoolClosedError after closeScoringPool(). */
export function scoringPool(): ScoringPool {
  return slot.get();
}

/** Releases a version's sessions on the scoring pool's threads, if the pool was started (never starts it). */
export function releaseFromScoringPool(versionId: string): void {
  slot.peek()?.release(versionId);
}

/** Stops the pool's threads (shutdown, tests' afterAll); from then on scoringPool() refuses with PoolClosedError. */
export function closeScoringPool(): Promise<void> {
  return slot.close();
}
