import type { Db } from "../db/client";
import { analyseExperiment, type Engine, type VariantData } from "../domain/experiments/analyse";
import { starvedComparisons } from "../domain/experiments/coverage";
import type { Guardrail } from "../domain/experiments/guardrails";
import { CUPED_PRE_DAYS } from "../domain/experiments/metrics";
import { interleavingWins } from "../domain/experiments/observations";
import { clickedRequestMetricsByUnit, linearisedRatio } from "../domain/experiments/perUnit";
import { COMPETITIVE_FLAG, INTERLEAVING_REASON_PREFIX } from "../domain/interleaving/credit";
import { readServedList, servedItemReasonsSql } from "../domain/ranking/servedList";
import { Prisma } from "../db/generated/client";
import { meanSummaryFromMoments, pairedSummaryFromMoments, summarizeProportion } from "../domain/stats";
import { notifyAfterCommit, type NotifyEvent } from "../webhooks/notify";
import { InvalidInputError } from "../errors";
import { servedVersions } from "./served";
import { withinPhase } from "./phaseWindow";
import { experimentAllocation, experimentDecision, getExperiment } from "./service";

/** The first served item's reasons (json array) in either served-list format. */
const FIRST_REASONS_SQL = Prisma.raw(servedItemReasonsSql("served", 0));

// Results of one phase of an experiment (its current one unless asked): the queries only. The incremental rollup
// experiment_unit_stats (per randomisation unit), the click events for NDCG/MRR, the fallbacks in the
// request log and a recent sample of it for latency go into analyseExperiment (server/domain/experiments),
// which does every computation. The lift over time is not read here: it passes over the phase's kept
// events, so it is a query of its own (experimentLiftOverTime, liftOverTime.ts), refreshed less often.
//
// Units seen in more than one arm (experiment_unit_stats.multiple_exposure) are left out of every
// metric. The hourly rollup cannot tell them apart, so no metric is read from it: the fallback rate
// comes from the request log per unit (one pass over the phase's requests on every read).
//
// Moments come from PostgreSQL's avg / var_samp / covar_samp on float8, which accumulate stably
// (Youngs–Cramer, PostgreSQL ≥ 12), never from raw sums of squares: a mean of 1e8 keeps its variance.

/** Requests per variant (the most recent) whose latencies are read; and those its own model served, whose versions are read. */
export const LATENCY_SAMPLE_PER_VARIANT = 10_000;

/** One arm's row of unitStatsSql. */
export interface UnitRow {
  variant_key: string;
  n: number; multiple: number; converted: number;
  clicks_mean: number | null; clicks_var: number | null; impressions_mean: number | null; impressions_var: number | null; clicks_impressions_cov: number | null;
  revenue_mean: number | null; revenue_var: number | null;
}

/** Per-unit moments of Y and X in one arm (SQL's count, avg, var_samp, covar_samp; NULL below two units). */
export interface UnitPairRow {
  variant_key: string;
  n: number; y_mean: number | null; y_var: number | null; x_mean: number | null; x_var: number | null; xy_cov: number | null;
}

const num = (v: unknown) => Number(v ?? 0);
/** A UnitPairRow's moments as a paired summary (an absent row: no units). */
export const pairedSummaryOf = (r: UnitPairRow | undefined) =>
  pairedSummaryFromMoments({ n: num(r?.n), meanY: num(r?.y_mean), meanX: num(r?.x_mean), varianceY: num(r?.y_var), varianceX: num(r?.x_var), covariance: num(r?.xy_cov) });

/**
 * Per arm of experiment `experimentId`'s phase `phase`, the per-unit moments of its units (UnitRow):
 * units seen in more than one arm counted apart (`multiple`) and left out of every moment. Read from
 * experiment_unit_stats only (one row per unit), so it is cheap.
 */
export function unitStatsSql(experimentId: string, phase: number): Prisma.Sql {
  // Counts are read as float8 (exact to 2^53, a JS number): count() is bigint, and ::int fails with
  // 22003 past 2,147,483,647 rows (server/db/countCasts.test.ts).
  return Prisma.sql`
      SELECT variant_key, count(*) FILTER (WHERE NOT multiple_exposure)::float8 AS n, count(*) FILTER (WHERE multiple_exposure)::float8 AS multiple,
        count(*) FILTER (WHERE NOT multiple_exposure AND purchases > 0)::float8 AS converted,
        -- CTR's clicks: at most the unit's impressions (the rollup counts every click a client sends,
        -- shown or not), so each unit's ratio, and the arm's, lies in [0, 1] (METRIC_CATALOGUE.ctr).
        avg(least(clicks, impressions)::float8) FILTER (WHERE NOT multiple_exposure) AS clicks_mean, var_samp(least(clicks, impressions)::float8) FILTER (WHERE NOT multiple_exposure) AS clicks_var,
        avg(impressions::float8) FILTER (WHERE NOT multiple_exposure) AS impressions_mean, var_samp(impressions::float8) FILTER (WHERE NOT multiple_exposure) AS impressions_var,
        covar_samp(least(clicks, impressions)::float8, impressions::float8) FILTER (WHERE NOT multiple_exposure) AS clicks_impressions_cov,
        avg(revenue) FILTER (WHERE NOT multiple_exposure) AS revenue_mean, var_samp(revenue) FILTER (WHERE NOT multiple_exposure) AS revenue_var
      FROM experiment_unit_stats WHERE experiment_id = ${experimentId} AND phase = ${phase} GROUP BY variant_key`;
}

/** An arm's CTR as the table compares it (VariantData.ctr: per unit, Y = clicks up to impressions, X = impressions), from its unitStatsSql row (absent: no units). */
export const ctrSummaryOf = (u: UnitRow | undefined) =>
  pairedSummaryFromMoments({ n: num(u?.n), meanY: num(u?.clicks_mean), meanX: num(u?.impressions_mean), varianceY: num(u?.clicks_var), varianceX: num(u?.impressions_var), covariance: num(u?.clicks_impressions_cov) });

export type Experiment = Awaited<ReturnType<typeof getExperiment>>;
interface ResultsOptions { phase?: number }

/**
 * The phase of experiment `e` a read is of: `phase` when asked (an earlier one, 1 … current), else its current one.
 * @throws InvalidInputError naming `phase` when it is outside 1 … the current phase.
 */
export function viewedPhaseOf(e: Experiment, phase: number | undefined): number {
  if (phase !== undefined && (phase < 1 || phase > e.phase)) {
    throw new InvalidInputError("phase", e.phase === 0 ? `experiment "${e.key}" has not started: it has no phase yet` : `experiment "${e.key}" has phases 1 to ${e.phase}, not ${phase}`);
  }
  return phase ?? e.phase;
}

/** The engine that decides experiment `e` (its analysisMode; sequential unless fixed or Bayesian). */
export const engineOf = (e: Pick<Experiment, "analysisMode">): Engine => (e.analysisMode === "fixed" ? "fixed" : e.analysisMode === "bayesian" ? "bayesian" : "sequential");

/**
 * An experiment's results, for its current phase or `options.phase` (an earlier one, 1 … current):
 * the experiment's definition as it is now, with the figures of that phase (its weights for the
 * sample-ratio check). `viewedPhase` says which phase the figures are of. A failing sample-ratio check
 * of a running experiment's current phase raises its alarm (once per phase).
 * @throws NotFoundError (experiment); InvalidInputError on `phase` outside 1 … the current phase.
 */
export async function experimentResults(db: Db, key: string, options: ResultsOptions = {}) {
  const { results, srmAlarm } = await readResults(db, await getExperiment(db, key), options);
  // In a transaction of its own, after the read (notifyAfterCommit): a read's failure to queue it is logged, not thrown.
  if (srmAlarm) await notifyAfterCommit(db, srmAlarm);
  return results;
}

/**
 * experimentResults of experiment `e` (as getExperiment reads it) inside a lever's transaction `tx`: a
 * ship's checks, read under the experiment's lock (ShipGate). The same figures; its sample-ratio alarm
 * is left to the next read outside a transaction (raising one takes a transaction of its own).
 * @throws InvalidInputError on `phase` outside 1 … the current phase.
 */
export async function experimentResultsIn(tx: Prisma.TransactionClient, e: Experiment, options: ResultsOptions = {}) {
  return (await readResults(tx, e, options)).results;
}

/** The results (experimentResults) and the sample-ratio alarm they raise, if any (a running experiment's current phase failing the check). */
async function readResults(db: Prisma.TransactionClient, e: Experiment, options: ResultsOptions) {
  const viewed = viewedPhaseOf(e, options.phase);
  const control = e.variants.find((v) => v.isControl) ?? e.variants[0]!;
  const phaseStart = e.phases.find((p) => p.phase === viewed)?.startedAt ?? e.startedAt ?? new Date();
  // CUPED's pre-period ends when the experiment first started, not when this phase did: an earlier
  // phase (a resume, or a restart that kept the seed) gave the same units the same arms, so their
  // clicks then already carry the effect, and a covariate that depends on the arm cancels it.
  const preTo = e.phases[0]?.startedAt ?? phaseStart;
  const preFrom = new Date(preTo.getTime() - CUPED_PRE_DAYS * 86_400_000);
  // The request log's column holding the randomisation unit, as the rollups read it (server/telemetry/streams.ts).
  const unitColumn = Prisma.raw(e.hashAttribute === "sessionKey" ? "r.session_key" : "r.user_key");

  // Counts are read as float8 (exact to 2^53, a JS number): count() is bigint, and ::int fails with
  // 22003 past 2,147,483,647 rows (server/db/countCasts.test.ts).
  const [units, clicks, fallbacks, recent, served, cuped, surface, canaries] = await Promise.all([
    // Units seen in more than one arm are counted apart and left out of every metric.
    db.$queryRaw<UnitRow[]>(unitStatsSql(e.id, viewed)),
    // NDCG and MRR: each clicked request's positions with its unit (an event's user_key is its
    // request's randomisation unit), analysed per unit (clickedRequestMetricsByUnit).
    db.$queryRaw<Array<{ variant_key: string; unit_key: string; positions: number[] }>>`
      SELECT o.variant_key, o.user_key AS unit_key, array_agg(o.position) AS positions FROM outcome_events o
      JOIN experiment_unit_stats u ON u.experiment_id = ${e.id} AND u.phase = ${viewed} AND u.unit_key = o.user_key AND NOT u.multiple_exposure
      WHERE o.experiment_key = ${e.key} AND o.experiment_phase = ${viewed} AND ${withinPhase("o.request_ts", e.key, viewed)} AND o.type = 'click' AND o.position IS NOT NULL
      GROUP BY o.variant_key, o.user_key, o.request_id, o.request_ts, o.owner`,
    // Fallback rate per unit: Y = its requests a fallback served, X = its requests (a ratio, as CTR).
    db.$queryRaw<UnitPairRow[]>`
      SELECT u.variant_key, count(*)::float8 AS n, avg(coalesce(f.fallbacks, 0)::float8) AS y_mean, var_samp(coalesce(f.fallbacks, 0)::float8) AS y_var,
        avg(u.requests::float8) AS x_mean, var_samp(u.requests::float8) AS x_var, covar_samp(coalesce(f.fallbacks, 0)::float8, u.requests::float8) AS xy_cov
      FROM experiment_unit_stats u
      LEFT JOIN (SELECT ${unitColumn} AS unit_key, count(*) AS fallbacks FROM rerank_requests r
                 WHERE r.experiment_key = ${e.key} AND r.experiment_phase = ${viewed} AND ${withinPhase("r.ts", e.key, viewed)} AND r.fallback_used GROUP BY 1) f
        ON f.unit_key = u.unit_key
      WHERE u.experiment_id = ${e.id} AND u.phase = ${viewed} AND NOT u.multiple_exposure AND u.requests > 0 GROUP BY u.variant_key`,
    // Latency: each variant's most recent requests (an index range scan), so the page stays fast
    // however long the experiment has run; the guardrail's order-statistics interval needs the values.
    db.$queryRaw<Array<{ variant_key: string; latencies: number[] }>>`
      SELECT v.variant_key, l.latencies FROM (SELECT DISTINCT variant_key FROM experiment_hourly_stats WHERE experiment_id = ${e.id} AND phase = ${viewed}) v
      CROSS JOIN LATERAL (SELECT array_agg(latency_ms) AS latencies FROM (
        SELECT r.latency_ms FROM rerank_requests r WHERE r.experiment_key = ${e.key} AND r.experiment_phase = ${viewed} AND ${withinPhase("r.ts", e.key, viewed)} AND r.variant_key = v.variant_key
          AND NOT EXISTS (SELECT 1 FROM experiment_unit_stats u WHERE u.experiment_id = ${e.id} AND u.phase = ${viewed} AND u.unit_key = ${unitColumn} AND u.multiple_exposure)
        ORDER BY r.ts DESC LIMIT ${LATENCY_SAMPLE_PER_VARIANT}) recent) l`,
    // Which model versions each arm served: its most recent requests its own model answered (fallbacks
    // left out, as a ship leaves them out: servedVersions).
    servedVersions(db, e.key, viewed, e.kind === "interleaving" ? ["interleaved"] : e.variants.map((v) => v.key), { recent: LATENCY_SAMPLE_PER_VARIANT }),
    // CUPED: the same units' clicks on this surface before the experiment first started.
    db.$queryRaw<UnitPairRow[]>`
      SELECT u.variant_key, count(*)::float8 AS n, avg(u.clicks::float8) AS y_mean, var_samp(u.clicks::float8) AS y_var,
        avg(coalesce(p.clicks, 0)::float8) AS x_mean, var_samp(coalesce(p.clicks, 0)::float8) AS x_var, covar_samp(u.clicks::float8, coalesce(p.clicks, 0)::float8) AS xy_cov
      FROM experiment_unit_stats u
      LEFT JOIN (SELECT user_key, count(*) AS clicks FROM outcome_events
                 WHERE surface = ${e.surface.key} AND type = 'click' AND request_ts >= ${preFrom} AND request_ts < ${preTo} GROUP BY user_key) p
        ON p.user_key = u.unit_key
      WHERE u.experiment_id = ${e.id} AND u.phase = ${viewed} AND NOT u.multiple_exposure GROUP BY u.variant_key`,
    db.surface.findUniqueOrThrow({ where: { key: e.surface.key }, select: { shadowAlias: true, shadowSampleRate: true } }),
    db.rollout.count({ where: { surface: { key: e.surface.key }, status: "running" } }),
  ]);
  const keys = e.kind === "interleaving" ? ["interleaved"] : e.variants.map((v) => v.key);
  const data: Record<string, VariantData> = {};
  for (const k of keys) {
    const u = units.find((x) => x.variant_key === k);
    const n = num(u?.n);
    const c = cuped.find((x) => x.variant_key === k);
    const f = fallbacks.find((x) => x.variant_key === k);
    data[k] = {
      units: n,
      multipleExposures: num(u?.multiple),
      ctr: ctrSummaryOf(u),
      conversion: summarizeProportion(n, num(u?.converted)),
      revenue: meanSummaryFromMoments(n, num(u?.revenue_mean), num(u?.revenue_var)),
      ...clickedRequestMetricsByUnit(clicks.filter((x) => x.variant_key === k).map((x) => ({ unit: x.unit_key, positions: x.positions }))),
      fallback: linearisedRatio(pairedSummaryOf(f)),
      clicksCuped: pairedSummaryOf(c),
      latencyMs: (recent.find((x) => x.variant_key === k)?.latencies ?? []).map(Number),
    };
  }

  let interleaving = null;
  if (e.kind === "interleaving") {
    const [a, b] = e.variants.map((v) => v.key);
    const [rows, totals] = await Promise.all([
      db.$queryRaw<Array<{ served: unknown; positions: number[] }>>`
        -- served is json (no equality operator): the clicks are grouped by request first, then joined.
        SELECT r.served, c.positions
        FROM (SELECT request_id, request_ts, owner, array_agg(position) AS positions FROM outcome_events
              WHERE experiment_key = ${e.key} AND experiment_phase = ${viewed} AND ${withinPhase("request_ts", e.key, viewed)} AND type = 'click' AND position IS NOT NULL
              GROUP BY request_id, request_ts, owner) c
        JOIN rerank_requests r ON r.request_id = c.request_id AND r.ts = c.request_ts AND r.owner = c.owner AND ${withinPhase("r.ts", e.key, viewed)}`,
      db.$queryRaw<Array<{ requests: number; competitive: number }>>`
        -- isCompetitive() in server/domain/interleaving/credit.ts, in SQL: the flag is the first item's last reason, after its credit.
        SELECT count(*)::float8 AS requests, count(*) FILTER (WHERE ${FIRST_REASONS_SQL} ->> -1 = ${COMPETITIVE_FLAG} AND ${FIRST_REASONS_SQL} ->> -2 LIKE ${INTERLEAVING_REASON_PREFIX + "%"})::float8 AS competitive
        FROM rerank_requests WHERE experiment_key = ${e.key} AND experiment_phase = ${viewed} AND ${withinPhase("ts", e.key, viewed)}`,
    ]);
    interleaving = { variantA: a!, variantB: b!, ...interleavingWins(rows.map((r) => ({ served: readServedList(r.served), positions: r.positions })), a!, b!), requestsWithClicks: rows.length, requests: totals[0]?.requests ?? 0, competitive: totals[0]?.competitive ?? 0 };
  }

  const phase = e.phases.find((p) => p.phase === viewed);
  // An earlier phase was split by its own weights (a restart may have changed them since).
  const phaseWeights = viewed === e.phase ? null : ((phase?.weights ?? null) as Record<string, number> | null);
  const endedAt = phase?.endedAt ?? e.stoppedAt ?? null;
  const days = e.startedAt ? Math.max(1 / 24, ((endedAt ?? new Date()).getTime() - phaseStart.getTime()) / 86_400_000) : null;
  const analysis = analyseExperiment({
    kind: e.kind,
    engine: engineOf(e),
    variants: e.variants.map((v) => ({ key: v.key, weight: phaseWeights?.[v.key] ?? v.weight, isControl: v.key === control.key })),
    primaryMetric: e.primaryMetric,
    secondaryMetrics: (e.secondaryMetrics as string[] | null) ?? [],
    guardrails: e.guardrails as unknown as Guardrail[],
    data,
    interleaving,
    planning: { minDetectableEffect: e.minDetectableEffect, days },
  });
  // A failing sample-ratio check of a running experiment raises one alarm per phase (the event id
  // de-duplicates), from whichever read of the results first sees it.
  const srmAlarm: NotifyEvent | null = e.status === "running" && viewed === e.phase && analysis.srm.available && analysis.srm.mismatch
    ? {
        id: `srm_${e.id}_${e.phase}`, kind: "experiment.srm_alarm", actor: "experiment-analysis", reason: null,
        data: { experiment: e.key, surface: e.surface.key, phase: e.phase, pValue: analysis.srm.pValue, units: Object.fromEntries(e.variants.map((v) => [v.key, data[v.key]?.units ?? 0])) },
      }
    : null;
  // Who shipped it and when, from the audit trail (the page says so after shipping).
  const ship = e.status === "shipped"
    ? await db.auditLog.findFirst({ where: { action: "experiment.ship", entityType: "experiment", entityId: e.id }, orderBy: { id: "desc" }, select: { actor: true, ts: true, reason: true } })
    : null;

  const results = {
    experiment: {
      key: e.key, name: e.name, kind: e.kind, status: e.status, phase: e.phase, viewedPhase: viewed, hypothesis: e.hypothesis, primaryMetric: e.primaryMetric, analysisMode: e.analysisMode,
      hashAttribute: e.hashAttribute, startedAt: e.startedAt, phaseStartedAt: e.startedAt ? phaseStart : null, endedAt, surface: e.surface.key,
      shipped: e.status === "shipped" ? { variant: e.shippedVariantKey, at: e.shippedAt ?? ship?.ts ?? endedAt, by: ship?.actor ?? null, reason: ship?.reason ?? null } : null,
      /** The current allocation (experimentAllocation), whatever phase is viewed: what a Start or Resume from this page sends back as what it showed (`expectAllocation`). */
      allocation: experimentAllocation(e),
      /** The current decision rule (experimentDecision: primary metric, guardrails, engine, MDE), whatever phase is viewed: sent back with the allocation (`expectDecision`). */
      decision: experimentDecision(e),
    },
    variants: e.variants.map((v) => ({
      key: v.key, name: v.name, weight: v.weight, isControl: v.isControl, units: data[v.key]?.units ?? 0, multipleExposures: data[v.key]?.multipleExposures ?? 0,
      alias: v.modelAlias, pinnedVersionId: v.modelVersionId,
      served: served.filter((s) => s.variantKey === (e.kind === "interleaving" ? "interleaved" : v.key)).map((s) => ({ model: s.modelName, version: s.version, requests: s.requests })),
    })),
    control: control.key,
    ...analysis,
    summary: analysis.verdict.text,
    warnings: starvedComparisons(
      { status: e.status, coverage: e.coverage, namespace: e.namespace, targetingRules: Array.isArray(e.targeting) ? e.targeting.length : 0 },
      { canaryRunning: canaries > 0, shadowAlias: surface.shadowAlias, shadowSampleRate: surface.shadowSampleRate },
    ),
  };
  return { results, srmAlarm };
}
