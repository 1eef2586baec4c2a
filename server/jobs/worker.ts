import { env } from "../config";
import { databaseUrl } from "../db/client";
import type { JobRunner } from "./runner";

// The job worker of a server process: started by server/http/main.ts after the server listens (unless
// JOBS_ENABLED=0), stopped on SIGTERM/SIGINT before the process exits. Kept on globalThis so that
// the shutdown handler in Next's bundle (rerank/warm.ts) stops the runner main.ts started.

const holder = globalThis as unknown as { __rerankJobs?: Promise<JobRunner | null> };

/**
 * Starts this process's worker for the console's tasks and schedules (once; later calls return the
 * same runner). @returns null when JOBS_ENABLED=0.
 */
export function startJobs(log: (line: string) => void = console.log): Promise<JobRunner | null> {
  holder.__rerankJobs ??= (async () => {
    const config = env();
    if (!config.JOBS_ENABLED) {
      log("[jobs] no worker in this process (JOBS_ENABLED=0): jobs wait for a process that runs one");
      return null;
    }
    // Imported here so that bundles which only stop the worker (or enqueue) leave graphile-worker out.
    const [{ startJobRunner }, { TASKS }, { HANDLERS }, { SCHEDULES }] = await Promise.all([
      import("./runner"), import("./tasks"), import("./handlers"), import("./schedules"),
    ]);
    const runner = await startJobRunner({
      connectionString: databaseUrl(),
      tasks: TASKS,
      handlers: HANDLERS,
      schedules: SCHEDULES,
      concurrency: config.JOBS_CONCURRENCY,
      pollIntervalMs: config.JOBS_POLL_INTERVAL_MS,
      log,
    });
    log(`[jobs] worker running: ${Object.keys(TASKS).length} tasks, ${SCHEDULES.length} schedules, concurrency ${config.JOBS_CONCURRENCY}`);
    return runner;
  })();
  return holder.__rerankJobs;
}

/** Stops this process's worker, if one runs: waits for running jobs up to `graceMs`, then fails them so they are retried. */
export async function stopJobs(graceMs?: number): Promise<void> {
  const started = holder.__rerankJobs;
  if (!started) return;
  const runner = await started.catch(() => null);
  await runner?.stop(graceMs);
}
