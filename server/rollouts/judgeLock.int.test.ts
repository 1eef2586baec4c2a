// Break test (finding 3): a judge slower than the tick queued its successor before it judged, and
// the successor, due before the first ended, ran beside it (8 judges of one rollout at once). A tick
// now judges only while it holds the rollout's judge lock (judgeTick, withJudgeLock): at most one
// judge per rollout at a time, while another rollout's judge still runs in parallel. Real
// graphile-worker runners on the run's PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { startJobRunner, type JobRunner } from "../jobs/runner";
import { TASKS } from "../jobs/tasks";
import { waitFor } from "../testing/tcpProxy";
import { judgeTick } from "./jobs";
import { queueJudge } from "./service";

const ROLLOUTS = ["t-judge-queue-a", "t-judge-queue-b"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let runners: JobRunner[] = [];

beforeAll(() => setEnv("ROLLOUT_TICK_MS", "200"));
afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop(2000)));
  await getDb().$executeRaw`DELETE FROM graphile_worker._private_jobs WHERE key IN ('rollout:t-judge-queue-a', 'rollout:t-judge-queue-b') OR payload->>'rolloutId' IN ('t-judge-queue-a', 't-judge-queue-b')`;
  setEnv("ROLLOUT_TICK_MS", undefined);
});

describe("rollout judge jobs", () => {
  it("judge one at a time per rollout (a 600 ms judge on a 200 ms tick, two runners of 4 workers each), and two rollouts' judges in parallel", async () => {
    const active = new Map<string, number>(ROLLOUTS.map((r) => [r, 0]));
    const most = new Map<string, number>(ROLLOUTS.map((r) => [r, 0]));
    const runs = new Map<string, number>(ROLLOUTS.map((r) => [r, 0]));
    let together = 0; // the most judges of different rollouts running at once
    let stopping = false;
    const tasks = { "rollout.judge": TASKS["rollout.judge"] };
    // What runJudgeJob does (judgeTick: queue the successor, then judge), with a slow judge in place of judgeRollout.
    const slowJudge = (rolloutId: string) => async () => {
      active.set(rolloutId, active.get(rolloutId)! + 1);
      most.set(rolloutId, Math.max(most.get(rolloutId)!, active.get(rolloutId)!));
      together = Math.max(together, [...active.values()].filter((n) => n > 0).length);
      try {
        // The sweep's re-queue (preserve_run_at) while this one runs, as the crontab does every minute.
        if (!stopping) await queueJudge(getDb(), rolloutId, "preserve_run_at");
        await sleep(600);
        runs.set(rolloutId, runs.get(rolloutId)! + 1);
      } finally {
        active.set(rolloutId, active.get(rolloutId)! - 1);
      }
    };
    const handlers = {
      "rollout.judge": async ({ rolloutId }: { rolloutId: string }) => {
        if (!active.has(rolloutId) || stopping) return; // another test's rollout, or done
        await judgeTick(getDb(), rolloutId, slowJudge(rolloutId));
      },
    };
    for (let i = 0; i < 2; i++) runners.push(await startJobRunner({ connectionString: databaseUrl(), tasks, handlers, concurrency: 4, pollIntervalMs: 100, log: () => {} }));
    for (const r of ROLLOUTS) await queueJudge(getDb(), r);
    await waitFor(async () => ROLLOUTS.every((r) => runs.get(r)! >= 4), "four judges of each rollout", 30_000);
    stopping = true;
    await Promise.all(runners.map((r) => r.stop(5000)));
    runners = [];
    expect(Object.fromEntries(most)).toEqual({ "t-judge-queue-a": 1, "t-judge-queue-b": 1 }); // was 2 and more
    expect(together).toBe(2);
  }, 60_000);
});
