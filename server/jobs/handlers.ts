import { getDb } from "../db/client";
import { runRetention } from "../system/retention";
import { deliverWebhook } from "../webhooks/deliver";
import type { JobHandlers } from "./runner";
import type { Tasks } from "./tasks";
import { runJudgeJob, runSweepJob } from "../rollouts/jobs";

// What runs each of the console's tasks (tasks.ts names them and their payloads). The compiler asks
// for one handler per task.

export const HANDLERS: JobHandlers<Tasks> = {
  "rollout.judge": (payload) => runJudgeJob(payload),
  "rollout.sweep": () => runSweepJob(),
  "webhook.deliver": (payload, job) => deliverWebhook(getDb(), payload, job),
  "retention.run": async ({ days }) => void (await runRetention({ retentionDays: days })),
};
