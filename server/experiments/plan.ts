import type { Db } from "../db/client";
import { unitBaseline } from "../domain/experiments/analyse";
import { metricDefinition } from "../domain/experiments/metrics";
import { planSampleSize, type MeanSummary, type RatioSummary } from "../domain/stats";
import { NotFoundError } from "../errors";

// The power calculator behind the experiment form: the surface's recent traffic per user gives the
// primary metric's baseline and its per-user variance, and with the daily users the sample size and
// duration a minimum detectable effect implies, for the engine that will read the result (the
// experiment's analysisMode; default sequential, as an experiment's). Units are users, as the
// experiment randomises them: CTR's variance is the delta method's over per-user sums (a user's
// impressions are not independent trials), as the results page analyses it (analyse.ts).

/** The primary metrics a plan can be made for from recent events; others are planned on the results page from the control's data. */
export const PLANNABLE_FROM_EVENTS = ["ctr", "conversion", "revenue_per_session"] as const;

interface UnitSums { n: number; sx: number; sy: number; sxx: number; syy: number; sxy: number; users: number; impressions: number; clicks: number; first: Date | null }

/**
 * The sample size and duration a minimum detectable effect implies on a surface's recent traffic.
 * Input: `minimumDetectableEffect` relative (0.1 = 10 %); `weights` the variants' traffic split,
 * control first; `days` the window read (default 7); `primaryMetric` (default "ctr").
 * @returns `{ ready: true, metric, baseline, perUnitVariance, dailyUnits, …SampleSizePlan }` with
 *   `baselineCtr` too for CTR; `{ ready: false, reason }` when the window has too little traffic or
 *   the metric is not one recent events can plan (PLANNABLE_FROM_EVENTS).
 * @throws NotFoundError (404) naming the surface when no surface has that key.
 */
export async function planFromRecentTraffic(
  db: Db,
  input: { surface: string; minimumDetectableEffect: number; weights: number[]; days?: number; analysisMode?: "sequential" | "fixed" | "bayesian"; primaryMetric?: string },
) {
  if (!(await db.surface.findUnique({ where: { key: input.surface }, select: { id: true } }))) throw new NotFoundError("surface", input.surface);
  const metric = input.primaryMetric ?? "ctr";
  const definition = metricDefinition(metric);
  if (!(PLANNABLE_FROM_EVENTS as readonly string[]).includes(metric)) {
    return { ready: false as const, reason: `a plan from recent events is made for CTR, conversion and revenue; ${definition.label} is planned on the results page from the control's own data once the experiment runs` };
  }
  const days = input.days ?? 7;
  const since = new Date(Date.now() - days * 86_400_000);
  // Per user: x, y are CTR's impressions and clicked impressions, conversion's 1 and purchased (0/1),
  // revenue's 1 and its purchases' revenue. Users are those with an event in the window.
  const [sums] = await db.$queryRaw<UnitSums[]>`
    WITH pairs AS (
      -- One row per (request, item): CTR is clicked impressions over impressions, so it stays a proportion
      -- whatever a client sends (repeated clicks, clicks on items it never reported as shown).
      SELECT user_key, bool_or(type = 'impression') AS impressed, bool_or(type = 'click') AS clicked, bool_or(type = 'purchase') AS purchased,
        coalesce(sum(revenue) FILTER (WHERE type = 'purchase'), 0) AS revenue, min(request_ts) AS request_ts
      FROM outcome_events WHERE surface = ${input.surface} AND request_ts >= ${since} AND user_key IS NOT NULL
      GROUP BY user_key, request_id, owner, item_id
    ), users AS (
      SELECT user_key, count(*) FILTER (WHERE impressed)::float8 AS impressions, count(*) FILTER (WHERE impressed AND clicked)::float8 AS clicks,
        (bool_or(purchased))::int::float8 AS converted, sum(revenue)::float8 AS revenue, min(request_ts) AS first
      FROM pairs GROUP BY user_key
    ), unit AS (
      SELECT (CASE WHEN ${metric}::text = 'ctr' THEN impressions ELSE 1 END)::float8 AS x,
        (CASE ${metric}::text WHEN 'ctr' THEN clicks WHEN 'conversion' THEN converted ELSE revenue END)::float8 AS y, impressions, clicks, first
      FROM users WHERE ${metric}::text <> 'ctr' OR impressions > 0
    )
    SELECT count(*)::float8 AS n, coalesce(sum(x), 0) AS sx, coalesce(sum(y), 0) AS sy, coalesce(sum(x * x), 0) AS sxx, coalesce(sum(y * y), 0) AS syy, coalesce(sum(x * y), 0) AS sxy,
      count(*)::float8 AS users, coalesce(sum(impressions), 0)::float8 AS impressions, coalesce(sum(clicks), 0)::float8 AS clicks, min(first) AS first
    FROM unit`;
  const n = Number(sums?.n ?? 0);
  const impressions = Number(sums?.impressions ?? 0);
  const clicks = Number(sums?.clicks ?? 0);
  if (n < 2 || (metric === "ctr" && (impressions < 100 || clicks === 0))) {
    return { ready: false as const, reason: `not enough recent traffic on "${input.surface}" to estimate a baseline (${n} users, ${impressions} impressions, ${clicks} clicks in ${days} days)` };
  }
  const summary: MeanSummary | RatioSummary = metric === "ctr"
    ? { n, sumX: Number(sums!.sx), sumY: Number(sums!.sy), sumX2: Number(sums!.sxx), sumY2: Number(sums!.syy), sumXY: Number(sums!.sxy) }
    : { n, sum: Number(sums!.sy), sumSq: Number(sums!.syy) };
  const baseline = unitBaseline(definition.type, summary);
  if (!baseline) {
    return { ready: false as const, reason: `recent traffic on "${input.surface}" gives no ${definition.label} to plan from (${n} users in ${days} days, all with the same value)` };
  }
  const observedDays = Math.max(1 / 24, Math.min(days, (Date.now() - (sums!.first?.getTime() ?? Date.now())) / 86_400_000));
  const dailyUnits = n / observedDays;
  const value = "proportion" in baseline ? baseline.proportion : baseline.mean;
  const perUnitVariance = "proportion" in baseline ? value * (1 - value) : baseline.variance;
  try {
    // The Bayesian engine's call (P(better) ≥ 1 − α/2, flat prior) is the fixed-horizon test's.
    const analysis = (input.analysisMode ?? "sequential") === "sequential" ? "sequential" : "fixedHorizon";
    const plan = planSampleSize({ baseline, minimumDetectableEffect: input.minimumDetectableEffect, trafficSplit: input.weights, dailyUnits, analysis });
    return { ready: true as const, metric, baseline: value, perUnitVariance, ...(metric === "ctr" ? { baselineCtr: value } : {}), dailyUnits, ...plan };
  } catch (error) {
    return { ready: false as const, reason: (error as Error).message };
  }
}
