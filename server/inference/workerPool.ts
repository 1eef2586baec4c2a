import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { withDeadline } from "../domain/time/deadline";

// The one way models run on worker threads: the scoring pool (heavy tabular models,
// scoringPool.ts) and the cross-encoder pool (crossEncoder/pool.ts) are both this class, on
// node:worker_threads with one set of semantics. Not on piscina: its per-task code cost the event
// loop more than this pool's (median 157 vs 124 µs per task, a bare round trip 97, at 400 tasks/s of
// 10 documents, ABBA blocks on this VM), time every tabular request queues behind while text
// requests run (issue #16); this pool is one message per task and one per reply.
//   - threads: a fixed number, started with the pool; each runs poolWorker.mjs, which imports the
//     task module (`entry`) and keeps its own opened models. One task runs per thread at a time;
//     more wait in a FIFO queue on the main thread.
//   - crash: a thread that dies fails the task it was running (the request path falls back) and is
//     replaced; queued tasks go to the other threads or the replacement. A thread that dies before
//     its task module loaded (a broken entry) fails its task and every queued one with that error,
//     and is replaced only when the next task comes, so a broken module does not spawn threads in a loop.
//   - clone: a task that cannot be posted (a function in it) rejects with its DataCloneError and the
//     thread takes the next task; a task module's throw of anything (null, a string, a DOMException
//     such as the DataCloneError of a reply holding a function) reaches the caller as an Error.
//   - deadline: a task may carry `deadlineMs`, counted from the moment its worker starts the model's
//     run (the worker posts `{ [RUN_STARTED]: jobId }`, for a task with a deadline only), so time spent queued or opening the model is
//     not the model's fault. Past it the task rejects with code ETIMEDOUT at once: the caller falls
//     back instead of waiting. The run itself is left to finish on its thread (whose next task then
//     starts; the other threads serve the queue meanwhile): a thread cannot be stopped inside an
//     onnxruntime run — Worker.terminate() there aborts the whole process ("terminate called after
//     throwing an instance of 'Napi::Error'", seen in scoringPool.test.ts), so no thread is recycled.
//   - start: a task may carry `startWithinMs`, the longest it may wait for a thread to start it
//     (the caller's budget: a request waits for a model no longer than it would for its run).
//     Past it, a task still in the queue is taken out, and one already posted to a thread that has
//     not picked it up (every core busy: a model thread runs only when the scheduler gives it one,
//     and under SCHED_IDLE only on CPU nothing else wants) is withdrawn there; either rejects with
//     a QueueTimeoutError and never runs, so a saturated machine sheds the work instead of piling
//     it up. A thread still loading its task module (a pool just started) is not withdrawn from:
//     its first tasks wait for it, as the process's first requests wait for their models to open. A
//     crashed thread's replacement takes no task until it has loaded, so tasks wait (and can be
//     withdrawn) in the queue meanwhile. Each thread and the main thread share one Int32 slot
//     (`claim`): the main thread writes the task's claim id before posting it; the thread swaps it
//     for its negative to start it, the main thread for 0 to withdraw it; whichever swap comes
//     first decides, without a message. Claim ids run 1..2^31−1 and wrap (a thread holds one task
//     at a time, so an id need only differ from its predecessor's).
//   - every thread: `runOnEachThread(task)` runs a task once on each thread (pinned to it: the thread
//     takes it before any queued task, when its current one ends), e.g. to open a model on every
//     thread before requests need it; a crashed thread's replacement first runs the tasks
//     `warmTasks()` gives (the models the pool serves), so it does not serve its first request cold
//     — unless the thread it replaces died in one of them (then none: no respawn loop).
//   - ref: idle threads do not keep the process alive; a thread with a task does until it answers.
//   - release: the pool holds a set of keys (model versions, bundles). Every task carries the keys
//     held when it was sent (`live`), and a worker drops and releases whatever it opened under any
//     other key before it runs the task: a released model leaves each thread at that thread's next
//     task.
//   - replies: the top-level typed arrays of a reply that own their whole buffer (Float32Array
//     scores) are moved to the main thread, not copied; a task module must not keep them.
//   - close: `close()` refuses every task from then on with a PoolClosedError, lets the tasks it had
//     accepted (running and queued) finish, at most 30 s (then it stops the threads and fails what
//     is left), and stops the threads. The process-wide pools are not started again once closed
//     (shutdown closes them after the last shadow job).

/** The key of the message a worker posts when a task's model run starts: `{ [RUN_STARTED]: jobId }`. */
export const RUN_STARTED = "runStarted";

/** Longest close() waits for accepted tasks before it stops the threads, in ms. */
const CLOSE_TIMEOUT_MS = 30_000;

// From the working directory, as the pools' task modules are: inside Next's server bundle import.meta.url is the bundle's.
const POOL_WORKER = pathToFileURL(path.join(process.cwd(), "server", "inference", "poolWorker.mjs"));

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
  /**
   * Set only when the task has a start deadline (`startWithinMs`): the worker starts the task only
   * if it can swap this id in its claim slot for its negative (0 there: the task was withdrawn).
   */
  claim?: number;
}

/**
 * A task that waited longer than its `startWithinMs` for a thread to start it, and was withdrawn
 * without running. Code ETIMEDOUT (the caller falls back as for any timeout); `queued` is true: the
 * wait says the machine was busy, not that the model is unwell (breakers count it nowhere).
 */
export class QueueTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  readonly queued = true;
}

/** A task sent to a closed pool (the process is stopping). Code POOL_CLOSED. */
export class PoolClosedError extends Error {
  readonly code = "POOL_CLOSED";
}

const closedError = (pool: string) => new PoolClosedError(`${pool} is closed (the process is stopping): nothing more runs on it`);

export interface ModelWorkerPoolOptions<Task extends object = object> {
  /** Names the pool in errors: "the scoring pool". */
  name: string;
  /** file:// URL of the task module; its default export is the task function (task → reply, or a promise of it). */
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
  /**
   * Tasks a thread started to replace a crashed one runs before it takes queued tasks (their replies
   * are dropped), e.g. one per model the pool serves, so its sessions are open before a request needs them.
   */
  warmTasks?: () => Task[];
}

/** A task accepted by the pool: the message posted to a thread, and its caller's promise. */
interface Job {
  message: object;
  jobId: number | undefined;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
  /** Called when the thread posts RUN_STARTED for this job. */
  onRunStarted?: () => void;
  /** The task's claim id (PoolTaskEnvelope.claim), when it has a start deadline. */
  claim?: number;
  /** The thread it was posted to, while it has one. */
  thread?: Thread;
  /** The one thread that may run it (runOnEachThread, warmTasks), if any. */
  pinnedTo?: Thread;
  /** One of a replacement's warmTasks. */
  warm?: boolean;
}

interface Thread {
  worker: Worker;
  /** The job it runs, or null when idle. */
  job: Job | null;
  /** True once it said its task module loaded (poolWorker.mjs's one `{ loaded: true }`). */
  loaded: boolean;
  /** One Int32 shared with the thread: the claim id of the task posted to it, negative once started, 0 when none or withdrawn. */
  claim: Int32Array;
  /** Tasks only this thread may run, taken before the shared queue's. */
  pinned: Job[];
}

/** A thread's messages: one per reply, plus RUN_STARTED for a task with a deadline. */
type WorkerMessage = { value: unknown } | { error: unknown } | { [RUN_STARTED]: number } | { loaded: true };

export class ModelWorkerPool<Task extends object, Reply> {
  private readonly held = new Set<string>();
  private readonly threads = new Set<Thread>();
  private readonly idle: Thread[] = [];
  private readonly queue: Job[] = [];
  /** Threads to start when the next task comes (they died before their task module loaded). */
  private missing = 0;
  private nextJob = 1;
  /** Claim ids, 1..2^31-1 (they live in an Int32 slot; unique per thread is all they need). */
  private nextClaim = 0;
  private closing: Promise<void> | null = null;
  /** Set by close(): called when every thread is idle (nothing is left to run). */
  private onDrained: (() => void) | null = null;
  /** Set by close() once it stops the threads: a thread that exits then is not replaced. */
  private stopping = false;

  /** @throws RangeError naming `threads` when it is not an integer ≥ 1. */
  constructor(private readonly options: ModelWorkerPoolOptions<Task>) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`${options.name}: threads must be an integer ≥ 1, got ${options.threads}`);
    for (let i = 0; i < options.threads; i++) this.startThread();
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
   * @param options.startWithinMs longest the task may wait for a thread to start it, in ms, counted
   *   from this call (none: unbounded); past it the task is withdrawn and never runs.
   * @throws PoolClosedError after close(); QueueTimeoutError (code ETIMEDOUT, `queued`) when no
   *   thread started it within `startWithinMs`; an Error with code ETIMEDOUT when the run passed
   *   `deadlineMs` (it goes on on its thread; its result is dropped); the worker's error when it failed or died.
   */
  run(task: Task, options: { deadlineMs?: number; startWithinMs?: number } = {}): Promise<Reply> {
    if (this.closing) return Promise.reject(closedError(this.options.name));
    const { claim, envelope } = this.envelopeOf(options.startWithinMs);
    // Not async: without a deadline the caller gets the task's own promise (one promise and wake-up fewer per task).
    if (options.deadlineMs === undefined) return this.submit({ ...task, ...envelope }, { claim, startWithinMs: options.startWithinMs });
    return this.runWithDeadline(task, envelope, options.deadlineMs, options.startWithinMs);
  }

  /**
   * Runs `task` once on every thread the pool has now, each copy pinned to its thread: an idle
   * thread starts it at once, a busy one before any queued task when its current task ends.
   * @param options.startWithinMs longest each copy may wait for its thread to start it (as for run()).
   * @returns one reply per thread, in no particular order; a copy rejects as run() would (a
   *   QueueTimeoutError when withdrawn, the worker's error); after close() one PoolClosedError.
   */
  runOnEachThread(task: Task, options: { startWithinMs?: number } = {}): Array<Promise<Reply>> {
    if (this.closing) return [Promise.reject(closedError(this.options.name))];
    return [...this.threads].map((thread) => this.runPinned(thread, task, options.startWithinMs));
  }

  private runPinned(thread: Thread, task: Task, startWithinMs: number | undefined, warm = false): Promise<Reply> {
    const { claim, envelope } = this.envelopeOf(startWithinMs);
    return this.submit({ ...task, ...envelope }, { claim, startWithinMs, pinnedTo: thread, warm });
  }

  /** What every task gets besides its own fields: the keys held now, and a claim id when it has a start deadline. */
  private envelopeOf(startWithinMs: number | undefined): { claim: number | undefined; envelope: PoolTaskEnvelope } {
    const claim = startWithinMs === undefined ? undefined : (this.nextClaim = (this.nextClaim % 0x7fffffff) + 1);
    return { claim, envelope: claim === undefined ? { live: [...this.held] } : { live: [...this.held], claim } };
  }

  private async runWithDeadline(task: Task, envelope: PoolTaskEnvelope, deadlineMs: number, startWithinMs: number | undefined): Promise<Reply> {
    const jobId = this.nextJob++;
    let onRunStarted!: () => void;
    const started = new Promise<void>((resolve) => (onRunStarted = resolve));
    const running = this.submit({ ...task, ...envelope, jobId }, { jobId, onRunStarted, claim: envelope.claim, startWithinMs });
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
  }

  /**
   * Refuses new tasks from now on, lets the accepted ones finish (at most 30 s), stops the threads
   * (a second call waits for the first).
   */
  close(): Promise<void> {
    return (this.closing ??= this.drainAndStop());
  }

  private submit(message: object, start: { jobId?: number; onRunStarted?: () => void; claim?: number; startWithinMs?: number; pinnedTo?: Thread; warm?: boolean }): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const job: Job = { message, jobId: start.jobId, resolve: resolve as (reply: unknown) => void, reject, onRunStarted: start.onRunStarted, claim: start.claim, pinnedTo: start.pinnedTo, warm: start.warm };
      if (start.startWithinMs !== undefined) {
        const timer = setTimeout(() => this.expire(job, start.startWithinMs!), start.startWithinMs);
        job.resolve = (reply) => {
          clearTimeout(timer);
          resolve(reply as Reply);
        };
        job.reject = (error) => {
          clearTimeout(timer);
          reject(error);
        };
      }
      const pinnedTo = start.pinnedTo;
      if (pinnedTo) {
        const at = this.idle.indexOf(pinnedTo);
        if (at >= 0) {
          this.idle.splice(at, 1);
          this.send(pinnedTo, job);
        } else pinnedTo.pinned.push(job);
        return;
      }
      while (this.missing > 0) {
        this.missing--;
        this.startThread();
      }
      const thread = this.idle.pop();
      if (thread) this.send(thread, job);
      else this.queue.push(job);
    });
  }

  /** The job's start deadline passed: withdraw it unless a thread has started it (then it runs on). */
  private expire(job: Job, waitedMs: number): void {
    const error = () => new QueueTimeoutError(`waited ${waitedMs} ms for a thread of ${this.options.name} to start it (every thread busy, or not given a core): withdrawn, not run`);
    const waiting = job.pinnedTo?.pinned ?? this.queue;
    const at = waiting.indexOf(job);
    if (at >= 0) {
      waiting.splice(at, 1);
      job.reject(error());
    } else if (job.thread?.job === job && job.thread.loaded && Atomics.compareExchange(job.thread.claim, 0, job.claim!, 0) === job.claim) {
      // Posted and not picked up: the thread will skip it and answer (then takes the next task).
      job.reject(error());
    }
  }

  private send(thread: Thread, job: Job): void {
    if (job.claim !== undefined) {
      Atomics.store(thread.claim, 0, job.claim);
      job.thread = thread;
    }
    try {
      thread.worker.postMessage(job.message);
    } catch (error) {
      // A task that cannot be cloned (a function in it): it fails alone, before the thread counts
      // as busy with it, and the thread takes the next one (else it would wait for a reply forever).
      job.reject(error);
      this.next(thread);
      return;
    }
    if (thread.job === null) thread.worker.ref();
    thread.job = job;
  }

  /** The thread finished its job: it takes the oldest queued one, or goes idle (and stops holding the process). */
  private next(thread: Thread): void {
    const job = thread.pinned.shift() ?? this.queue.shift();
    if (job) {
      this.send(thread, job);
      return;
    }
    thread.job = null;
    thread.worker.unref();
    this.idle.push(thread);
    if (this.onDrained && this.idle.length === this.threads.size) this.onDrained();
  }

  private startThread(replacement = false, warm = replacement): void {
    const { nice = 0, schedIdle = false, entry, name } = this.options;
    const claim = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(POOL_WORKER, { workerData: { entry, nice, schedIdle, claim } });
    const thread: Thread = { worker, job: null, loaded: false, claim, pinned: [] };
    this.threads.add(thread);
    // A replacement takes tasks once loaded: a queued task keeps its start deadline in the queue meanwhile.
    if (!replacement) this.idle.push(thread);
    let failure: unknown = null;
    worker.on("message", (message: WorkerMessage) => {
      const job = thread.job;
      if ("value" in message) {
        if (!job) return;
        this.next(thread);
        job.resolve(message.value);
      } else if ("error" in message) {
        if (!job) return;
        this.next(thread);
        job.reject(message.error);
      } else if (RUN_STARTED in message) {
        if (job && job.jobId === message[RUN_STARTED]) job.onRunStarted?.();
      } else {
        thread.loaded = true;
        if (replacement && !thread.job) this.next(thread);
      }
    });
    worker.on("error", (error: unknown) => {
      failure = error;
      // A thread that fails with no task in hand: it is replaced all the same.
      if (!thread.job) console.error(`[rerank] ${name}: a worker thread failed:`, error);
    });
    worker.on("exit", (code: number) => {
      this.threads.delete(thread);
      const at = this.idle.indexOf(thread);
      if (at >= 0) this.idle.splice(at, 1);
      const error = failure ?? new Error(`a worker thread of ${name} exited with code ${code}`);
      const job = thread.job;
      thread.job = null;
      job?.reject(error);
      for (const pinned of thread.pinned.splice(0)) pinned.reject(error);
      if (this.stopping) return;
      if (thread.loaded) {
        // A thread that died in one of its warm tasks (a model whose run kills its thread): its
        // replacement runs none, else every replacement would die the same way, in a loop.
        this.startThread(true, job?.warm !== true);
      } else {
        // Its task module did not load: every queued task would fail the same way.
        for (const queued of this.queue.splice(0)) queued.reject(error);
        this.missing++;
      }
      if (this.onDrained && this.idle.length === this.threads.size) this.onDrained();
    });
    // After the listeners: adding a "message" listener refs the worker's port again.
    worker.unref();
    // A replacement opens what the pool serves before its first queued task (it runs them once loaded).
    if (warm) for (const task of this.options.warmTasks?.() ?? []) this.runPinned(thread, task, undefined, true).catch(() => {});
  }

  private async drainAndStop(): Promise<void> {
    const busy = this.threads.size - this.idle.length;
    if (busy > 0) {
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<boolean>((resolve) => (this.onDrained = () => resolve(true)));
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS).unref()));
      const finished = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (!finished) console.error(`[rerank] ${this.options.name}: tasks still running ${CLOSE_TIMEOUT_MS / 1000} s after close(); stopping its threads`);
    }
    this.stopping = true;
    const closed = closedError(this.options.name);
    for (const job of this.queue.splice(0)) job.reject(closed);
    for (const thread of this.threads) for (const job of thread.pinned.splice(0)) job.reject(closed);
    await Promise.all([...this.threads].map((thread) => thread.worker.terminate()));
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
      if (s.closed) throw closedError(name);
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
