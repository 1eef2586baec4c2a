import { z } from "zod";
import { getDb } from "../db/client";
import { defineQueue, type EnqueuedJob, type EnqueueOptions, type JobSql, type PayloadIn, type TaskSchemas } from "./queue";

// The console's jobs: task name → the zod schema of its payload, one line per task. Handlers are in
// handlers.ts and schedules in schedules.ts, so that a service can enqueue without importing the
// handlers (which import services in turn).

export const TASKS = {
  /** Judges the current step of a canary rollout (server/rollouts/jobs.ts). */
  "rollout.judge": z.strictObject({ rolloutId: z.string().min(1) }),
  /** Re-queues a judge for every running rollout left without one (every minute). */
  "rollout.sweep": z.object({}),
  /** One attempt to deliver a stored webhook event to one endpoint (server/webhooks/deliver.ts). */
  "webhook.deliver": z.object({ endpointId: z.string().min(1), eventId: z.string().min(1) }),
  /** Drops log partitions older than RETENTION_DAYS (or `days`) and creates the coming week's (server/system/retention.ts). */
  "retention.run": z.object({ days: z.number().int().min(1).max(3650).optional() }),
} satisfies TaskSchemas;

export type Tasks = typeof TASKS;
export type TaskName = keyof Tasks & string;

const queue = defineQueue(TASKS);

/**
 * Adds a job on the pool (committed at once). Use enqueueInTransaction when the job reacts to a
 * change made in a transaction. Options: jobKey (de-duplicates a waiting job), runAt, maxAttempts,
 * queueName, priority. @returns the job's id; @throws JobPayloadError for an invalid payload.
 */
export function enqueue<K extends TaskName>(task: K, payload: PayloadIn<Tasks, K>, options?: EnqueueOptions): Promise<EnqueuedJob> {
  return queue.enqueueInTransaction(getDb(), task, payload, options);
}

/**
 * Adds a job inside `tx` (a Prisma transaction client): the job exists, and runs, only if the
 * transaction commits: `db.$transaction(async (tx) => { …change…; await enqueueInTransaction(tx, …) })`.
 */
export function enqueueInTransaction<K extends TaskName>(tx: JobSql, task: K, payload: PayloadIn<Tasks, K>, options?: EnqueueOptions): Promise<EnqueuedJob> {
  return queue.enqueueInTransaction(tx, task, payload, options);
}
