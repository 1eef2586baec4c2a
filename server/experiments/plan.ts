import type { Db } from "../db/client";
import { planSampleSize } from "../domain/stats";
import { NotFoundError } from "../errors";

// The power calculator behind the experiment form: the surface's recent CTR and daily users give
// the sample size and duration a minimum detectable effect implies, for the engine that will read
// the result (the experiment's analysisMode; default sequential, as an experiment's).

/**
 * The sample size and duration a minimum detectable effect implies on a surface's recent traffic.
 * @throws NotFoundError (404) naming the surface when no surface has that key.
 */
export async function planFromRecentTraffic(
  db: Db,
  input: { surface: string; minimumDetectableEffect: number; weights: number[]; days?: number; analysisMode?: "sequential" | "fixed" | "bayesian" },
) {
  if (!(await db.surface.findUnique({ where: { key: input.surface }, select: { id: true } }))) throw new NotFoundError("surface", input.surface);
  const days = input.days ?? 7;
  const since = new Date(Date.now() - days * 86_400_000);
  const [traffic] = await db.$queryRaw<Array<{ impressions: number; clicks: number; users: number; first: Date | null }>>`
    SELECT count(*) FILTER (WHERE impressed)::float8 AS impressions, count(*) FILTER (WHERE impressed AND clicked)::float8 AS clicks,
      count(DISTINCT user_key)::float8 AS users, min(request_ts) AS first
    FROM (
      -- One row per (request, item): CTR is clicked impressions over impressions, so it stays a proportion
      -- whatever a client sends (repeated clicks, clicks on items it never reported as shown).
      SELECT bool_or(type = 'impression') AS impressed, bool_or(type = 'click') AS clicked, min(user_key) AS user_key, min(request_ts) AS request_ts
      FROM outcome_events WHERE surface = ${input.surface} AND request_ts >= ${since} AND type IN ('impression', 'click')
      GROUP BY request_id, item_id
    ) pairs`;
  const impressions = Number(traffic?.impressions ?? 0);
  const clicks = Number(traffic?.clicks ?? 0);
  if (impressions < 100 || clicks === 0) {
    return { ready: false as const, reason: `not enough recent traffic on "${input.surface}" to estimate a baseline (${impressions} impressions, ${clicks} clicks in ${days} days)` };
  }
  const observedDays = Math.max(1 / 24, Math.min(days, (Date.now() - (traffic!.first?.getTime() ?? Date.now())) / 86_400_000));
  const baselineCtr = clicks / impressions;
  const dailyUnits = Number(traffic!.users) / observedDays;
  try {
    // The Bayesian engine's call (P(better) ≥ 1 − α/2, flat prior) is the fixed-horizon test's.
    const analysis = (input.analysisMode ?? "sequential") === "sequential" ? "sequential" : "fixedHorizon";
    const plan = planSampleSize({ baseline: { proportion: baselineCtr }, minimumDetectableEffect: input.minimumDetectableEffect, trafficSplit: input.weights, dailyUnits, analysis });
    return { ready: true as const, baselineCtr, dailyUnits, ...plan };
  } catch (error) {
    return { ready: false as const, reason: (error as Error).message };
  }
}
