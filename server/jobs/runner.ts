import { Logger, parseCronItems, run, runMigrations, type CronItem, type Runner, type TaskList } from "graphile-worker";
import type { PayloadOut, TaskSchemas } from "./queue";
import { describeZodError } from "../validation";
import { withDeadline } from "../domain/time/deadline";
import { durablePool } from "../db/pgClient";

// Runs jobs with graphile-worker: a pool of `concurrency` workers in this process, woken by
// PostgreSQL's LISTEN/NOTIFY when a job is added (milliseconds) and polling every `pollIntervalMs`
// for jobs that become due later (retries, runAt). Every process that runs a runner takes jobs from
// the same table; a job is locked by one worker at a time, so each runs once per attempt.

/** What a handler knows about the job it runs. */
export interface JobContext {
  id: string;
  /** 1 on the first run, 2 on the first retry … */
  attempt: number;
  maxAttempts: number;
  /** The jobKey it was added with, if any. */
  key: string | null;
  /** Aborted when the runner is stopped forcefully: long handlers should give up then. */
  signal: AbortSignal;
}

/**
 * A handler per task. It completes the job by returning; throwing fails this attempt, and the job
 * is retried with backoff (retryDelayMs) until its maxAttempts.
 */
export type JobHandlers<T extends TaskSchemas> = {
  [K in keyof T]: (payload: PayloadOut<T, K>, job: JobContext) => Promise<void>;
};

/** A crontab entry: `task` is added at every time `match` names (UTC), once across every runner. */
export interface JobSchedule<T extends TaskSchemas> {
  task: keyof T & string;
  /** Five crontab fields, UTC: "15 3 * * *" is 03:15 every day. */
  match: string;
  /** Names the schedule in graphile_worker's bookkeeping (default: the task's name). */
  identifier?: string;
  /** Added to the payload (graphile-worker also adds `_cron: { ts, backfilled }`). */
  payload?: Record<string, unknown>;
  /** After a stop, runs missed within this many ms are added at start (default 0: none). */
  backfillPeriodMs?: number;
  maxAttempts?: number;
}

export interface JobRunnerOptions<T extends TaskSchemas> {
  connectionString: string;
  tasks: T;
  handlers: JobHandlers<T>;
  schedules?: ReadonlyArray<JobSchedule<T>>;
  concurrency: number;
  pollIntervalMs: number;
  log?: (line: string) => void;
}

export interface JobRunner {
  /** Stops taking jobs and waits for those running (at most `graceMs`, then fails them so they are retried). */
  stop(graceMs?: number): Promise<void>;
}

/** graphile-worker's log lines go to `log` from warnings up; its per-job info lines are dropped. */
function loggerTo(log: (line: string) => void): Logger {
  return new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") log(`[jobs] ${level}: ${message.split("\n")[0]}`);
  });
}

/** Creates graphile-worker's schema (graphile_worker) or brings it up to date; safe from several processes. */
export async function migrateJobQueue(connectionString: string): Promise<void> {
  await runMigrations({ connectionString, logger: loggerTo(() => {}) });
}

/**
 * Starts a runner for `tasks`. Payloads are parsed with the task's schema before its handler runs;
 * a payload that does not parse (a job added by older code) is logged and dropped, not retried.
 */
export async function startJobRunner<T extends TaskSchemas>(options: JobRunnerOptions<T>): Promise<JobRunner> {
  const log = options.log ?? console.log;
  const taskList: TaskList = {};
  for (const name of Object.keys(options.tasks) as Array<keyof T & string>) {
    const schema = options.tasks[name]!;
    const handler = options.handlers[name];
    taskList[name] = async (payload, helpers) => {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        log(`[jobs] ${name} job ${helpers.job.id} dropped: its payload is invalid (${describeZodError(parsed.error)})`);
        return;
      }
      await handler(parsed.data as PayloadOut<T, typeof name>, {
        id: String(helpers.job.id),
        attempt: helpers.job.attempts,
        maxAttempts: helpers.job.max_attempts,
        key: helpers.job.key,
        signal: helpers.abortSignal,
      });
    };
  }
  const cron: CronItem[] = (options.schedules ?? []).map((s) => ({
    task: s.task,
    match: s.match,
    identifier: s.identifier ?? s.task,
    payload: s.payload ?? {},
    options: { backfillPeriod: s.backfillPeriodMs ?? 0, maxAttempts: s.maxAttempts },
  }));
  // The listener and the workers' own connections (the console's pool is separate). Ours, not
  // graphile-worker's: it removes its error listener from a pool of its own before that pool has
  // ended, so PostgreSQL ending a connection while the runner stops would end the process.
  const pool = durablePool({ connectionString: options.connectionString, max: options.concurrency + 2 });
  const runner: Runner = await run({
    pgPool: pool,
    concurrency: options.concurrency,
    pollInterval: options.pollIntervalMs,
    noHandleSignals: true,
    logger: loggerTo(log),
    taskList,
    parsedCronItems: parseCronItems(cron),
  });
  let stopping: Promise<void> | null = null;
  return {
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        const outcome = await withDeadline(runner.stop().then(() => "stopped" as const), graceMs, () => "overdue" as const);
        if (outcome === "overdue") await runner.kill("the server is stopping");
        await pool.end().catch(() => {});
      })();
      return stopping;
    },
  };
}
