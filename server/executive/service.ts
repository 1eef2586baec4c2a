import type { Db } from "../db/client";
import { relativeChange } from "../domain/stats/describe";

// Figures follow the metric catalogue (server/domain/experiments/metrics.ts) so they mean what the
// experiment pages mean: a unit is a user, or a session without a user; conversion is the share of
// units with a purchase (not purchases ÷ sessions, which read 186.82 %: issue #13, point 9).

// The executive view: business figures per surface for a period against the period before, daily
// trends, what shipped (experiments and canary rollouts), and where every surface's serving model
// stands. Read-only aggregates over the request log, outcome events, experiments and rollouts.

const DAY = 86_400_000;

interface PeriodRow {
  surface: string;
  current: boolean;
  n: number;
  units: number;
}
interface OutcomeRow {
  surface: string;
  current: boolean;
  impressions: number;
  clicks: number;
  revenue: number;
}

export interface KpiSet {
  requests: number;
  /** Distinct units (users, or sessions without a user) with a request. */
  units: number;
  /** Catalogue "ctr": clicks ÷ impressions. */
  ctr: number | null;
  /** Catalogue "conversion": share of units with at least one purchase. */
  conversion: number | null;
  /** Catalogue "revenue_per_session": revenue ÷ units. */
  revenuePerUnit: number | null;
  revenue: number;
}

function kpis(req: PeriodRow | undefined, out: OutcomeRow | undefined, converted: number): KpiSet {
  const units = req?.units ?? 0;
  const impressions = out?.impressions ?? 0;
  const revenue = out?.revenue ?? 0;
  return {
    requests: req?.n ?? 0,
    units,
    ctr: impressions ? (out?.clicks ?? 0) / impressions : null,
    conversion: units ? Math.min(converted, units) / units : null,
    revenuePerUnit: units ? revenue / units : null,
    revenue,
  };
}

export async function executiveOverview(db: Db, input: { days: number }) {
  const now = Date.now();
  const since = new Date(now - input.days * DAY);
  const previousSince = new Date(now - 2 * input.days * DAY);
  const [requests, outcomes, converters, daily, surfaces, experiments, shipped, rollouts] = await Promise.all([
    db.$queryRaw<PeriodRow[]>`
      SELECT surface, ts >= ${since} AS current, count(*)::int AS n, count(DISTINCT coalesce(user_key, session_key))::int AS units
      FROM rerank_requests WHERE ts >= ${previousSince} GROUP BY 1, 2`,
    db.$queryRaw<OutcomeRow[]>`
      SELECT surface, request_ts >= ${since} AS current,
        count(*) FILTER (WHERE type = 'impression')::int AS impressions, count(*) FILTER (WHERE type = 'click')::int AS clicks,
        coalesce(sum(revenue), 0)::float8 AS revenue
      FROM outcome_events WHERE request_ts >= ${previousSince} GROUP BY 1, 2`,
    // Units with a purchase, keyed like the requests above (a purchase's request, by primary key).
    db.$queryRaw<Array<{ surface: string; current: boolean; units: number }>>`
      SELECT o.surface, o.request_ts >= ${since} AS current, count(DISTINCT coalesce(r.user_key, r.session_key))::int AS units
      FROM outcome_events o JOIN rerank_requests r ON r.request_id = o.request_id AND r.ts = o.request_ts
      WHERE o.type = 'purchase' AND o.request_ts >= ${previousSince} GROUP BY 1, 2`,
    db.$queryRaw<Array<{ day: Date; surface: string; impressions: number; clicks: number; revenue: number }>>`
      SELECT date_trunc('day', request_ts) AS day, surface, count(*) FILTER (WHERE type = 'impression')::int AS impressions,
        count(*) FILTER (WHERE type = 'click')::int AS clicks, coalesce(sum(revenue), 0)::float8 AS revenue
      FROM outcome_events WHERE request_ts >= ${since} GROUP BY 1, 2 ORDER BY 1`,
    db.surface.findMany({
      orderBy: { key: "asc" },
      select: { key: true, name: true, modelAlias: true, killSwitch: true, model: { select: { name: true, aliases: { select: { name: true, updatedAt: true, version: { select: { version: true } } } } } } },
    }),
    db.experiment.groupBy({ by: ["status"], _count: { _all: true } }),
    db.experiment.findMany({
      where: { status: "shipped" }, orderBy: { stoppedAt: "desc" }, take: 8,
      select: { key: true, name: true, shippedVariantKey: true, stoppedAt: true, primaryMetric: true, surface: { select: { key: true } } },
    }),
    db.rollout.findMany({
      orderBy: { startedAt: "desc" }, take: 50,
      select: { id: true, status: true, currentPercent: true, startedAt: true, endedAt: true, toVersionId: true, surface: { select: { key: true } }, model: { select: { name: true, versions: { select: { id: true, version: true } } } } },
    }),
  ]);
  const find = <T extends { surface: string; current: boolean }>(rows: T[], surface: string, current: boolean) => rows.find((r) => r.surface === surface && r.current === current);
  return {
    days: input.days,
    surfaces: surfaces.map((s) => {
      const current = kpis(find(requests, s.key, true), find(outcomes, s.key, true), find(converters, s.key, true)?.units ?? 0);
      const previous = kpis(find(requests, s.key, false), find(outcomes, s.key, false), find(converters, s.key, false)?.units ?? 0);
      const serving = s.model?.aliases.find((a) => a.name === s.modelAlias);
      const latestRollout = rollouts.find((r) => r.surface.key === s.key);
      return {
        key: s.key, name: s.name, killSwitch: s.killSwitch,
        serving: s.model && serving ? { model: s.model.name, alias: s.modelAlias, version: serving.version.version, since: serving.updatedAt } : null,
        rollout: latestRollout
          ? { status: latestRollout.status, percent: latestRollout.currentPercent, version: latestRollout.model.versions.find((v) => v.id === latestRollout.toVersionId)?.version ?? null, startedAt: latestRollout.startedAt, endedAt: latestRollout.endedAt }
          : null,
        current,
        previous,
        change: {
          ctr: relativeChange(current.ctr, previous.ctr),
          conversion: relativeChange(current.conversion, previous.conversion),
          revenuePerUnit: relativeChange(current.revenuePerUnit, previous.revenuePerUnit),
          requests: relativeChange(current.requests, previous.requests),
        },
        daily: daily.filter((d) => d.surface === s.key).map((d) => ({ day: d.day, ctr: d.impressions ? d.clicks / d.impressions : null, revenue: d.revenue })),
      };
    }),
    experiments: Object.fromEntries(experiments.map((e) => [e.status, e._count._all])) as Partial<Record<string, number>>,
    shipped: shipped.map((e) => ({ key: e.key, name: e.name, surface: e.surface.key, variant: e.shippedVariantKey, at: e.stoppedAt, metric: e.primaryMetric })),
    rollouts: rollouts.slice(0, 8).map((r) => ({
      surface: r.surface.key, model: r.model.name, version: r.model.versions.find((v) => v.id === r.toVersionId)?.version ?? null, status: r.status, percent: r.currentPercent, startedAt: r.startedAt, endedAt: r.endedAt,
    })),
  };
}
