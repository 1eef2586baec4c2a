import { Piscina } from "piscina";
import { withDeadline } from "../domain/time/deadline";

// The one way models run on worker threads: the scoring pool (heavy tabular models,
// scoringPool.ts) and the cross-encoder pool (crossEncoder/pool.ts) are both this class on piscina,
// with one set of semantics:
//   - threads: a fixed number, started with the pool; each keeps its own opened models. One task
//     runs per thread at a time; more wait in a FIFO queue on the main thread.
//   - crash: a thread that dies fails the task it was running (the request path falls back) and is
//     replaced; queued tasks go to the other threads or the replacement.
//   - deadline: a task may carry `deadlineMs`, counted from the moment its worker starts the model's
//     run (the worker posts `{ [RUN_STARTED]: jobId }`, for a task with a deadline only), so time spent queued or opening the model is
//     not the model's fault. Past it the task rejects with code ETIMEDOUT at once: the caller falls
//     back instead of waiting. The run itself is left to finish on its thread (whose next task then
//     starts; the other threads serve the queue meanwhile): a thread cannot be stopped inside an
//     onnxruntime run — Worker.terminate() there aborts the whole process ("terminate called after
//     throwing an instance of 'Napi::Error'", seen in scoringPool.test.ts), so no thread is recycled.
//   - ref: idle threads do not keep the process alive; a thread with a task does until it answers.
//   - release: the pool holds a set of keys (model versions, bundles). Every task carries the keys
//     held when it was sent (`live`), and a worker drops and releases whatever it opened under any
//     other key before it runs the task: a released model leaves each thread at that thread's next
//     task.
//   - close: `close()` lets running tasks finish (at most 30 s, piscina's closeTimeout), stops the
//     threads, and from then on the pool refuses every task with a PoolClosedError. The process-wide
//     pools are not started again once closed (shutdown closes them after the last shadow job).

/** The key of the message a worker posts when a task's model run starts: `{ [RUN_STARTED]: jobId }`. */
export const RUN_STARTED = "runStarted";

/** What every task gets besides its own fields: its job id (for RUN_STARTED) and the keys the pool holds. */
export interface PoolTaskEnvelope {
  /**
   * Set only when the task has a deadline: the worker then posts RUN_STARTED with it. Without one
   * nothing waits for that message, and each message is one more wake-up and task for the event
   * loop (per cross-encoder run, which has no deadline of its own).
   */
  jobId?: number;
  /** Keys held by the pool when the task was sent; a worker releases whatever it opened under any other key. */
  live: string[];
}

/** A task sent to a closed pool (the process is stopping). Code POOL_CLOSED. */
export class PoolClosedError extends Error {
  readonly code = "POOL_CLOSED";
}

export interface ModelWorkerPoolOptions {
  /** Names the pool in errors: "the scoring pool". */
  name: string;
  /** file:// URL of the worker module; its default export is the task function. */
  entry: string;
  /** Worker threads, ≥ 1. */
  threads: number;
  /**
   * Nice value each thread sets on itself at start (0–19; Linux priorities are per thread, so the
   * main thread keeps its own): model runs then yield the cores to the event loop when both want them.
   */
  nice?: number;
  /**
   * Each thread also takes Linux's SCHED_IDLE policy (threadPriority.mjs): preempted at once when
   * the event loop or PostgreSQL wakes up on its core, instead of only weighing less.
   */
  schedIdle?: boolean;
}

export class ModelWorkerPool<Task extends object, Reply> {
  private readonly piscina: Piscina;
  private readonly held = new Set<string>();
  /** Resolves each running task's `started` when its worker says its model run started. */
  private readonly onRunStarted = new Map<number, () => void>();
  private nextJob = 1;
  private closing: Promise<void> | null = null;

  /** @throws RangeError naming `threads` when it is not an integer ≥ 1. */
  constructor(private readonly options: ModelWorkerPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`${options.name}: threads must be an integer ≥ 1, got ${options.threads}`);
    // recordTiming off: piscina's wait and run histograms (two records per task, on the event loop) are read by nothing here.
    this.piscina = new Piscina({ filename: options.entry, minThreads: options.threads, maxThreads: options.threads, idleTimeout: 60_000, recordTiming: false, workerData: { nice: options.nice ?? 0, schedIdle: options.schedIdle ?? false } });
    this.piscina.on("message", (message: unknown) => {
      const jobId = (message as Record<string, unknown> | null)?.[RUN_STARTED];
      if (typeof jobId === "number") this.onRunStarted.get(jobId)?.();
    });
    // A thread that fails with no task in hand: piscina replaces it; without a listener the error would throw in the main thread.
    this.piscina.on("error", (error: unknown) => console.error(`[rerank] ${options.name}: a worker thread failed:`, error));
  }

  /** Adds `key` to the keys workers keep (a model version, a bundle's sha256). */
  hold(key: string): void {
    this.held.add(key);
  }

  /** Removes `key`: each thread releases what it opened under it at its next task. */
  release(key: string): void {
    this.held.delete(key);
  }

  holds(key: string): boolean {
    return this.held.has(key);
  }

  /** True once close() was called: every task is refused. */
  get isClosed(): boolean {
    return this.closing !== null;
  }

  /**
   * Runs `task` (with the envelope's jobId and live keys added) on a worker thread and answers its reply.
   * @param options.deadlineMs longest the model's run may take on the thread, in ms, counted from
   *   its start there (none: unbounded).
   * @throws PoolClosedError after close(); an Error with code ETIMEDOUT when the run passed
   *   `deadlineMs` (it goes on on its thread; its result is dropped); the worker's error when it failed or died.
   */
  async run(task: Task, options: { deadlineMs?: number } = {}): Promise<Reply> {
    if (this.closing) throw new PoolClosedError(`${this.options.name} is closed (the process is stopping): nothing more runs on it`);
    const { deadlineMs } = options;
    if (deadlineMs === undefined) return (await this.piscina.run({ ...task, live: [...this.held] } satisfies PoolTaskEnvelope)) as Reply;
    const jobId = this.nextJob++;
    const started = new Promise<void>((resolve) => this.onRunStarted.set(jobId, resolve));
    const envelope: PoolTaskEnvelope = { jobId, live: [...this.held] };
    const running = this.piscina.run({ ...task, ...envelope }) as Promise<Reply>;
    try {
      // Until the model's run starts (or the task ends first: a model that cannot be opened), nothing is the model's fault.
      await Promise.race([started, running]);
      let answered = false;
      void running.then(() => (answered = true), () => (answered = true));
      return await withDeadline(running, deadlineMs, async () => {
        // The timer may fire behind a reply already waiting in the event loop (a busy main thread):
        // the poll phase, which delivers it, runs before setImmediate's check phase.
        await new Promise((resolve) => setImmediate(resolve));
        if (answered) return running;
        throw Object.assign(new Error(`the model's run passed its ${deadlineMs} ms budget on a worker thread of ${this.options.name} (the run finishes there; its result is dropped)`), { code: "ETIMEDOUT" });
      });
    } finally {
      this.onRunStarted.delete(jobId);
    }
  }

  /** Refuses new tasks from now on, lets running ones finish, stops the threads (a second call waits for the first). */
  close(): Promise<void> {
    return (this.closing ??= this.piscina.close());
  }
}

/**
 * A process-wide pool on globalThis (Next's bundle and the front door each load their own copy of
 * a module), started on first use, never started again once closed.
 */
export interface PoolSlot<P extends { close(): Promise<void> }> {
  /** The pool, started by `start` on first use. @throws PoolClosedError once close() was called. */
  get(): P;
  /** The pool if one is running, else undefined (never starts one). */
  peek(): P | undefined;
  /** Closes the pool if one was started; from then on get() refuses. */
  close(): Promise<void>;
}

/** The slot of a process-wide pool named `name` (e.g. "the scoring pool"), stored on globalThis under `globalKey`. */
export function poolSlot<P extends { close(): Promise<void> }>(globalKey: string, name: string, start: () => P): PoolSlot<P> {
  const holder = globalThis as unknown as Record<string, { pool?: P; closed: boolean } | undefined>;
  const slot = () => (holder[globalKey] ??= { closed: false });
  return {
    get() {
      const s = slot();
      if (s.closed) throw new PoolClosedError(`${name} is closed (the process is stopping): nothing more runs on it`);
      return (s.pool ??= start());
    },
    peek: () => slot().pool,
    async close() {
      const s = slot();
      s.closed = true;
      const pool = s.pool;
      s.pool = undefined;
      await pool?.close();
    },
  };
}
