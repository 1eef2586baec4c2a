import { z } from "zod";
import type { Prisma } from "../db/generated/client";
import { describeZodError } from "../validation";

// The console's one job queue is graphile-worker on the console's own PostgreSQL (README: "Job
// queue"). Jobs are added with its SQL function graphile_worker.add_job(), through whichever Prisma
// client the caller holds: the pool, or the transaction that makes the change the job reacts to, so
// that the change and its job commit together or not at all. This module imports nothing of
// graphile-worker (the worker itself is in worker.ts), so any bundle, Next's included, can enqueue.

/** Task name → the zod schema of its payload. */
export type TaskSchemas = Record<string, z.ZodType>;

/** What runs a job: the pool (getDb()) or a transaction client (`db.$transaction(async (tx) => …)`). */
export type JobSql = Pick<Prisma.TransactionClient, "$queryRaw">;

export interface EnqueueOptions {
  /**
   * De-duplicates: while a job with this key waits (not yet running), adding another with the same
   * key replaces it instead of adding a second (e.g. `rollout:<id>:step:<n>`, one judge per tick).
   */
  jobKey?: string;
  /**
   * With a jobKey: `replace` (default) overwrites the waiting job's payload and run time;
   * `preserve_run_at` keeps its run time; `unsafe_dedupe` keeps the waiting (or running) job as it is.
   */
  jobKeyMode?: "replace" | "preserve_run_at" | "unsafe_dedupe";
  /** Not before this time (default: now). */
  runAt?: Date;
  /** Attempts before the job is left failed (default 25). Retries wait exp(min(attempt, 10)) s: see retryDelayMs. */
  maxAttempts?: number;
  /** Jobs with one queue name run one at a time, in order. Keep the number of names small. */
  queueName?: string;
  /** Lower runs first (default 0). */
  priority?: number;
}

export interface EnqueuedJob {
  /** graphile_worker's job id (a bigint, as text). */
  id: string;
}

/** The payload a caller passes for `task` (zod input type). */
export type PayloadIn<T extends TaskSchemas, K extends keyof T> = z.input<T[K]>;
/** The payload a handler receives for `task`, parsed (zod output type). */
export type PayloadOut<T extends TaskSchemas, K extends keyof T> = z.output<T[K]>;

/** An invalid payload or option is a bug of the caller: thrown before anything is queued. */
export class JobPayloadError extends Error {
  readonly code = "JOB_PAYLOAD_INVALID";
}

/**
 * Delay before retry number `attempt` (1 = the first retry, after the first failed run), in ms:
 * graphile-worker's backoff, run_at = now + exp(min(attempt, 10)) s (its fail_job SQL): 2.7 s,
 * 7.4 s, 20 s, 55 s, 2.5 min, 6.7 min, 18 min … capped at 6.1 h.
 */
export function retryDelayMs(attempt: number): number {
  return Math.exp(Math.min(Math.max(attempt, 1), 10)) * 1000;
}

/**
 * Binds enqueue functions to a table of task payload schemas: the console's is TASKS
 * (server/jobs/tasks.ts); tests make their own. Both functions validate the payload with the task's
 * schema before anything is written (@throws JobPayloadError naming the field).
 */
export function defineQueue<T extends TaskSchemas>(tasks: T) {
  function payloadOf<K extends keyof T & string>(task: K, payload: PayloadIn<T, K>): unknown {
    const schema = tasks[task];
    if (!schema) throw new JobPayloadError(`unknown job task "${task}"`);
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new JobPayloadError(`job ${task}: ${describeZodError(parsed.error)}`);
    return parsed.data;
  }

  /**
   * Adds a job inside the caller's transaction (or on the pool): it becomes visible, and the worker
   * is woken (graphile-worker's NOTIFY, delivered at commit), only if that transaction commits.
   * @returns the job's id.
   */
  async function enqueueInTransaction<K extends keyof T & string>(
    tx: JobSql,
    task: K,
    payload: PayloadIn<T, K>,
    options: EnqueueOptions = {},
  ): Promise<EnqueuedJob> {
    const body = JSON.stringify(payloadOf(task, payload));
    if (options.maxAttempts !== undefined && !(Number.isInteger(options.maxAttempts) && options.maxAttempts >= 1 && options.maxAttempts <= 32_767)) {
      throw new JobPayloadError(`job ${task}: maxAttempts must be an integer from 1 to 32767, got ${options.maxAttempts}`);
    }
    const runAt = options.runAt ? options.runAt.toISOString() : null;
    const rows = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id::text AS id FROM graphile_worker.add_job(
        identifier => ${task}::text,
        payload => ${body}::json,
        queue_name => ${options.queueName ?? null}::text,
        run_at => ${runAt}::timestamptz,
        max_attempts => ${options.maxAttempts ?? null}::int,
        job_key => ${options.jobKey ?? null}::text,
        priority => ${options.priority ?? null}::int,
        job_key_mode => ${options.jobKeyMode ?? "replace"}::text)`;
    return { id: rows[0]!.id };
  }

  return { tasks, enqueueInTransaction };
}
