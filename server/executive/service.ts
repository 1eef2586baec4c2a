import { env } from "../config";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { ACTIVE_ROLLOUT_STATUSES, isActiveRollout } from "../domain/rollouts/canary";
import { stintsOf } from "../domain/rollouts/history";
import { relativeChange } from "../domain/stats/describe";
import { aliasChanges } from "../history/service";
import { currentRolloutIds } from "../rollouts/service";
import { retainedFrom } from "../system/retention";

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
interface ConverterRow {
  surface: string;
  current: boolean;
  units: number;
  /** Purchase revenue of requests with a unit (a user or session key): the numerator of revenue per unit. */
  unitRevenue: number;
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
  /**
   * Click-through rate: clicks ÷ impressions (CLICK_THROUGH_DEFINITION), where a click counts only on
   * an item its request showed, at most as often as it was shown (clicks ≤ impressions per request
   * and item), so it lies in [0, 1]; null without impressions. A click sent without its impression
   * counts in neither: it used to, and a client that sent clicks only read CTR 200 %.
   */
  ctr: number | null;
  /** Catalogue "conversion": share of units with at least one purchase. */
  conversion: number | null;
  /** Catalogue "revenue_per_session": revenue ÷ units. */
  revenuePerUnit: number | null;
  revenue: number;
}

function kpis(req: PeriodRow | undefined, out: OutcomeRow | undefined, converters: ConverterRow | undefined): KpiSet {
  const units = req?.units ?? 0;
  const converted = converters?.units ?? 0;
  const impressions = out?.impressions ?? 0;
  const revenue = out?.revenue ?? 0;
  return {
    requests: req?.n ?? 0,
    units,
    ctr: impressions ? (out?.clicks ?? 0) / impressions : null,
    conversion: units ? Math.min(converted, units) / units : null,
    // Revenue of anonymous requests has no unit in the denominator, so none in the numerator either (break test: 25 → 1,025 over the same 20 units).
    revenuePerUnit: units ? (converters?.unitRevenue ?? 0) / units : null,
    revenue,
  };
}

/**
 * Which days of a period the request log still has: a period that starts before retention's horizon
 * (RETENTION_DAYS, server/system/retention.ts) is incomplete, and is not compared (a 28-day period
 * against the 2 days of the one before that 30-day retention left read +1,062 % for flat traffic).
 */
export interface PeriodCoverage {
  from: Date;
  /** False when the period starts before `keptFrom`: its figures cover only the days from keptFrom on. */
  complete: boolean;
}

/**
 * Business figures per surface over the last `days` days against the `days` before, daily CTR and
 * revenue, what shipped, where each surface's serving model stands. Rows stamped after now (a
 * replica's fast clock) are left out, as the On-call page leaves them out.
 * @returns per surface `current`, `previous` (KpiSet) and `change` (relative; null when either
 *   period has no value or the previous period is incomplete) and `rollout` (its running or paused
 *   one, else its newest; null: none ever); `rollouts`, every running or paused rollout then the
 *   newest ended ones, 8 rows unless more are active (rolloutsShown); `shipped`, the 8 experiments
 *   shipped last, newest first, each with `at` (when it shipped); `coverage` of both periods.
 */
export async function executiveOverview(db: Db, input: { days: number }, options: { now?: Date; retentionDays?: number } = {}) {
  const at = options.now ?? new Date();
  const now = at.getTime();
  const since = new Date(now - input.days * DAY);
  const previousSince = new Date(now - 2 * input.days * DAY);
  const keptFrom = retainedFrom(at, options.retentionDays ?? env().RETENTION_DAYS);
  const coverage = { keptFrom, current: { from: since, complete: since >= keptFrom }, previous: { from: previousSince, complete: previousSince >= keptFrom } };
  // Counts are read as float8 (exact to 2^53, a JS number): count() is bigint, and ::int fails with
  // 22003 past 2,147,483,647 rows in the window (server/db/countCasts.test.ts).
  const [requests, outcomes, converters, daily, surfaces, experiments, shipped, rollouts] = await Promise.all([
    db.$queryRaw<PeriodRow[]>`
      SELECT surface, ts >= ${since} AS current, count(*)::float8 AS n, count(DISTINCT coalesce(user_key, session_key))::float8 AS units
      FROM rerank_requests WHERE ts >= ${previousSince} AND ts <= ${at} GROUP BY 1, 2`,
    db.$queryRaw<OutcomeRow[]>`
      SELECT surface, request_ts >= ${since} AS current, ${OUTCOME_TOTALS}
      FROM (${outcomesPerItemSql(previousSince, at)}) per_item GROUP BY 1, 2`,
    db.$queryRaw<ConverterRow[]>(purchasingUnitsSql({ from: previousSince, since, to: at })),
    db.$queryRaw<Array<{ day: Date; surface: string; impressions: number; clicks: number; revenue: number }>>`
      SELECT date_trunc('day', request_ts, 'UTC') AS day, surface, ${OUTCOME_TOTALS}
      FROM (${outcomesPerItemSql(since, at)}) per_item GROUP BY 1, 2 ORDER BY 1`,
    db.surface.findMany({
      orderBy: { key: "asc" },
      select: { key: true, name: true, modelAlias: true, killSwitch: true, model: { select: { id: true, name: true, aliases: { select: { name: true, updatedAt: true, version: { select: { id: true, version: true } } } } } } },
    }),
    db.experiment.groupBy({ by: ["status"], _count: { _all: true } }),
    db.experiment.findMany({
      where: { status: "shipped" }, orderBy: [{ shippedAt: { sort: "desc", nulls: "last" } }, { key: "asc" }], take: 8,
      select: { key: true, name: true, shippedVariantKey: true, shippedAt: true, primaryMetric: true, surface: { select: { key: true } } },
    }),
    rolloutsShown(db),
  ]);
  const find = <T extends { surface: string; current: boolean }>(rows: T[], surface: string, current: boolean) => rows.find((r) => r.surface === surface && r.current === current);
  const since_ = await servingSinceByAlias(db, surfaces);
  const compared = (now: number | null, before: number | null) => (coverage.previous.complete ? relativeChange(now, before) : null);
  return {
    days: input.days,
    coverage,
    surfaces: surfaces.map((s) => {
      const current = kpis(find(requests, s.key, true), find(outcomes, s.key, true), find(converters, s.key, true));
      const previous = kpis(find(requests, s.key, false), find(outcomes, s.key, false), find(converters, s.key, false));
      const serving = s.model?.aliases.find((a) => a.name === s.modelAlias);
      // The surface's running or paused rollout (a paused canary still serves its share), else its newest.
      const surfaceRollout = rollouts.current.find((r) => r.surface.key === s.key && isActiveRollout(r.status)) ?? rollouts.current.find((r) => r.surface.key === s.key);
      return {
        key: s.key, name: s.name, killSwitch: s.killSwitch,
        serving: s.model && serving ? { model: s.model.name, alias: s.modelAlias, version: serving.version.version, since: since_.get(`${s.model.id}\u0000${s.modelAlias}`) ?? serving.updatedAt } : null,
        rollout: surfaceRollout
          ? { status: surfaceRollout.status, percent: surfaceRollout.currentPercent, version: surfaceRollout.model.versions.find((v) => v.id === surfaceRollout.toVersionId)?.version ?? null, startedAt: surfaceRollout.startedAt, endedAt: surfaceRollout.endedAt }
          : null,
        current,
        previous,
        change: {
          ctr: compared(current.ctr, previous.ctr),
          conversion: compared(current.conversion, previous.conversion),
          revenuePerUnit: compared(current.revenuePerUnit, previous.revenuePerUnit),
          requests: compared(current.requests, previous.requests),
        },
        daily: daily.filter((d) => d.surface === s.key).map((d) => ({ day: d.day, ctr: d.impressions ? d.clicks / d.impressions : null, revenue: d.revenue })),
      };
    }),
    experiments: Object.fromEntries(experiments.map((e) => [e.status, e._count._all])) as Partial<Record<string, number>>,
    shipped: shipped.map((e) => ({ key: e.key, name: e.name, surface: e.surface.key, variant: e.shippedVariantKey, at: e.shippedAt, metric: e.primaryMetric })),
    rollouts: rollouts.table.map((r) => ({
      id: r.id, surface: r.surface.key, model: r.model.name, version: r.model.versions.find((v) => v.id === r.toVersionId)?.version ?? null, status: r.status, percent: r.currentPercent, startedAt: r.startedAt, endedAt: r.endedAt,
    })),
  };
}

/**
 * Outcome events per request and item (request_id, request_ts, owner, item_id) from `from` to `to`:
 * its impressions, its clicks bounded by them (CTR's clicks: a click on an item its request never
 * showed is no click-through) and its revenue, with the request's surface and request_ts.
 */
function outcomesPerItemSql(from: Date, to: Date): Prisma.Sql {
  return Prisma.sql`
    SELECT surface, request_ts, count(*) FILTER (WHERE type = 'impression') AS impressions,
      least(count(*) FILTER (WHERE type = 'click'), count(*) FILTER (WHERE type = 'impression')) AS clicks, sum(revenue) AS revenue
    FROM outcome_events WHERE request_ts >= ${from} AND request_ts <= ${to}
    GROUP BY surface, request_id, request_ts, owner, item_id`;
}

/** The sums over outcomesPerItemSql's rows (OutcomeRow's figures), as float8 (counts past int4 stay exact to 2^53). */
const OUTCOME_TOTALS = Prisma.sql`coalesce(sum(impressions), 0)::float8 AS impressions, coalesce(sum(clicks), 0)::float8 AS clicks, coalesce(sum(revenue), 0)::float8 AS revenue`;

/**
 * Units with a purchase and their revenue per surface, in the current period (`since` … `to`) and the
 * one before (`from` … `since`), keyed like the requests (a purchase's request, by primary key). Both
 * day-partitioned logs carry the window on their partition column: `r.ts = o.request_ts` alone does not
 * carry o's range over to r (PostgreSQL derives no range through an equality), so every day of the
 * request log was planned and, in a hash join, read.
 */
export function purchasingUnitsSql(window: { from: Date; since: Date; to: Date }): Prisma.Sql {
  const { from, since, to } = window;
  return Prisma.sql`
    SELECT o.surface, o.request_ts >= ${since} AS current, count(DISTINCT coalesce(r.user_key, r.session_key))::float8 AS units,
      coalesce(sum(o.revenue) FILTER (WHERE coalesce(r.user_key, r.session_key) IS NOT NULL), 0)::float8 AS "unitRevenue"
    FROM outcome_events o JOIN rerank_requests r ON r.request_id = o.request_id AND r.ts = o.request_ts AND r.owner = o.owner
      AND r.ts >= ${from} AND r.ts <= ${to}
    WHERE o.type = 'purchase' AND o.request_ts >= ${from} AND o.request_ts <= ${to} GROUP BY 1, 2`;
}

/** The rows of the "Rollouts" table: enough to tell where each stands without crowding the page. */
const ROLLOUT_ROWS = 8;
const rolloutSelect = {
  id: true, status: true, currentPercent: true, startedAt: true, endedAt: true, toVersionId: true,
  surface: { select: { key: true } }, model: { select: { name: true, versions: { select: { id: true, version: true } } } },
} as const;

/**
 * The rollouts the page shows, however many others exist: `current`, every active rollout (running,
 * paused) and each surface's newest, for the surfaces' canary badges (currentRolloutIds); `table`,
 * every active rollout, then the newest ended ones up to ROLLOUT_ROWS rows in all, each part newest
 * first. Actives are never cut: a newest-8 table hid a running canary behind 8 quick rollbacks
 * elsewhere, and a newest-50 read lost its badge behind 50.
 */
async function rolloutsShown(db: Db) {
  const [current, ended] = await Promise.all([
    currentRolloutIds(db).then((ids) => db.rollout.findMany({ where: { id: { in: ids } }, orderBy: { startedAt: "desc" }, select: rolloutSelect })),
    db.rollout.findMany({ where: { status: { notIn: [...ACTIVE_ROLLOUT_STATUSES] } }, orderBy: { startedAt: "desc" }, take: ROLLOUT_ROWS, select: rolloutSelect }),
  ]);
  const active = current.filter((r) => isActiveRollout(r.status));
  // The two reads are separate statements: a rollout ended between them is in both; listed once.
  const listed = new Set(active.map((r) => r.id));
  const endedOnly = ended.filter((r) => !listed.has(r.id));
  return { current, table: [...active, ...endedOnly.slice(0, Math.max(0, ROLLOUT_ROWS - active.length))] };
}

/**
 * Since when each serving alias (model id + alias) has pointed at its current version: the start of
 * its open stint in the promotion history, where a move onto the version already served is no new
 * stint (README, Serving history). Aliases without history are left out (the caller falls back to
 * the alias row's updatedAt, which such a no-op move also touches).
 */
async function servingSinceByAlias(db: Db, surfaces: Array<{ modelAlias: string; model: { id: string; aliases: Array<{ name: string; version: { id: string } }> } | null }>): Promise<Map<string, Date>> {
  const since = new Map<string, Date>();
  for (const s of surfaces) {
    const key = s.model ? `${s.model.id}\u0000${s.modelAlias}` : null;
    if (!s.model || !key || since.has(key)) continue;
    const current = s.model.aliases.find((a) => a.name === s.modelAlias)?.version.id;
    const open = stintsOf(await aliasChanges(db, s.model.id, s.modelAlias)).at(-1);
    if (open && open.until === null && open.versionId === current && open.from) since.set(key, open.from);
  }
  return since;
}
