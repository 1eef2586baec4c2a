import type { JobSchedule } from "./runner";
import type { Tasks } from "./tasks";

// The console's crontab (UTC). graphile-worker adds each run once across every process that runs a
// worker (its known_crontabs bookkeeping), so replicas do not repeat a scheduled job.

export const SCHEDULES: ReadonlyArray<JobSchedule<Tasks>> = [
  // Daily at 03:15 UTC; a run missed while no worker was up (within a day) is made up at start.
  { task: "retention.run", match: "15 3 * * *", identifier: "retention", backfillPeriodMs: 86_400_000, maxAttempts: 5 },
  { task: "rollout.sweep", match: "* * * * *" },
];
