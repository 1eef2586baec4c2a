import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { auditRowOf } from "../audit/service";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { burnLevel, burnRate, type BurnLevel } from "../domain/stats/slo";
import { InvalidInputError, NotFoundError } from "../errors";
import { aliasRollback, type AliasRollback } from "../history/service";
import { recordPromotion } from "../history/record";
import { setAliasIn } from "../registry/versions";
import { notifyInTransaction } from "../webhooks/notify";

// What on-call needs per surface, from the request log: latency percentiles, fallback rate and
// reasons, SLO burn over 1 h and 6 h, the recent changes (audit log); and the two levers, the kill
// switch and rolling the serving alias back to an earlier version from the promotion history.
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

const windowStats = (db: Db, since: Date) =>
  db.$queryRaw<WindowRow[]>`
    SELECT r.surface, count(*)::int AS requests, count(*) FILTER (WHERE r.fallback_used)::int AS fallbacks,
      count(*) FILTER (WHERE r.latency_ms > s.slo_latency_p99_ms)::int AS slow,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms) AS p95,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY r.latency_ms) AS p99
    FROM rerank_requests r JOIN surfaces s ON s.key = r.surface
    WHERE r.ts >= ${since}
    GROUP BY r.surface`;

export type RollbackTarget = NonNullable<AliasRollback["target"]>;

export interface SurfaceHealth {
  key: string;
  name: string;
  killSwitch: boolean;
  modelName: string | null;
  servingAlias: string;
  serving: { versionId: string; version: number } | null;
  /** Other surfaces served by the same model alias: a rollback moves them too. */
  sharedWith: string[];
  rollback: RollbackTarget | null;
  slo: { latencyP99Ms: number; availability: number };
  window: { requests: number; fallbackRate: number | null; p50: number | null; p95: number | null; p99: number | null };
  burn: {
    availability: { oneHour: number | null; sixHours: number | null; level: BurnLevel };
    latency: { oneHour: number | null; sixHours: number | null; level: BurnLevel };
  };
  fallbackReasons: Array<{ reason: string; count: number }>;
}

export async function oncallOverview(db: Db, input: { hours: number }) {
  const now = Date.now();
  const since = new Date(now - input.hours * 3_600_000);
  const [surfaces, inWindow, lastHour, lastSixHours, reasons] = await Promise.all([
    db.surface.findMany({
      orderBy: { key: "asc" },
      include: { model: { select: { id: true, name: true, aliases: { select: { name: true, version: { select: { id: true, version: true } } } } } } },
    }),
    windowStats(db, since),
    windowStats(db, new Date(now - 3_600_000)),
    windowStats(db, new Date(now - 6 * 3_600_000)),
    db.$queryRaw<Array<{ surface: string; reason: string; count: number }>>`
      SELECT surface, coalesce(fallback_reason, 'unknown') AS reason, count(*)::int AS count
      FROM rerank_requests WHERE ts >= ${since} AND fallback_used GROUP BY surface, fallback_reason ORDER BY count DESC`,
  ]);
  const by = (rows: WindowRow[]) => new Map(rows.map((r) => [r.surface, r]));
  const [w, h1, h6] = [by(inWindow), by(lastHour), by(lastSixHours)];
  const result: SurfaceHealth[] = [];
  for (const s of surfaces) {
    const serving = s.model?.aliases.find((a) => a.name === s.modelAlias)?.version ?? null;
    const stats = w.get(s.key);
    const burns = (row: WindowRow | undefined) => ({
      availability: row ? burnRate(row.fallbacks, row.requests, s.sloAvailability) : null,
      // The latency SLO: 99 % of requests within the surface's p99 target.
      latency: row ? burnRate(row.slow, row.requests, 0.99) : null,
    });
    const [b1, b6] = [burns(h1.get(s.key)), burns(h6.get(s.key))];
    result.push({
      key: s.key, name: s.name, killSwitch: s.killSwitch, modelName: s.model?.name ?? null, servingAlias: s.modelAlias,
      serving: serving ? { versionId: serving.id, version: serving.version } : null,
      sharedWith: surfaces.filter((o) => o.key !== s.key && o.modelId && o.modelId === s.modelId && o.modelAlias === s.modelAlias).map((o) => o.key),
      rollback: s.model ? (await aliasRollback(db, s.model.id, s.modelAlias, serving?.id ?? null)).target : null,
      slo: { latencyP99Ms: s.sloLatencyP99Ms, availability: s.sloAvailability },
      window: { requests: stats?.requests ?? 0, fallbackRate: stats?.requests ? stats.fallbacks / stats.requests : null, p50: stats?.p50 ?? null, p95: stats?.p95 ?? null, p99: stats?.p99 ?? null },
      burn: {
        availability: { oneHour: b1.availability, sixHours: b6.availability, level: burnLevel(b1.availability, b6.availability) },
        latency: { oneHour: b1.latency, sixHours: b6.latency, level: burnLevel(b1.latency, b6.latency) },
      },
      fallbackReasons: reasons.filter((r) => r.surface === s.key).map((r) => ({ reason: r.reason, count: r.count })),
    });
  }
  return { hours: input.hours, surfaces: result };
}

/** Latency percentiles and fallback rate in 5-minute buckets (1 h and 6 h windows) or hourly (longer). */
export async function oncallSeries(db: Db, input: { surface: string; hours: number }) {
  const since = new Date(Date.now() - input.hours * 3_600_000);
  const bucket = input.hours <= 6 ? "5 minutes" : "1 hour";
  const rows = await db.$queryRaw<Array<{ bucket: Date; requests: number; fallbacks: number; p95: number; p99: number }>>`
    SELECT date_bin(${bucket}::interval, ts, TIMESTAMPTZ '2000-01-01') AS bucket, count(*)::int AS requests,
      count(*) FILTER (WHERE fallback_used)::int AS fallbacks,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
    FROM rerank_requests WHERE surface = ${input.surface} AND ts >= ${since}
    GROUP BY 1 ORDER BY 1`;
  return rows.map((r) => ({ ts: r.bucket, requests: r.requests, fallbackRate: r.fallbacks / r.requests, p95: r.p95, p99: r.p99 }));
}

/** Changes that touch serving, newest first: alias moves, kill switch, shadow and experiment changes. */
export async function recentChanges(db: Db, input: { limit: number }) {
  const rows = await db.auditLog.findMany({
    where: { OR: [{ action: { startsWith: "model.alias" } }, { action: { startsWith: "surface." } }, { action: { startsWith: "experiment." } }, { action: { startsWith: "rollout." } }] },
    orderBy: { id: "desc" },
    take: input.limit,
  });
  return rows.map(auditRowOf);
}

export async function setKillSwitch(db: Db, input: { surface: string; on: boolean; reason: string }, actor: Actor) {
  return db.$transaction(async (tx) => {
    const surface = await tx.surface.findUnique({ where: { key: input.surface }, include: { model: { select: { id: true, name: true } } } });
    if (!surface) throw new NotFoundError("surface", input.surface);
    const updated = await tx.surface.update({
      where: { id: surface.id }, data: { killSwitch: input.on, configVersion: { increment: 1 } }, select: { key: true, killSwitch: true },
    });
    await recordAudit(tx, {
      action: "surface.kill_switch", actor, subject: subjects.surface(surface.id, surface.key), surfaces: [surface.key],
      before: { killSwitch: surface.killSwitch }, after: { killSwitch: input.on, surface: surface.key }, reason: input.reason,
    });
    await recordPromotion(tx, { kind: "kill_switch", actor, reason: input.reason, surface: surface.key, model: surface.model, killSwitch: input.on });
    await notifyInTransaction(tx, { kind: "kill_switch", data: { surface: surface.key, on: input.on }, actor: actor.name, reason: input.reason });
    return updated;
  });
}

/**
 * Moves the surface's serving alias back: to `toVersion` if given (any earlier version from the
 * promotion history), else to the one-click target (the version served before the current one's
 * latest stint that was not itself a rollback). Never waits for approval.
 */
export async function rollbackSurface(db: Db, input: { surface: string; reason: string; expectVersionId?: string; toVersion?: number }, actor: Actor) {
  const surface = await db.surface.findUnique({ where: { key: input.surface }, include: { model: { select: { id: true, name: true, aliases: { select: { name: true, versionId: true, version: { select: { version: true } } } } } } } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  if (!surface.model) throw new InvalidInputError("surface", `"${surface.key}" has no model to roll back`);
  const serving = surface.model.aliases.find((a) => a.name === surface.modelAlias);
  const current = serving?.versionId ?? null;
  const choices = await aliasRollback(db, surface.model.id, surface.modelAlias, current);
  let target: { versionId: string; version: number } | null = choices.target;
  if (input.toVersion !== undefined) {
    target = choices.options.find((o) => o.version === input.toVersion) ?? null;
    if (!target) {
      const earlier = choices.options.map((o) => `v${o.version}`).join(", ");
      throw new InvalidInputError("toVersion", `v${input.toVersion} is not an earlier version of ${surface.model.name} ${surface.modelAlias} on ${surface.key} (${earlier ? `the history has ${earlier}` : "the history has none"})`);
    }
  }
  if (!target) throw new InvalidInputError("surface", `${surface.model.name} ${surface.modelAlias} has no earlier version to roll back to`);
  // The button shows a target; if someone moved the alias since, refuse instead of rolling back to something else.
  if (input.expectVersionId && input.expectVersionId !== target.versionId) {
    throw new InvalidInputError("expectVersionId", `the rollback target changed since the page loaded (now v${target.version}): reload and check`);
  }
  const model = surface.model.name;
  const to = target;
  await db.$transaction(async (tx) => {
    await setAliasIn(tx, { versionId: to.versionId, alias: surface.modelAlias, actor, reason: `rollback: ${input.reason}`, kind: "rollback" });
    await notifyInTransaction(tx, {
      kind: "rollback", data: { surface: surface.key, model, alias: surface.modelAlias, fromVersion: serving?.version.version ?? null, toVersion: to.version },
      actor: actor.name, reason: input.reason,
    });
  });
  return { surface: surface.key, alias: surface.modelAlias, model: surface.model.name, version: target.version };
}
