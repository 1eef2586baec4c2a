import { getDb } from "../db/client";
import { callerAs } from "./callers";

// Rollouts for tests of the pages that list them: a real canary started through the router, and
// ended rollouts stored directly (starting and ending dozens through the judge is slow), as a
// pipeline that starts canaries which roll back leaves them.

const MINUTE = 60_000;

/**
 * Starts a canary of `version` on `surface` through rollouts.start (steps 5 → 50 %) and dates its
 * start `daysAgo` days back (a canary running since Monday). Returns the rollout's row.
 */
export async function startTestCanary(surface: string, options: { version: number; daysAgo: number }) {
  await callerAs(["ml_engineer", "oncall"], "ml@rerank.local").rollouts.start({ surface, version: options.version, steps: [5, 50], reason: `test canary on ${surface}` });
  const rollout = await getDb().rollout.findFirstOrThrow({ where: { surface: { key: surface }, status: "running" } });
  return getDb().rollout.update({ where: { id: rollout.id }, data: { startedAt: new Date(Date.now() - options.daysAgo * 86_400_000) } });
}

/**
 * Stores `count` rolled-back rollouts of `version` (from v1) on `surface`, started one a minute
 * apart back from `newest` and each ended 30 s after its start.
 */
export async function insertRolledBackRollouts(surface: string, options: { version: number; count: number; newest: Date }) {
  const db = getDb();
  const row = await db.surface.findUniqueOrThrow({ where: { key: surface }, include: { model: { include: { versions: true } } } });
  const versionId = (v: number) => row.model!.versions.find((x) => x.version === v)!.id;
  await db.rollout.createMany({
    data: Array.from({ length: options.count }, (_, i) => {
      const startedAt = new Date(options.newest.getTime() - i * MINUTE);
      return {
        surfaceId: row.id, modelId: row.model!.id, fromVersionId: versionId(1), toVersionId: versionId(options.version), status: "rolled_back" as const,
        steps: [5, 50], currentPercent: 0, createdBy: "pipeline", startedAt, stepStartedAt: startedAt, endedAt: new Date(startedAt.getTime() + 30_000),
      };
    }),
  });
}
