import type { JobSchedule } from "./runner";
import type { Tasks } from "./tasks";

// The console's crontab (UTC). graphile-worker adds each run once across every process that runs a
// worker (its known_crontabs bookkeeping), so replicas do not repeat a scheduled job.

export const SCHEDULES: ReadonlyArray<JobSchedule<Tasks>> = [
  { task: "rollout.sweep", match: "* * * * *" },
];
