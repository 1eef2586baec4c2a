import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { auditRowOf } from "../audit/service";
import type { Db } from "../db/client";
import { UNCONDITIONAL_MARKER_ACTIONS, deployMarkerOf, markedAliasesOf, type DeployMarker } from "../domain/audit/deployMarkers";
import { REACH_RECORDING_ACTIONS, RECENT_CHANGE_ACTIONS } from "../domain/audit/recentChanges";
import { subjects } from "../domain/audit/subject";
import { BURN_WINDOWS, SLIS, availabilityBurnRate, burnAlertName, burnLevel, burnRate, firingBurnAlerts, objectiveProblem, unattributedBurnRate, type BurnLevel, type BurnWindow, type FiringBurnAlert, type Sli } from "../domain/stats/slo";
import { Prisma } from "../db/generated/client";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import type { AliasRollback } from "../history/service";
import { openModel } from "../inference/sessions";
import { recordPromotion } from "../history/record";
import { surfacesReachedBy } from "../registry/aliasReach";
import { setAliasIn } from "../registry/versions";
import { versionWords } from "../registry/versionWords";
import { changedSince } from "../domain/changedSince";
import { rollbackChoices, stage2ConfiguredAt } from "../history/service";
import { LEVER_TRANSACTION } from "../db/leverTransaction";
import { lockRolloutsOfModel, rolloutsOnServingAlias, type RolloutOnAlias } from "../rollouts/servingAliasGuard";
import type { AliasRole } from "../domain/rollouts/aliasReach";
import { notifyInTransaction } from "../webhooks/notify";
import { UNATTRIBUTED_SURFACE } from "../telemetry/errorTally";
import { lockSurfaceRow } from "../surfaces/lock";
import { stage2ConfigSchema } from "../surfaces/stage2.schema";
import { rollbackStageOf, type AliasChangeKind, type StageLastChange } from "../domain/rollouts/history";

// What on-call needs per surface, from the request log: latency percentiles, fallback rate and
// reasons, SLO burn per window and the multiwindow burn-rate alerts that fire (the rules Prometheus
// runs from deploy/prometheus/alerts.yml, computed here from the app's own log), the recent changes
// and deploy markers (audit log); and the two levers, the kill switch and rolling the serving alias
// back to an earlier version from the promotion history.
// Both levers are audited and reach every replica through the config watch (CONFIG_WATCH_INTERVAL_MS).

interface WindowRow {
  surface: string;
  requests: number;
  fallbacks: number;
  slow: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** The page's window, [since, now]: rows stamped after `now` (a replica with a fast clock) wait, as in burnCounts. */
const windowStats = (db: Db, since: Date, now: Date) =>
  db.$queryRaw<WindowRow[]>`
    SELECT r.surface, count(*)::float8 AS requests, count(*) FILTER (WHERE r.fallback_used)::float8 AS fallbacks,
      count(*) FILTER (WHERE r.latency_ms > s.slo_latency_p99_ms)::float8 AS slow,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms) AS p95,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY r.latency_ms) AS p99
    FROM rerank_requests r JOIN surfaces s ON s.key = r.surface
    WHERE r.ts >= ${since} AND r.ts <= ${now}
    GROUP BY r.surface`;

/** The burn windows, shortest first. */
const WINDOWS_BY_LENGTH = (Object.keys(BURN_WINDOWS) as BurnWindow[]).sort((a, b) => BURN_WINDOWS[a] - BURN_WINDOWS[b]);

type WindowCounts = Record<BurnWindow, { requests: number; fallbacks: number; slow: number; errors: number }>;

interface BurnCounts {
  /** Per surface key: logged requests, fallbacks and slow ones, and 5xx answers (rerank_errors; names no surface has too, with no requests). */
  surfaces: Map<string, WindowCounts>;
  /** 5xx answers no surface can be charged with (rerank_errors rows of a name no surface has), per window. */
  unattributed: Record<BurnWindow, number>;
}

/**
 * Requests, fallbacks and requests over the latency target per surface for every burn window, in
 * one pass over the longest window: one row per surface with three FILTERed counts per window (3.5×
 * faster than grouping rows into age bands, measured on 2M rows; docs/SCALE-OUT.md). The 5xx
 * answers come from one statement, so the unattributed ones are always within all of them.
 * The longest window is 3 days (the long ticket): the statement's bounds on ts prune the request
 * log to the 4 day partitions that overlap (now − 3 d, now]; it reads 3 days of rows where the
 * 1-day window read one, and rows stamped after `now` (a fast clock) count in no window.
 */
async function burnCounts(db: Db, now: Date): Promise<BurnCounts> {
  const since = (w: BurnWindow) => new Date(now.getTime() - BURN_WINDOWS[w] * 1000);
  const columns = WINDOWS_BY_LENGTH.map((w) => Prisma.sql`
    count(*) FILTER (WHERE r.ts > ${since(w)})::float8 AS ${Prisma.raw(`"requests_${w}"`)},
    count(*) FILTER (WHERE r.ts > ${since(w)} AND r.fallback_used)::float8 AS ${Prisma.raw(`"fallbacks_${w}"`)},
    count(*) FILTER (WHERE r.ts > ${since(w)} AND r.latency_ms > s.slo_latency_p99_ms)::float8 AS ${Prisma.raw(`"slow_${w}"`)}`);
  const rows = await db.$queryRaw<Array<Record<string, number> & { surface: string }>>`
    SELECT r.surface, ${Prisma.join(columns, ",")}
    FROM rerank_requests r JOIN surfaces s ON s.key = r.surface
    WHERE r.ts > ${since(WINDOWS_BY_LENGTH.at(-1)!)} AND r.ts <= ${now}
    GROUP BY r.surface`;
  // Requests answered with a 5xx never reach the log: their per-minute tally (telemetry/errorTally.ts).
  // A minute counts in a window when it began after the window's start.
  const errorColumns = WINDOWS_BY_LENGTH.map((w) => Prisma.sql`coalesce(sum(count) FILTER (WHERE minute > ${since(w)}), 0)::float8 AS ${Prisma.raw(`"errors_${w}"`)}`);
  const errorRows = await db.$queryRaw<Array<Record<string, number> & { surface: string; unattributed: boolean }>>`
    SELECT e.surface, NOT EXISTS (SELECT 1 FROM surfaces s WHERE s.key = e.surface) AS unattributed, ${Prisma.join(errorColumns, ",")}
    FROM rerank_errors e WHERE minute > ${since(WINDOWS_BY_LENGTH.at(-1)!)} AND minute <= ${now}
    GROUP BY e.surface`;
  const errors = new Map(errorRows.map((row) => [row.surface, row]));
  const keys = new Set([...rows.map((r) => r.surface), ...errors.keys()]);
  const byRow = new Map(rows.map((row) => [row.surface, row]));
  const surfaces = new Map([...keys].map((surface) => {
    const row = byRow.get(surface);
    const err = errors.get(surface);
    return [surface, Object.fromEntries(WINDOWS_BY_LENGTH.map((w) => [w, { requests: row?.[`requests_${w}`] ?? 0, fallbacks: row?.[`fallbacks_${w}`] ?? 0, slow: row?.[`slow_${w}`] ?? 0, errors: err?.[`errors_${w}`] ?? 0 }])) as WindowCounts];
  }));
  const unattributed = Object.fromEntries(WINDOWS_BY_LENGTH.map((w) => [w, errorRows.filter((r) => r.unattributed).reduce((n, r) => n + r[`errors_${w}`]!, 0)])) as Record<BurnWindow, number>;
  return { surfaces, unattributed };
}

/** The latency SLI's objective: 99 % of requests within the surface's p99 target. */
const LATENCY_OBJECTIVE = 0.99;

export interface ActiveAlert extends FiringBurnAlert {
  /** e.g. RerankAvailabilityFastBurn: the Prometheus alert of the same rule. */
  alert: string;
  surface: string;
  sli: Sli;
  objective: number;
}

export type RollbackTarget = NonNullable<AliasRollback["target"]>;

/**
 * One SLI's burn over 1 h and 6 h (null: no traffic, or no budget) and what it calls for; level
 * "no_budget" with a `note` naming the field when the surface's objective leaves no error budget
 * (slo_availability 1: "slo_availability: objective 100 %: no error budget").
 */
export interface SliBurn {
  oneHour: number | null;
  sixHours: number | null;
  level: BurnLevel | "no_budget";
  note: string | null;
}

/** The note of an objective without an error budget, naming the field it came from; null when it has one. */
const sloNote = (field: string, problem: string | null) => (problem ? `${field}: ${problem}` : null);

/** One stage of a surface's cascade as the rollback lever sees it (stage 1: the serving alias; 2: the alias stage 2 rescores with). */
export interface StageLever {
  stage: 1 | 2;
  modelName: string;
  alias: string;
  serving: { versionId: string; version: number } | null;
  /** Every surface the alias reaches, this one first, with how each uses it: a rollback of the stage moves them all. */
  reach: Array<{ key: string; roles: AliasRole[] }>;
  rollback: RollbackTarget | null;
  rollbackUnavailable: string | null;
  rollbackAborts: RolloutOnAlias[];
  /** The newest change of the alias from one version to another (stage 2's: since it was configured); null: none. */
  lastChange: { kind: AliasChangeKind; at: Date; actor: string } | null;
  /** Stage 2: when and by whom it was last configured (another model or alias); null for stage 1, or when not recorded. */
  configured: { at: Date; actor: string } | null;
}

export interface SurfaceHealth {
  key: string;
  name: string;
  killSwitch: boolean;
  modelName: string | null;
  servingAlias: string;
  serving: { versionId: string; version: number } | null;
  /** Other surfaces the serving alias reaches (in any role): a rollback moves them too. */
  sharedWith: string[];
  /** Every surface the serving alias reaches, this one first, with how each uses it: the rollback dialog lists them. */
  reach: Array<{ key: string; roles: AliasRole[] }>;
  rollback: RollbackTarget | null;
  /** Why there is no one-click target (every served version ruled out, or none served before): the page says it; null when there is one. */
  rollbackUnavailable: string | null;
  /** The running or paused canaries judged against the serving alias: a rollback aborts each (the dialog lists them). */
  rollbackAborts: RolloutOnAlias[];
  /** The stages a rollback can move, stage 1 first (the fields above are stage 1's); stage 2 on a cascade surface. */
  stages: StageLever[];
  /** The stage the one-click rollback moves (rollbackStageOf): on a cascade, the one whose standing change is newest; null when stage 2 was reconfigured after it (no alias move undoes a configuration). */
  rollbackStage: 1 | 2 | null;
  slo: { latencyP99Ms: number; availability: number };
  window: { requests: number; fallbackRate: number | null; p50: number | null; p95: number | null; p99: number | null };
  burn: { availability: SliBurn; latency: SliBurn };
  fallbackReasons: Array<{ reason: string; count: number }>;
  /** Multiwindow burn-rate alerts firing now, pages first. */
  alerts: ActiveAlert[];
}

export async function oncallOverview(db: Db, input: { hours: number }) {
  const at = new Date();
  const since = new Date(at.getTime() - input.hours * 3_600_000);
  const counting = burnCounts(db, at);
  // Every query of the page ends at `at`: a row stamped later (a replica with a fast clock) counts in no card until then.
  const [surfaces, inWindow, { surfaces: perWindow }, reasons, unattributed] = await Promise.all([
    db.surface.findMany({
      orderBy: { key: "asc" },
      include: { model: { select: { id: true, name: true, aliases: { select: { name: true, version: { select: { id: true, version: true } } } } } } },
    }),
    windowStats(db, since, at),
    counting,
    db.$queryRaw<Array<{ surface: string; reason: string; count: number }>>`
      SELECT surface, coalesce(fallback_reason, 'unknown') AS reason, count(*)::float8 AS count
      FROM rerank_requests WHERE ts >= ${since} AND ts <= ${at} AND fallback_used GROUP BY surface, fallback_reason ORDER BY count DESC`,
    counting.then((counts) => unattributedErrors(db, at, since, counts)),
  ]);
  const w = new Map(inWindow.map((r) => [r.surface, r]));
  const result: SurfaceHealth[] = [];
  for (const s of surfaces) {
    const serving = s.model?.aliases.find((a) => a.name === s.modelAlias)?.version ?? null;
    const stats = w.get(s.key);
    const counts = perWindow.get(s.key);
    // The latency SLO: 99 % of requests within the surface's p99 target.
    const objective: Record<Sli, number> = { availability: s.sloAvailability, latency: LATENCY_OBJECTIVE };
    // An objective without an error budget (slo_availability 1, set by SQL) has no burn: its SLI's
    // burns are null, with a note on this card; every other card and SLI is unaffected.
    const problems: Record<Sli, string | null> = {
      availability: sloNote("slo_availability", objectiveProblem(objective.availability)),
      latency: sloNote("latency objective", objectiveProblem(objective.latency)),
    };
    const burnsOf = (sli: Sli) => Object.fromEntries(WINDOWS_BY_LENGTH.map((win) => {
      const c = counts?.[win];
      if (!c || problems[sli]) return [win, null];
      // Availability: fallbacks and 5xx answers are bad events (an outage burns the budget).
      return [win, sli === "availability" ? availabilityBurnRate(c, objective[sli]) : burnRate(c.slow, c.requests, objective[sli])];
    })) as Record<BurnWindow, number | null>;
    const burns = { availability: burnsOf("availability"), latency: burnsOf("latency") };
    const alerts = SLIS.flatMap((sli) => firingBurnAlerts(burns[sli]).map((a) => ({ ...a, alert: burnAlertName(sli, a), surface: s.key, sli, objective: objective[sli] })))
      .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "page" ? -1 : 1));
    const burnOf = (sli: Sli): SliBurn => {
      const oneHour = burns[sli]["1h"];
      const sixHours = burns[sli]["6h"];
      return problems[sli] ? { oneHour, sixHours, level: "no_budget", note: problems[sli] } : { oneHour, sixHours, level: burnLevel(oneHour, sixHours), note: null };
    };
    const cascade = await cascadeOf(db, s);
    const stages = await Promise.all(cascade.stages.map((stage) => stageLever(db, s.key, stage, cascade)));
    const one = stages.find((x) => x.stage === 1);
    result.push({
      key: s.key, name: s.name, killSwitch: s.killSwitch, modelName: s.model?.name ?? null, servingAlias: s.modelAlias,
      serving: serving ? { versionId: serving.id, version: serving.version } : null,
      sharedWith: (one?.reach ?? []).filter((r) => r.key !== s.key).map((r) => r.key),
      reach: one?.reach ?? [],
      ...(one ? { rollback: one.rollback, rollbackUnavailable: one.rollbackUnavailable, rollbackAborts: one.rollbackAborts } : { rollback: null, rollbackUnavailable: `"${s.key}" has no model to roll back`, rollbackAborts: [] }),
      stages,
      rollbackStage: oneClickStage(cascade),
      slo: { latencyP99Ms: s.sloLatencyP99Ms, availability: s.sloAvailability },
      window: { requests: stats?.requests ?? 0, fallbackRate: stats?.requests ? stats.fallbacks / stats.requests : null, p50: stats?.p50 ?? null, p95: stats?.p95 ?? null, p99: stats?.p99 ?? null },
      burn: { availability: burnOf("availability"), latency: burnOf("latency") },
      fallbackReasons: reasons.filter((r) => r.surface === s.key).map((r) => ({ reason: r.reason, count: r.count })),
      alerts,
    });
  }
  const alerts = [...unattributed.alerts, ...result.flatMap((s) => s.alerts)].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "page" ? -1 : 1));
  return { hours: input.hours, at, surfaces: result, unattributed, alerts };
}

/**
 * The availability objective of 5xx answers no surface can be charged with: the one
 * deploy/prometheus/alerts.yml assumes for every series (the surfaces' default, 99.9 %).
 */
const UNATTRIBUTED_OBJECTIVE = 0.999;

export interface UnattributedErrors {
  /** The label they are counted under (rerank_errors.surface, rerank_requests_total's surface). */
  label: typeof UNATTRIBUTED_SURFACE;
  /** 5xx answers in the page's window (its `hours`). */
  errors: number;
  /** Their burn over 1 h and 6 h, against every surface's requests (unattributedBurnRate): null without traffic. */
  burn: { oneHour: number | null; sixHours: number | null; level: BurnLevel };
  objective: number;
  /** The burn-rate alerts they fire, as Prometheus fires them on the surface="unattributed" ratio. */
  alerts: ActiveAlert[];
}

/**
 * Rerank answers with a 5xx that no surface can be charged with: rerank_errors rows under
 * UNATTRIBUTED_SURFACE (server/http/server.ts attributedSurface), and rows of any name no surface
 * has (older rows, counted as "unknown" or under the name a client sent). Their availability burn
 * is a service-level ratio, as Prometheus computes it (deploy/prometheus/alerts.yml): unattributed
 * 5xx over every request of every surface (logged, or answered with a 5xx), never over the
 * unattributed series' own requests, all of which are errors (one 5xx would page). A database
 * outage that fails every key check still pages, although no surface's own burn moves.
 * @param now the end of every window; @param since the start of the page's window;
 * @param counts the burn windows' counts at `now`, when the caller has them already.
 */
export async function unattributedErrors(db: Db, now: Date, since: Date, counts?: BurnCounts): Promise<UnattributedErrors> {
  // The page's window counts every minute that overlaps it: from the minute `since` falls in.
  const pageStart = new Date(Math.floor(since.getTime() / 60_000) * 60_000);
  const [[row], { surfaces, unattributed }] = await Promise.all([
    db.$queryRaw<Array<{ errors: number }>>`
      SELECT coalesce(sum(e.count), 0)::float8 AS errors FROM rerank_errors e
      WHERE e.minute >= ${pageStart} AND e.minute <= ${now} AND NOT EXISTS (SELECT 1 FROM surfaces s WHERE s.key = e.surface)`,
    counts ?? burnCounts(db, now),
  ]);
  const burns = Object.fromEntries(WINDOWS_BY_LENGTH.map((w) => {
    const service = { requests: 0, errors: 0 };
    for (const c of surfaces.values()) {
      service.requests += c[w].requests;
      service.errors += c[w].errors;
    }
    return [w, unattributedBurnRate(unattributed[w], service, UNATTRIBUTED_OBJECTIVE)];
  })) as Record<BurnWindow, number | null>;
  const alerts = firingBurnAlerts(burns).map((a) => ({ ...a, alert: burnAlertName("availability", a), surface: UNATTRIBUTED_SURFACE, sli: "availability" as const, objective: UNATTRIBUTED_OBJECTIVE }));
  return {
    label: UNATTRIBUTED_SURFACE,
    errors: row?.errors ?? 0,
    burn: { oneHour: burns["1h"], sixHours: burns["6h"], level: burnLevel(burns["1h"], burns["6h"]) },
    objective: UNATTRIBUTED_OBJECTIVE,
    alerts,
  };
}

export interface SeriesMarker extends DeployMarker {
  ts: Date;
  /** The person, key or job that made the change. */
  actor: string;
  reason: string | null;
}

/** The most deploy markers one chart draws: the window's newest (older ones are on the Audit page). */
export const SERIES_MARKER_LIMIT = 200;

/**
 * Latency percentiles and fallback rate in 5-minute buckets (1 h and 6 h windows) or hourly
 * (longer), each point stamped at its bucket's end (the bucket in progress too), as Prometheus
 * stamps a rate at its window's end: a change's effect never shows left of its marker. And the deploy markers of the window: alias moves, rollbacks, kill switches and canary
 * outcomes on the surface, oldest first, from the audit trail.
 * Only entries that make a marker are read (moves of the surface's serving and fallback aliases, not
 * every alias of its model the trail files under it: markedAliasesOf), and of those the newest
 * SERIES_MARKER_LIMIT, so the move just made is always drawn.
 * @returns { points, markers, markersTruncated }: `markersTruncated` true when the window holds more
 *   markers than SERIES_MARKER_LIMIT and the oldest were left out.
 */
export async function oncallSeries(db: Db, input: { surface: string; hours: number }) {
  const now = new Date();
  const since = new Date(now.getTime() - input.hours * 3_600_000);
  const [points, { markers, markersTruncated }] = await Promise.all([
    seriesPoints(db, input.surface, since, now, input.hours <= 6 ? 5 : 60),
    seriesMarkers(db, input.surface, since),
  ]);
  return { points, markers, markersTruncated };
}

/** The surface's deploy markers since `since`, oldest first: the newest SERIES_MARKER_LIMIT, and whether older ones were left out. */
async function seriesMarkers(db: Db, surfaceKey: string, since: Date): Promise<{ markers: SeriesMarker[]; markersTruncated: boolean }> {
  const surface = await db.surface.findUnique({ where: { key: surfaceKey }, select: { modelAlias: true, fallbackAlias: true } });
  const aliases = { serving: surface?.modelAlias ?? "production", fallback: surface?.fallbackAlias ?? null };
  const newest = await db.auditLog.findMany({
    where: {
      ts: { gte: since }, surfaceKeys: { has: surfaceKey },
      OR: [
        { action: { in: [...UNCONDITIONAL_MARKER_ACTIONS] } },
        ...markedAliasesOf(aliases).map((alias) => ({ action: "model.alias.set", after: { path: ["alias"], equals: alias } })),
      ],
    },
    orderBy: [{ ts: "desc" }, { id: "desc" }],
    take: SERIES_MARKER_LIMIT + 1,
  });
  const markers: SeriesMarker[] = [];
  for (const c of newest.slice(0, SERIES_MARKER_LIMIT).reverse()) {
    const marker = deployMarkerOf({ action: c.action, before: c.before, after: c.after, reason: c.reason }, aliases);
    if (marker) markers.push({ ...marker, ts: c.ts, actor: c.actor, reason: c.reason });
  }
  return { markers, markersTruncated: newest.length > SERIES_MARKER_LIMIT };
}

/** The surface's rows of [since, now] in buckets: a row stamped after `now` (a replica with a fast clock) is not plotted yet. */
async function seriesPoints(db: Db, surface: string, since: Date, now: Date, bucketMinutes: number) {
  const rows = await db.$queryRaw<Array<{ bucket: Date; requests: number; fallbacks: number; p95: number; p99: number }>>`
    SELECT date_bin(${`${bucketMinutes} minutes`}::interval, ts, TIMESTAMPTZ '2000-01-01') AS bucket, count(*)::float8 AS requests,
      count(*) FILTER (WHERE fallback_used)::float8 AS fallbacks,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
    FROM rerank_requests WHERE surface = ${surface} AND ts >= ${since} AND ts <= ${now}
    GROUP BY 1 ORDER BY 1`;
  return rows.map((r) => ({ ts: new Date(r.bucket.getTime() + bucketMinutes * 60_000), requests: r.requests, fallbackRate: r.fallbacks / r.requests, p95: r.p95, p99: r.p99 }));
}

/**
 * Changes that touch serving, newest first (`limit` of them): alias moves, kill switch, shadow,
 * cascade, experiment and canary changes (RECENT_CHANGE_ACTIONS). Entries that change nothing themselves
 * ("Analyse now", NOT_CHANGES; alias moves recorded as reaching no surface, REACH_RECORDING_ACTIONS)
 * are left out before the limit, so they cannot push a change off the list (isRecentChangeEntry, in SQL).
 * @returns audit rows (auditRowOf), with their sentences.
 */
export async function recentChanges(db: Db, input: { limit: number }) {
  // In SQL, as the entry's `after` may lack `reached` (written before it was recorded): kept, where
  // Prisma's NOT over a JSON path drops the rows whose path is missing.
  const chosen = await db.$queryRaw<Array<{ id: bigint }>>`
    SELECT id FROM audit_log WHERE action = ANY(${[...RECENT_CHANGE_ACTIONS]})
      AND NOT (action = ANY(${[...REACH_RECORDING_ACTIONS]}) AND coalesce(after -> 'reached' = '[]'::jsonb, false))
    ORDER BY id DESC LIMIT ${input.limit}`;
  const rows = await db.auditLog.findMany({ where: { id: { in: chosen.map((c) => c.id) } }, orderBy: { id: "desc" } });
  return rows.map(auditRowOf);
}

/**
 * Turns a surface's kill switch on or off, with its audit entry, history row and `kill_switch`
 * webhook in one transaction. The surface's row is locked before it is read, so of presses made at
 * once each sees the state the one before left: a press that changes nothing (on when already on)
 * writes nothing and sends nothing.
 * @returns { key, killSwitch, changed }: `changed` false for such a press, with `already` saying who
 *   set it so, when and why (from the history; null when no row says so).
 * @throws NotFoundError for an unknown surface.
 */
export async function setKillSwitch(db: Db, input: { surface: string; on: boolean; reason: string }, actor: Actor) {
  return db.$transaction(async (tx) => {
    await lockSurfaceRow(tx, { key: input.surface });
    const surface = await tx.surface.findUnique({ where: { key: input.surface }, include: { model: { select: { id: true, name: true } } } });
    if (!surface) throw new NotFoundError("surface", input.surface);
    if (surface.killSwitch === input.on) {
      const last = await tx.promotionHistory.findFirst({ where: { surfaceKey: surface.key, kind: "kill_switch" }, orderBy: { id: "desc" }, select: { actor: true, ts: true, reason: true } });
      return { key: surface.key, killSwitch: surface.killSwitch, changed: false, already: last ? { by: last.actor, at: last.ts, reason: last.reason } : null };
    }
    const updated = await tx.surface.update({
      where: { id: surface.id }, data: { killSwitch: input.on, configVersion: { increment: 1 } }, select: { key: true, killSwitch: true },
    });
    await recordAudit(tx, {
      action: "surface.kill_switch", actor, subject: subjects.surface(surface.id, surface.key), surfaces: [surface.key],
      before: { killSwitch: surface.killSwitch }, after: { killSwitch: input.on, surface: surface.key }, reason: input.reason,
    });
    await recordPromotion(tx, { kind: "kill_switch", actor, reason: input.reason, surface: surface.key, model: surface.model, killSwitch: input.on });
    await notifyInTransaction(tx, { kind: "kill_switch", data: { surface: surface.key, on: input.on }, actor: actor.name, reason: input.reason });
    return { ...updated, changed: true, already: null };
  }, LEVER_TRANSACTION);
}

const ALIAS_MOVES = ["alias_move", "rollback", "ship", "promotion"] as const;

/**
 * What the On-call page shows of one stage's rollback before the press: the alias and the version it
 * serves, every surface it reaches (`surface` first), its target (or why none), the canaries it would
 * abort and its newest change.
 */
async function stageLever(db: Db, surface: string, stage: StageAlias, cascade: Cascade): Promise<StageLever> {
  const { model, alias } = stage;
  const serving = await servingVersion(db, model.id, alias);
  const [choices, aborts, reached] = await Promise.all([
    rollbackChoices(db, model.id, alias, serving?.id ?? null, stage.since),
    rolloutsOnServingAlias(db, { modelId: model.id, alias }),
    surfacesReachedBy(db, { modelId: model.id, modelName: model.name, alias }),
  ]);
  const reach = [...reached.filter((r) => r.key === surface), ...reached.filter((r) => r.key !== surface)].map((r) => ({ key: r.key, roles: r.roles }));
  const last = stage.lastChange;
  return {
    stage: stage.stage, modelName: model.name, alias,
    serving: serving ? { versionId: serving.id, version: serving.version } : null,
    reach, rollback: choices.target, rollbackUnavailable: choices.unavailable, rollbackAborts: aborts,
    lastChange: last.kind !== null ? { kind: last.kind, at: last.at!, actor: last.actor! } : null,
    configured: stage.stage === 2 && cascade.configured ? { at: cascade.configured.at, actor: cascade.configured.actor } : null,
  };
}

/** The words for a canary a rollback aborts: `rollout <id> on "home-feed" (v4 at 5 %, running)`. */
const describeAborted = (r: RolloutOnAlias) => `rollout ${r.id} on "${r.surface}" (v${r.version} at ${r.percent} %, ${r.status})`;

/**
 * Refuses a rollback onto a version that cannot be opened: opening it the way serving does
 * (openModel: its artifact read and its session created, a failed load remembered 30 s) before the
 * alias moves, so a rollback never lands every request of the alias's surfaces on the fallback.
 */
async function checkOpens(model: string, alias: string, target: { versionId: string; version: number }, field: string) {
  try {
    await openModel({ versionId: target.versionId });
  } catch (error) {
    const why = (error as Error).message.split("\n")[0];
    throw new ConflictError(`${field}: ${model} v${target.version} cannot be opened (${why}), so ${alias} was not moved: pick another version on the Serving history page (toVersion)`);
  }
}

/** Why `version` is not among a rollback's options, in words: "v3 was rolled back from: re-serving it is an alias move, not a rollback". */
function notATarget(choices: AliasRollback, serving: { version: number } | null, version: number): string {
  if (serving?.version === version) return `v${version} is serving now`;
  const ruled = choices.ruledOut.find((r) => r.version === version);
  // Re-serving it is what an alias move does, with the permission and approval a move needs.
  if (ruled) return `${ruled.why}: re-serving it is an alias move, not a rollback`;
  return `v${version} never served this alias (a rollback goes back to what served; another version is an alias move)`;
}

/** The rollback options in words, for a refusal: "rollback targets: v2, v1" or "no rollback target". */
const offered = (choices: AliasRollback) => (choices.options.length ? `rollback targets: ${choices.options.map((o) => `v${o.version}`).join(", ")}` : "no rollback target");

/** One stage of a surface's cascade whose alias a rollback can move, with its newest standing-or-not change. */
interface StageAlias {
  stage: 1 | 2;
  model: { id: string; name: string };
  alias: string;
  lastChange: StageLastChange & { at: Date | null; actor: string | null };
  /** Stage 2: only its alias's rows after this promotion_history id are this surface's (since it was configured); null: all. */
  since: bigint | null;
}

/** A surface's stages, and when its stage 2 was last configured (promotion_history kind stage2; null: never recorded). */
interface Cascade {
  stages: StageAlias[];
  configured: { order: bigint; at: Date; actor: string } | null;
}

/**
 * The stages of a surface a rollback can move, stage 1 first (when the surface has a model): stage 2
 * when its configuration parses and names a registered model (an unresolved stage 2 serves stage 1's
 * order: nothing of it to roll back). Each with the newest change of its alias from one version to
 * another (no-op moves, and an alias's first setting, which leaves nothing to roll back to, left
 * out: the seed's setting of a model it just registered is no regression); stage 2's only since it
 * was configured (the alias's moves before it rescored this surface are no change here). With the
 * last stage-2 configuration: rollbackStageOf picks the one-click stage from them.
 */
async function cascadeOf(db: Db | Prisma.TransactionClient, surface: { key: string; model: { id: string; name: string } | null; modelAlias: string; stage2: Prisma.JsonValue | null }): Promise<Cascade> {
  const refs: Array<Omit<StageAlias, "lastChange" | "since">> = surface.model ? [{ stage: 1, model: surface.model, alias: surface.modelAlias }] : [];
  const config = stageAliasOf(surface, 2);
  const [model, configured] = await Promise.all([
    config ? db.model.findUnique({ where: { name: config.model }, select: { id: true, name: true } }) : null,
    stage2ConfiguredAt(db, surface.key),
  ]);
  if (config && model) refs.push({ stage: 2, model, alias: config.alias });
  const since = (stage: 1 | 2) => (stage === 2 && configured ? configured.id : 0n);
  const stages = await Promise.all(refs.map(async (ref) => {
    const [row] = await db.$queryRaw<Array<{ id: bigint; kind: AliasChangeKind; ts: Date; actor: string }>>`
      SELECT id, kind::text AS kind, ts, actor FROM promotion_history
      WHERE model_id = ${ref.model.id} AND alias = ${ref.alias} AND kind::text IN (${Prisma.join([...ALIAS_MOVES])})
        AND from_version_id IS NOT NULL AND from_version_id IS DISTINCT FROM to_version_id AND id > ${since(ref.stage)}
      ORDER BY id DESC LIMIT 1`;
    return { ...ref, since: ref.stage === 2 ? (configured?.id ?? null) : null, lastChange: { stage: ref.stage, order: row?.id ?? null, kind: row?.kind ?? null, at: row?.ts ?? null, actor: row?.actor ?? null } };
  }));
  return { stages, configured: configured ? { order: configured.id, at: configured.ts, actor: configured.actor } : null };
}

/** The one-click stage of a cascade (rollbackStageOf over its stages and its last stage-2 configuration). */
const oneClickStage = (c: Cascade) => rollbackStageOf(c.stages.map((x) => x.lastChange), c.configured?.order ?? null);

/**
 * A rollback of a cascade surface that names no stage and pins nothing (an API call, a retry) goes to
 * the one-click stage, but never where the newest change is not a standing alias move: refused (409)
 * when stage 2 was reconfigured after every standing change (no alias move undoes a configuration),
 * and when the newest change of either stage is a rollback (a retry of a rollback that committed
 * would otherwise roll the other stage back: a shared serving alias on every surface it reaches).
 */
function refuseBareCascadeRollback(surface: string, cascade: Cascade): void {
  const name = (s: StageAlias) => `stage ${s.stage} (${s.model.name} ${s.alias})`;
  const moved = cascade.stages.filter((s) => s.lastChange.order !== null).sort((a, b) => (a.lastChange.order! > b.lastChange.order! ? -1 : 1));
  const newest = moved[0];
  if (newest?.lastChange.kind === "rollback") {
    throw new ConflictError(`rollback of ${surface} refused: ${name(newest)} was rolled back by ${newest.lastChange.actor} at ${newest.lastChange.at!.toISOString()}, the newest change of the cascade; a rollback that names no stage does not go on to the other stage: name stage 1 or 2`);
  }
  if (oneClickStage(cascade) === null) {
    const two = cascade.stages.find((s) => s.stage === 2)!;
    throw new ConflictError(`rollback of ${surface} refused: stage 2 was reconfigured to ${two.model.name} ${two.alias} by ${cascade.configured!.actor} at ${cascade.configured!.at.toISOString()}, after every alias move; a rollback moves aliases, not a configuration: undo it with Restore in stage 2's Edit dialog on the Overview (surfaces.lastStage2Change, then surfaces.configureStage2), or name stage 1 or 2 to roll an alias back`);
  }
}

/** The model name and alias stage `stage` of a surface row scores with (null: no such stage); cascadeOf and the rollback's re-read under the lock both read stages so. */
function stageAliasOf(surface: { model: { name: string } | null; modelAlias: string; stage2: Prisma.JsonValue | null }, stage: 1 | 2): { model: string; alias: string } | null {
  if (stage === 1) return surface.model ? { model: surface.model.name, alias: surface.modelAlias } : null;
  const config = stage2ConfigSchema.safeParse(surface.stage2).data;
  return config ? { model: config.model, alias: config.alias } : null;
}

/** The model and alias stage `stage` of the surface scores with as stored now (null: no such surface or stage). */
async function stageAliasNow(tx: Prisma.TransactionClient, key: string, stage: 1 | 2): Promise<{ model: string; alias: string } | null> {
  const surface = await tx.surface.findUnique({ where: { key }, select: { modelAlias: true, stage2: true, model: { select: { name: true } } } });
  return surface ? stageAliasOf(surface, stage) : null;
}

/** The version `alias` of the model points at (null: unset). */
async function servingVersion(db: Db | Prisma.TransactionClient, modelId: string, alias: string) {
  const row = await db.modelAlias.findUnique({ where: { modelId_name: { modelId, name: alias } }, select: { version: { select: { id: true, version: true } } } });
  return row?.version ?? null;
}

/**
 * Moves the alias of one stage of the surface back (`stage`: 1, its serving alias; 2, the alias its
 * cascade's stage 2 rescores with; omitted: the stage whose standing change was written last,
 * rollbackStageOf, so the one click undoes a stage-2 regression rather than moving stage 1; a call
 * that pins a version, toVersion or expect*, without naming a stage is stage 1's, as it read): to
 * `toVersion` if given (one of rollbackChoices' options:
 * a version that served before the current stint, that no rollback has since gone from or past and
 * whose canary did not fail since; server/domain/rollouts/history.ts), else to the one-click target
 * (the first of them). Never waits for approval, so it never re-serves what a rollback left or a
 * version newer than the one rolled back to: that is an alias move, which approvals govern.
 * Input: `expectVersionId`: the one-click target the page showed; `expectFromVersionId`: the version
 * the page showed serving (null: unset), both checked under the model's lock; `expectAlias`: the
 * stage's model and alias the page showed (without `stage`, it picks the stage that uses them),
 * checked when the stage is chosen. Pinned or not, the stage's model and alias are read again under
 * the surface's lock: a stage-2 reconfiguration meanwhile is a 409, nothing moves.
 * A rollback that pins none of them works whatever moved the alias (the on-call's one click, an API caller that read nothing):
 * the alias, the history and the target are read under the model's lock (taken after its rollouts'
 * rows, as the judge takes them), so whatever moved the alias meanwhile (a setAlias, a canary's
 * promotion) it rolls back from what serves now. Only another rollback of the very state this one
 * found on arrival refuses it: that press already did what this one asks, and a second would go one
 * version further back than anyone chose.
 * Returns { surface, stage, surfaces, alias, model, version, aborted }: `surfaces` is every surface the alias reaches
 * (the pressed one first), as the move's audit entry, history row and the `rollback` webhook name them,
 * read in the move's transaction; `aborted`, every canary judged against the alias that the move
 * aborted (any surface's: a rollback on search aborts home-feed's canary on the shared alias).
 * The target must open (its artifact loads, as serving opens it) or nothing moves (409).
 * Errors: ConflictError (409) when the alias moved since the caller read it (`expectVersionId` no longer
 * the one-click target, `expectFromVersionId` no longer serving, or another rollback of the same state
 * committed first, or the stage's model or alias is not the one read: `expectAlias`, a reconfiguration
 * while the rollback was prepared, a pinned stage 2 since removed); InvalidInputError when there is nothing to roll back to, or (naming `toVersion`)
 * when `toVersion` is not an option: serving now, never served, rolled back from or past, or its
 * canary failed since.
 */
export async function rollbackSurface(db: Db, input: { surface: string; reason: string; stage?: 1 | 2; expectVersionId?: string; expectFromVersionId?: string | null; expectAlias?: { model: string; alias: string }; toVersion?: number }, actor: Actor) {
  const surface = await db.surface.findUnique({ where: { key: input.surface }, select: { key: true, modelAlias: true, stage2: true, model: { select: { id: true, name: true } } } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const cascade = await cascadeOf(db, surface);
  const { stages } = cascade;
  // A caller that pinned a version without naming a stage read stage 1 (as before cascades had a lever); only the bare one click picks.
  const readStageOne = input.toVersion !== undefined || input.expectVersionId !== undefined || input.expectFromVersionId !== undefined || input.expectAlias !== undefined;
  if (input.stage === undefined && !readStageOne && stages.length > 1) refuseBareCascadeRollback(surface.key, cascade);
  // A press that pinned the stage's model and alias without naming the stage goes to the stage that uses them.
  const pinnedStage = input.expectAlias ? stages.find((s) => s.model.name === input.expectAlias!.model && s.alias === input.expectAlias!.alias)?.stage : undefined;
  if (input.expectAlias && input.stage === undefined && pinnedStage === undefined) {
    throw new ConflictError(`rollback of ${surface.key} refused: no stage of ${surface.key} uses ${input.expectAlias.model} ${input.expectAlias.alias} now (expectAlias; ${stages.map((s) => `stage ${s.stage}: ${s.model.name} ${s.alias}`).join(", ") || "no model"}); reload and check`);
  }
  const stageWanted = input.stage ?? pinnedStage ?? (readStageOne ? 1 : oneClickStage(cascade) ?? 1);
  const chosen = stages.find((s) => s.stage === stageWanted);
  // A stage that was read (pinned) and is gone now: the page is stale (409), not the input wrong.
  if (!chosen && input.stage === 2 && input.expectAlias) throw new ConflictError(`rollback of ${surface.key} stage 2 refused: ${surface.key} has no stage 2 now (removed since it was read); reload and check`);
  if (!chosen && input.stage === 2) throw new InvalidInputError("stage", `"${surface.key}" has no stage 2 to roll back (no cascade, or its stage 2 names no registered model)`);
  if (!chosen) throw new InvalidInputError(input.stage === undefined ? "surface" : "stage", `"${surface.key}" has no model to roll back`);
  const { model, alias, stage } = chosen;
  const what = `rollback of ${surface.key}${stage === 2 ? " stage 2" : ""} refused`;
  const stageUses = (m: string, a: string) => `${surface.key}${stages.length > 1 ? ` stage ${stage}` : ""} uses ${m} ${a}`;
  if (input.expectAlias && (input.expectAlias.model !== model.name || input.expectAlias.alias !== alias)) {
    throw new ConflictError(`${what}: ${stageUses(model.name, alias)}, not the ${input.expectAlias.model} ${input.expectAlias.alias} that was read (expectAlias); reload and check`);
  }
  // What served when the request arrived: only to tell another rollback of that state from any other move.
  const arrived = await servingVersion(db, model.id, alias);
  // The target is opened before the transaction (a large model takes seconds to open, and the
  // transaction holds the rollouts' and the model's locks): the check under the lock below then finds
  // it open, unless the alias moved meanwhile and the target changed with it.
  const ahead = await rollbackChoices(db, model.id, alias, arrived?.id ?? null, chosen.since);
  const expected = input.toVersion !== undefined ? ahead.options.find((o) => o.version === input.toVersion) : ahead.target;
  if (expected) await checkOpens(model.name, alias, expected, input.toVersion !== undefined ? "toVersion" : "rollback target");
  return db.$transaction(async (tx) => {
    // A rollout judged against this alias is aborted by the move (servingAliasGuard.ts): its rows are
    // locked first, then the model's, as the judge locks them. From here no one else moves the alias.
    await lockRolloutsOfModel(tx, model.id);
    await tx.$queryRaw`SELECT id FROM models WHERE id = ${model.id} FOR UPDATE`;
    // The stage's model and alias, read again under the surface's lock (a stage-2 change takes it; a
    // canary's start takes it after the model's, as here): a reconfiguration committed since the read
    // above leaves this alias serving other surfaces or none, and moving it would not undo what this
    // surface serves.
    await lockSurfaceRow(tx, { key: surface.key });
    const uses = await stageAliasNow(tx, surface.key, stage);
    if (uses?.model !== model.name || uses.alias !== alias) {
      throw new ConflictError(`${what}: ${uses ? stageUses(uses.model, uses.alias) : `${surface.key} has no stage ${stage}`} now, not ${model.name} ${alias} (changed while this rollback was prepared); reload and check`);
    }
    const serving = await servingVersion(tx, model.id, alias);
    const current = serving?.id ?? null;
    const now = serving ? `v${serving.version}` : "unset";
    if (input.expectFromVersionId !== undefined && input.expectFromVersionId !== current) {
      throw new ConflictError(changedSince({ what: `${what}: ${model.name} ${alias}`, change: { shown: await versionWords(tx, input.expectFromVersionId), now }, since: "read" }));
    }
    const pinned = input.expectFromVersionId !== undefined || input.expectVersionId !== undefined;
    if (!pinned && current !== (arrived?.id ?? null)) {
      const last = await tx.promotionHistory.findFirst({ where: { modelId: model.id, alias, kind: { in: [...ALIAS_MOVES] } }, orderBy: { id: "desc" }, select: { kind: true, fromVersionId: true, toVersionId: true, actor: true } });
      if (last?.kind === "rollback" && last.fromVersionId === (arrived?.id ?? null) && last.toVersionId === current) {
        throw new ConflictError(`${what}: ${last.actor} rolled ${model.name} ${alias} back from ${arrived ? `v${arrived.version}` : "unset"} to ${now} a moment ago; reload and check before rolling back further`);
      }
    }
    const choices = await rollbackChoices(tx, model.id, alias, current, chosen.since);
    let target: { versionId: string; version: number } | null = choices.target;
    if (input.toVersion !== undefined) {
      target = choices.options.find((o) => o.version === input.toVersion) ?? null;
      if (!target) throw new InvalidInputError("toVersion", `${notATarget(choices, serving, input.toVersion)}, so ${model.name} ${alias} on ${surface.key} was not moved (${offered(choices)})`);
    }
    if (!target && input.expectVersionId) {
      throw new ConflictError(`the rollback target changed since the page loaded (${model.name} ${alias} now serves ${serving ? now : "nothing"} and has no earlier version): reload and check`);
    }
    if (!target && choices.ruledOut.length > 0) {
      // Every version served before was rolled back from (or past), or its canary failed since: re-serving
      // one is an alias move (models.write, approvals where required), never a rollback.
      throw new InvalidInputError("surface", `${model.name} ${alias} has no rollback target: ${choices.unavailable ?? "every version it served before is ruled out"}. Serving another version is an alias move (Models page), which needs models.write and any approval the surface requires`);
    }
    if (!target) throw new InvalidInputError("surface", `${model.name} ${alias} has no earlier version to roll back to`);
    // The button shows a target; if someone moved the alias since, refuse instead of rolling back to something else.
    if (input.expectVersionId && input.expectVersionId !== target.versionId) {
      throw new ConflictError(`the rollback target changed since the page loaded (${model.name} ${alias} now serves ${now}, the one-click target is v${target.version}): reload and check`);
    }
    const to = target;
    // Opened before the move, under the model's lock: a version whose artifact does not load is refused (409), nothing moves.
    await checkOpens(model.name, alias, to, input.toVersion !== undefined ? "toVersion" : "rollback target");
    // The canaries judged against this alias, which the move aborts (settleRolloutsOnAlias): read under
    // their locks, so the response names exactly the rollouts it aborted.
    const aborted = await rolloutsOnServingAlias(tx, { modelId: model.id, alias });
    const moved = await setAliasIn(tx, { versionId: to.versionId, alias, actor, reason: `rollback: ${input.reason}`, kind: "rollback", expectFrom: { versionId: current, what } });
    // Every surface the alias reaches moves with it: the response and webhook name the list the move recorded.
    const surfaces = [surface.key, ...moved.surfaces.filter((k) => k !== surface.key)];
    await notifyInTransaction(tx, {
      kind: "rollback", data: { surface: surface.key, surfaces, model: model.name, alias, fromVersion: serving?.version ?? null, toVersion: to.version, ...(stage === 2 ? { stage } : {}) },
      actor: actor.name, reason: input.reason,
    });
    return { surface: surface.key, stage, surfaces, alias, model: model.name, version: to.version, aborted: aborted.map((r) => ({ ...r, status: "aborted", abortedFrom: r.status, description: describeAborted(r) })) };
  }, LEVER_TRANSACTION);
}
