import type { Db } from "../db/client";
import { clickNdcg, clickReciprocalRank } from "../domain/ranking/clickMetrics";
import {
  adjustPValues, chanceToBeatControl, compareMeans, compareRatios, compareWithCuped, planSampleSize, signTest, srmCheck,
  type CovariateSummary, type EffectResult, type MeanSummary, type RatioSummary,
} from "../domain/stats";
import { percentileGuardrail } from "../domain/stats/guardrails";
import { getExperiment } from "./service";

// Results of an experiment's current phase, from the incremental rollups (experiment_unit_stats,
// experiment_hourly_stats) plus the click events for NDCG/MRR and the request log for latency.

const NDCG_K = 10;

interface UnitRow {
  variant_key: string;
  n: number; requests: number; requests2: number; impressions: number; impressions2: number; clicks: number; clicks2: number;
  clicks_impressions: number; revenue: number; revenue2: number; converted: number;
}

export interface MetricResult {
  metric: string;
  label: string;
  kind: "ratio" | "mean" | "proportion";
  higherIsBetter: boolean;
  variants: Array<{ key: string; value: number; n: number }>;
  comparisons: Array<{ variant: string; effect: EffectResult; adjustedPValue: number; chanceToBeat: number }>;
}

/** Days before the phase started whose clicks per unit serve as CUPED's covariate. */
const CUPED_PRE_DAYS = 14;

const METRIC_LABELS: Record<string, string> = {
  clicks_cuped: `Clicks per unit, CUPED-adjusted (covariate: the unit's clicks in the ${CUPED_PRE_DAYS} days before)`,
  ctr: "Click-through rate (clicks / impressions)",
  conversion: "Conversion (share of units that bought)",
  revenue_per_session: "Revenue per unit (user or session)",
  ndcg: `NDCG@${NDCG_K} from clicks`,
  mrr: "MRR from clicks",
  fallback_rate: "Fallback rate",
};

const num = (v: unknown) => Number(v ?? 0);

export async function experimentResults(db: Db, key: string) {
  const e = await getExperiment(db, key);
  const control = e.variants.find((v) => v.isControl) ?? e.variants[0]!;
  const mode = e.analysisMode === "fixed" ? "fixedHorizon" : "sequential";
  const units = await db.$queryRaw<UnitRow[]>`
    SELECT variant_key, count(*)::int AS n, sum(requests)::float8 AS requests, sum(requests::float8 ^ 2) AS requests2,
      sum(impressions)::float8 AS impressions, sum(impressions::float8 ^ 2) AS impressions2, sum(clicks)::float8 AS clicks,
      sum(clicks::float8 ^ 2) AS clicks2, sum(clicks::float8 * impressions) AS clicks_impressions, sum(revenue) AS revenue,
      sum(revenue ^ 2) AS revenue2, count(*) FILTER (WHERE purchases > 0)::float8 AS converted
    FROM experiment_unit_stats WHERE experiment_id = ${e.id} AND phase = ${e.phase} GROUP BY variant_key`;
  const byVariant = new Map(units.map((u) => [u.variant_key, u]));
  const hourly = await db.experimentHourlyStat.findMany({ where: { experimentId: e.id, phase: e.phase }, orderBy: { hour: "asc" } });
  const clicks = await db.$queryRaw<Array<{ variant_key: string; request_id: string; positions: number[] }>>`
    SELECT variant_key, request_id, array_agg(position) AS positions FROM outcome_events
    WHERE experiment_key = ${e.key} AND experiment_phase = ${e.phase} AND type = 'click' AND position IS NOT NULL
    GROUP BY variant_key, request_id`;
  // Latency percentiles over each variant's most recent 50,000 requests (an index range scan), so
  // the page stays fast however long the experiment has run.
  const latency = await db.$queryRaw<Array<{ variant_key: string; p50: number; p95: number; n: number }>>`
    SELECT v.variant_key, l.p50, l.p95, l.n FROM (SELECT DISTINCT variant_key FROM experiment_hourly_stats WHERE experiment_id = ${e.id} AND phase = ${e.phase}) v
    CROSS JOIN LATERAL (
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, count(*)::int AS n
      FROM (SELECT latency_ms FROM rerank_requests WHERE experiment_key = ${e.key} AND experiment_phase = ${e.phase} AND variant_key = v.variant_key
            ORDER BY ts DESC LIMIT 50000) recent) l`;

  // CUPED: the same units' clicks on this surface before the phase began.
  const phaseStart = e.phases.find((p) => p.phase === e.phase)?.startedAt ?? e.startedAt ?? new Date();
  const preFrom = new Date(phaseStart.getTime() - CUPED_PRE_DAYS * 86_400_000);
  const cupedRows = await db.$queryRaw<Array<{ variant_key: string; n: number; y: number; y2: number; x: number; x2: number; xy: number }>>`
    SELECT u.variant_key, count(*)::float8 AS n, sum(u.clicks)::float8 AS y, sum(u.clicks::float8 ^ 2) AS y2,
      coalesce(sum(p.clicks), 0)::float8 AS x, coalesce(sum(p.clicks::float8 ^ 2), 0) AS x2, coalesce(sum(u.clicks::float8 * p.clicks), 0) AS xy
    FROM experiment_unit_stats u
    LEFT JOIN (SELECT user_key, count(*) AS clicks FROM outcome_events
               WHERE surface = ${e.surface.key} AND type = 'click' AND request_ts >= ${preFrom} AND request_ts < ${phaseStart} GROUP BY user_key) p
      ON p.user_key = u.unit_key
    WHERE u.experiment_id = ${e.id} AND u.phase = ${e.phase} GROUP BY u.variant_key`;
  const cupedOf = (k: string): CovariateSummary => {
    const r = cupedRows.find((x) => x.variant_key === k);
    return r ? { n: num(r.n), sumY: num(r.y), sumY2: num(r.y2), sumX: num(r.x), sumX2: num(r.x2), sumXY: num(r.xy) } : { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
  };

  const variantKeys = e.kind === "interleaving" ? ["interleaved"] : e.variants.map((v) => v.key);
  const ratio = (k: string, y: "clicks", x: "impressions"): RatioSummary => {
    const u = byVariant.get(k);
    return u ? { n: num(u.n), sumY: num(u[y]), sumX: num(u[x]), sumY2: num(u.clicks2), sumX2: num(u.impressions2), sumXY: num(u.clicks_impressions) } : { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
  };
  const mean = (k: string, sum: number, sumSq: number, n: number): MeanSummary => ({ n, sum, sumSq });
  const clickSummaries = (k: string, f: (positions: number[]) => number | null): MeanSummary => {
    const values = clicks.filter((c) => c.variant_key === k).map((c) => f(c.positions)).filter((v): v is number => v !== null);
    return { n: values.length, sum: values.reduce((s, v) => s + v, 0), sumSq: values.reduce((s, v) => s + v * v, 0) };
  };
  const fallbackSummary = (k: string): MeanSummary => {
    const rows = hourly.filter((h) => h.variantKey === k);
    const requests = rows.reduce((s, h) => s + h.requests, 0);
    const fallbacks = rows.reduce((s, h) => s + h.fallbacks, 0);
    return { n: requests, sum: fallbacks, sumSq: fallbacks };
  };

  const definitions: Array<{ metric: string; kind: MetricResult["kind"]; higherIsBetter: boolean; summary: (k: string) => MeanSummary | RatioSummary | CovariateSummary; cuped?: boolean }> = [
    { metric: "ctr", kind: "ratio", higherIsBetter: true, summary: (k) => ratio(k, "clicks", "impressions") },
    { metric: "conversion", kind: "proportion", higherIsBetter: true, summary: (k) => { const u = byVariant.get(k); return mean(k, num(u?.converted), num(u?.converted), num(u?.n)); } },
    { metric: "revenue_per_session", kind: "mean", higherIsBetter: true, summary: (k) => { const u = byVariant.get(k); return mean(k, num(u?.revenue), num(u?.revenue2), num(u?.n)); } },
    { metric: "ndcg", kind: "mean", higherIsBetter: true, summary: (k) => clickSummaries(k, (p) => clickNdcg(p, NDCG_K)) },
    { metric: "mrr", kind: "mean", higherIsBetter: true, summary: (k) => clickSummaries(k, clickReciprocalRank) },
    { metric: "fallback_rate", kind: "proportion", higherIsBetter: false, summary: fallbackSummary },
    { metric: "clicks_cuped", kind: "mean", higherIsBetter: true, summary: cupedOf, cuped: true },
  ];
  const valueOf = (s: MeanSummary | RatioSummary, cuped = false) => (cuped && "sumY" in s ? (s.n ? s.sumY / s.n : 0) : "sumX" in s ? (s.sumX ? s.sumY / s.sumX : 0) : s.n ? s.sum / s.n : 0);

  const metrics: MetricResult[] = definitions.map((d) => {
    const comparisons = e.kind === "interleaving" ? [] : e.variants.filter((v) => v.key !== control.key).flatMap((v) => {
      const c = d.summary(control.key);
      const t = d.summary(v.key);
      if (c.n < 2 || t.n < 2) return [];
      try {
        const effect = d.cuped
          ? compareWithCuped(c as CovariateSummary, t as CovariateSummary, { analysis: mode })
          : "sumX" in c ? compareRatios(c, t as RatioSummary, { analysis: mode }) : compareMeans(c, t as MeanSummary, { analysis: mode });
        if (!Number.isFinite(effect.pValue)) return []; // e.g. no variance at all (a fallback rate of 0 in both)
        return [{ variant: v.key, effect, adjustedPValue: effect.pValue, chanceToBeat: chanceToBeatControl(effect).chanceToBeatControl }];
      } catch {
        return []; // zero variance or empty denominators: nothing to test yet
      }
    });
    return {
      metric: d.metric, label: METRIC_LABELS[d.metric]!, kind: d.kind, higherIsBetter: d.higherIsBetter,
      variants: variantKeys.map((k) => { const s = d.summary(k); return { key: k, value: valueOf(s, d.cuped), n: s.n }; }),
      comparisons,
    };
  });
  // Holm across the metrics of each treatment, so reading six metrics does not inflate false wins.
  for (const v of e.variants.filter((x) => x.key !== control.key)) {
    const entries = metrics.flatMap((m) => m.comparisons.filter((c) => c.variant === v.key));
    const adjusted = adjustPValues(entries.map((c) => c.effect.pValue), "holm");
    entries.forEach((c, i) => (c.adjustedPValue = adjusted[i]!));
  }

  const counts = e.variants.map((v) => num(byVariant.get(v.key)?.n));
  const srm = e.kind === "ab" && counts.every((c) => c > 0) ? srmCheck(counts, e.variants.map((v) => v.weight)) : null;

  // Cumulative CTR per variant by hour; the band uses an impression-level binomial variance, a
  // quick approximation (the table above uses the unit-level delta method).
  const timeline: Array<{ hour: string; [k: string]: number | string }> = [];
  const cumulative = new Map<string, { clicks: number; impressions: number }>();
  for (const hour of [...new Set(hourly.map((h) => h.hour.toISOString()))].sort()) {
    for (const h of hourly.filter((x) => x.hour.toISOString() === hour)) {
      const c = cumulative.get(h.variantKey) ?? { clicks: 0, impressions: 0 };
      cumulative.set(h.variantKey, { clicks: c.clicks + h.clicks, impressions: c.impressions + h.impressions });
    }
    const point: { hour: string; [k: string]: number | string } = { hour };
    const base = cumulative.get(control.key);
    for (const v of e.variants.filter((x) => x.key !== control.key)) {
      const t = cumulative.get(v.key);
      if (!base?.impressions || !t?.impressions || !base.clicks) continue;
      const pc = base.clicks / base.impressions;
      const pt = t.clicks / t.impressions;
      const lift = pt / pc - 1;
      const se = Math.sqrt((pt * (1 - pt)) / t.impressions / pc ** 2 + ((pt / pc ** 2) ** 2 * pc * (1 - pc)) / base.impressions);
      Object.assign(point, { [`${v.key}_lift`]: lift, [`${v.key}_lo`]: lift - 1.96 * se, [`${v.key}_hi`]: lift + 1.96 * se });
    }
    timeline.push(point);
  }

  const interleaving = e.kind === "interleaving" ? await interleavingResults(db, e.key, e.phase, e.variants.map((v) => v.key)) : null;
  const primary = metrics.find((m) => m.metric === e.primaryMetric) ?? metrics[0]!;
  const guardrails = (e.guardrails as Array<{ metric: string; direction: "increase" | "decrease"; threshold: number }>).map((g) => {
    if (g.metric === "latency_p95") {
      const p95 = (k: string) => { const l = latency.find((x) => x.variant_key === k); return l ? { p95: num(l.p95), requests: num(l.n) } : null; };
      return { ...g, status: percentileGuardrail(g, p95(control.key), e.variants.filter((v) => v.key !== control.key).map((v) => p95(v.key))) };
    }
    const m = metrics.find((x) => x.metric === g.metric);
    const worst = m?.comparisons.map((c) => (g.direction === "increase" ? c.effect.relative.ci[1] : -c.effect.relative.ci[0]));
    const estimate = m?.comparisons.map((c) => (g.direction === "increase" ? c.effect.relative.estimate : -c.effect.relative.estimate));
    const status = !worst?.length ? "no data" : Math.max(...estimate!) > g.threshold ? "violated" : Math.max(...worst) > g.threshold ? "at risk" : "ok";
    return { ...g, status };
  });
  const baseline = primary.variants.find((v) => v.key === control.key);
  // The power calculator, fed with this experiment's own baseline and traffic so far.
  const days = e.startedAt ? Math.max(1 / 24, (Date.now() - e.startedAt.getTime()) / 86_400_000) : null;
  const totalUnits = counts.reduce((s, c) => s + c, 0);
  let plan: ReturnType<typeof planSampleSize> | null = null;
  try {
    plan = e.minDetectableEffect && baseline && baseline.value > 0 && baseline.value < 1
      ? planSampleSize({ baseline: { proportion: baseline.value }, minimumDetectableEffect: e.minDetectableEffect, trafficSplit: e.variants.map((v) => v.weight), dailyUnits: days && totalUnits ? totalUnits / days : undefined })
      : null;
  } catch {
    plan = null; // an MDE that pushes the rate outside (0, 1)
  }

  return {
    experiment: { key: e.key, name: e.name, kind: e.kind, status: e.status, phase: e.phase, hypothesis: e.hypothesis, primaryMetric: e.primaryMetric, analysisMode: e.analysisMode, startedAt: e.startedAt, surface: e.surface.key },
    variants: e.variants.map((v, i) => ({ key: v.key, name: v.name, weight: v.weight, isControl: v.isControl, units: counts[i] ?? 0 })),
    control: control.key,
    metrics,
    srm,
    guardrails,
    timeline,
    interleaving,
    latency: latency.map((l) => ({ variant: l.variant_key, p50: num(l.p50), p95: num(l.p95), requests: num(l.n) })),
    plan,
    summary: summarise(e.kind, primary, srm, guardrails, interleaving, control.key),
  };
}

async function interleavingResults(db: Db, key: string, phase: number, variantKeys: string[]) {
  const rows = await db.$queryRaw<Array<{ served: Array<{ position: number; reasons: string[] }>; positions: number[] }>>`
    SELECT r.served, array_agg(e.position) AS positions
    FROM outcome_events e JOIN rerank_requests r ON r.request_id = e.request_id AND r.ts = e.request_ts
    WHERE e.experiment_key = ${key} AND e.experiment_phase = ${phase} AND e.type = 'click' AND e.position IS NOT NULL
    GROUP BY r.request_id, r.served`;
  const totals = await db.$queryRaw<Array<{ requests: number; competitive: number }>>`
    SELECT count(*)::int AS requests, count(*) FILTER (WHERE served -> 0 -> 'reasons' ? 'interleaving:competitive')::int AS competitive
    FROM rerank_requests WHERE experiment_key = ${key} AND experiment_phase = ${phase}`;
  const [a, b] = variantKeys;
  let winsA = 0;
  let winsB = 0;
  let ties = 0;
  for (const row of rows) {
    const teamAt = new Map(row.served.map((i) => [i.position, i.reasons.find((r) => r.startsWith("interleaving:") && r !== "interleaving:competitive")?.slice(13)]));
    let ca = 0;
    let cb = 0;
    for (const p of new Set(row.positions)) {
      if (teamAt.get(p) === a) ca++;
      else if (teamAt.get(p) === b) cb++;
    }
    if (ca > cb) winsA++;
    else if (cb > ca) winsB++;
    else ties++;
  }
  const test = winsA + winsB > 0 ? signTest(winsA, winsB) : null;
  return { variantA: a!, variantB: b!, winsA, winsB, ties, requestsWithClicks: rows.length, requests: totals[0]?.requests ?? 0, competitive: totals[0]?.competitive ?? 0, test };
}

function pct(v: number) {
  return `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;
}

function summarise(kind: string, primary: MetricResult, srm: ReturnType<typeof srmCheck> | null, guardrails: Array<{ metric: string; status: string }>, interleaving: Awaited<ReturnType<typeof interleavingResults>> | null, control: string): string {
  if (srm?.mismatch) return `Do not trust these results yet: the traffic split does not match the configured weights (sample-ratio mismatch, p = ${srm.pValue.toExponential(1)}). Find the cause (assignment, logging or bot traffic) before reading any metric.`;
  if (kind === "interleaving") {
    if (!interleaving?.test) return "No clicks on interleaved results yet: keep the experiment running.";
    const leader = interleaving.winsA >= interleaving.winsB ? interleaving.variantA : interleaving.variantB;
    return interleaving.test.significant
      ? `${leader} wins the interleaved comparison (${interleaving.winsA} vs ${interleaving.winsB} requests, p = ${interleaving.test.pValue.toPrecision(2)}): users prefer its ranking.`
      : `No clear winner yet (${interleaving.winsA} vs ${interleaving.winsB} requests with a preference, p = ${interleaving.test.pValue.toPrecision(2)}): keep it running.`;
  }
  const violated = guardrails.filter((g) => g.status === "violated").map((g) => g.metric);
  const parts = primary.comparisons.map((c) => {
    const lift = c.effect.relative;
    const better = (lift.estimate > 0) === primary.higherIsBetter;
    return c.effect.significant
      ? `${c.variant} ${better ? "improves" : "worsens"} ${primary.metric} by ${pct(lift.estimate)} vs ${control} (95% CI ${pct(lift.ci[0])} to ${pct(lift.ci[1])}), a significant difference${better ? " you can act on" : ""}.`
      : `${c.variant} vs ${control}: ${primary.metric} ${pct(lift.estimate)} (95% CI ${pct(lift.ci[0])} to ${pct(lift.ci[1])}), not significant yet — keep collecting data.`;
  });
  if (parts.length === 0) return "Not enough data yet: each variant needs at least a few users with impressions.";
  return [...parts, ...(violated.length ? [`Guardrail violated: ${violated.join(", ")} — do not ship without a look.`] : [])].join(" ");
}
