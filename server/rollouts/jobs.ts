import { getDb, type Db } from "../db/client";
import { judgeRollout, queueJudge, sweepRollouts, withJudgeLock, type JudgeOutcome } from "./service";

// The canary analysis as durable jobs on the console's queue (server/jobs): instead of a ticker in
// every process, one "rollout.judge" job waits per running rollout (its job key), run by whichever
// process's worker takes it. A crash mid-judge loses no tick: the job queues its successor before it
// judges, and the judged step is written exactly once (rollout_steps is unique per step). A crash in
// the few ms between taking a tick and queueing its successor leaves that tick locked by the dead
// worker (graphile-worker frees it after 4 hours): the crontab's "rollout.sweep" re-queues any
// rollout left without a waiting judge within a minute. A successor that
// comes due while this run still judges (a step slower than the tick) finds the rollout's judge lock
// taken and only queues the next tick (withJudgeLock): one judge per rollout at a time.

/**
 * One tick: queue the next tick, then judge the current step unless another judge of the rollout
 * is running (null: skipped; the queued tick judges after it). `judge` is judgeRollout (tests pass a slow one).
 */
export async function judgeTick<T>(db: Db, rolloutId: string, judge: () => Promise<T>): Promise<T | null> {
  await queueJudge(db, rolloutId);
  return withJudgeLock(rolloutId, judge);
}

/** One tick of one rollout: queue the next tick, then judge the current step. */
export async function runJudgeJob(payload: { rolloutId: string }): Promise<void> {
  const db = getDb();
  const rollout = await db.rollout.findUnique({ where: { id: payload.rolloutId }, select: { status: true } });
  // Paused or ended: no successor (resume queues one again).
  if (rollout?.status !== "running") return;
  const outcome: JudgeOutcome | null = await judgeTick(db, payload.rolloutId, () => judgeRollout(db, payload.rolloutId));
  if (!outcome) return; // another judge of this rollout is running
  if (outcome.decision === "advance" || outcome.decision === "fail") {
    // This process serves the new share at once; other replicas within CONFIG_WATCH_INTERVAL_MS.
    const { surfaceConfigs } = await import("../surfaces/configCache");
    await surfaceConfigs().refresh({ surfaces: [outcome.surface] });
    console.log(`[rollout] ${outcome.surface}: ${outcome.decision} → ${outcome.status} at ${outcome.percent}%`);
  }
  // Past the step's deadline without a required sample: serving is unchanged, on-call decides.
  if (outcome.decision === "pause") console.log(`[rollout] ${outcome.surface}: paused at its step deadline at ${outcome.percent}% (see the rollout's reason)`);
}

export async function runSweepJob(): Promise<void> {
  await sweepRollouts(getDb());
}
