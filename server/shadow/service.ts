import { LEVER_TRANSACTION } from "../db/leverTransaction";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { readServedList, servedItemScoreSql } from "../domain/ranking/servedList";
import { subjects } from "../domain/audit/subject";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { summariseShadow, type ShadowSummary } from "../domain/ranking/shadowSummary";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { percentOfShare } from "../domain/percent";
import { changedSince } from "../domain/changedSince";
import { maskFields } from "../redact";
import { CIRCUIT_OPEN_LIKE } from "../rerank/breakers";
import type { ShadowMove } from "../telemetry/streams";
import { shareModelRows } from "../registry/modelLock";
import { lockSurfaceRow } from "../surfaces/lock";
import { keptLogSpan } from "../system/retention";

/** A stored ranking (compact tuples, or the objects of rows written before) as the pages show it. */
const ranking = (stored: unknown): Array<{ id: string; score: number }> => readServedList(stored).map(({ id, score }) => ({ id, score }));
/** The score of a ranking's element `e` in SQL, in either format. */
const SCORE_SQL = Prisma.raw(servedItemScoreSql("e"));

// Shadow comparisons per surface: which candidate model is mirrored at what rate (audited), and
// what the stored comparisons say. Summaries read the newest SUMMARY_ROWS records of the window;
// counts cover the whole window.

const SUMMARY_ROWS = 5000;

export interface ShadowConfigInput {
  surface: string;
  /** An alias of the surface's model, or null to stop mirroring. */
  alias: string | null;
  sampleRate: number;
  reason?: string;
  /**
   * The mirroring the person saw when they chose the change: when the stored alias or sample rate
   * differs under the surface's lock, nothing is written (ConflictError, 409). Absent: not pinned (scripts).
   */
  expectBefore?: { alias: string | null; sampleRate: number };
}

/** Mirroring in words: "shadow at 25%", or "off". */
const mirroringWords = (m: { alias: string | null; sampleRate: number }) => (m.alias === null ? "off" : `${m.alias} at ${percentOfShare(m.sampleRate)}%`);

/**
 * Sets (or stops, alias null) a surface's shadow mirroring, audited; a press that changes nothing
 * writes nothing. @returns the surface's key, shadow alias, sample rate and config version.
 * @throws NotFoundError for an unknown surface; InvalidInputError on `alias` (no model, the serving
 *   alias, not an alias of the model); ConflictError when `expectBefore` is not what is stored.
 */
export async function configureShadow(db: Db, input: ShadowConfigInput, actor: Actor) {
  return db.$transaction(async (tx) => {
    // The surface's model before the surface (server/registry/modelLock.ts): a move of the alias it mirrors to reads its reach before or after this press.
    await shareModelRows(tx, { ids: [(await tx.surface.findUnique({ where: { key: input.surface }, select: { modelId: true } }))?.modelId] });
    // Presses on one surface take turns, and a press that changes nothing writes nothing (break test: every press was audited and bumped the config).
    await lockSurfaceRow(tx, { key: input.surface });
    const surface = await tx.surface.findUnique({ where: { key: input.surface }, include: { model: { include: { aliases: true } } } });
    if (!surface) throw new NotFoundError("surface", input.surface);
    if (input.alias !== null) {
      if (!surface.model) throw new InvalidInputError("alias", `surface "${surface.key}" has no model, so it has no alias to mirror to`);
      if (input.alias === surface.modelAlias) throw new InvalidInputError("alias", `"${input.alias}" is the alias that serves "${surface.key}": a shadow compares another version`);
      if (!surface.model.aliases.some((a) => a.name === input.alias)) {
        const known = surface.model.aliases.map((a) => a.name).sort().join(", ");
        throw new InvalidInputError("alias", `${surface.model.name} has no alias "${input.alias}" (it has: ${known})`);
      }
    }
    const before = { alias: surface.shadowAlias, sampleRate: surface.shadowSampleRate };
    const pin = input.expectBefore;
    if (pin && (pin.alias !== before.alias || pin.sampleRate !== before.sampleRate)) {
      throw new ConflictError(changedSince({ what: `shadow of ${surface.key}`, change: { shown: mirroringWords(pin), now: mirroringWords(before) }, since: "shown" }));
    }
    const after = { alias: input.alias, sampleRate: input.alias === null ? 0 : input.sampleRate };
    if (before.alias === after.alias && before.sampleRate === after.sampleRate) {
      return { key: surface.key, shadowAlias: surface.shadowAlias, shadowSampleRate: surface.shadowSampleRate, configVersion: surface.configVersion };
    }
    const updated = await tx.surface.update({
      where: { id: surface.id },
      data: { shadowAlias: after.alias, shadowSampleRate: after.sampleRate, configVersion: { increment: 1 } },
      select: { key: true, shadowAlias: true, shadowSampleRate: true, configVersion: true },
    });
    await recordAudit(tx, {
      action: "surface.shadow", actor, subject: subjects.surface(surface.id, surface.key), surfaces: [surface.key], before, after, reason: input.reason ?? null,
    });
    return updated;
  }, LEVER_TRANSACTION);
}

interface VersionRow {
  shadow_version_id: string;
  records: number;
  errors: number;
  last_ts: Date;
}

export interface ShadowOverview {
  surface: { key: string; name: string; modelName: string | null; servingAlias: string; shadowAlias: string | null; sampleRate: number };
  aliases: Array<{ alias: string; versionId: string; version: number }>;
  versions: Array<{ versionId: string; label: string; version: number | null; records: number; errors: number; lastTs: Date }>;
  selected: { versionId: string; label: string; version: number | null; recordsInWindow: number; summary: ShadowSummary } | null;
  hours: number;
}

export async function shadowOverview(db: Db, input: { surface: string; hours: number; versionId?: string }): Promise<ShadowOverview> {
  const surface = await db.surface.findUnique({
    where: { key: input.surface },
    include: { model: { select: { name: true, aliases: { select: { name: true, version: { select: { id: true, version: true } } }, orderBy: { name: "asc" } } } } },
  });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const since = new Date(Date.now() - input.hours * 3_600_000);
  const rows = await db.$queryRaw<VersionRow[]>`
    SELECT shadow_version_id, count(*)::float8 AS records, count(error)::float8 AS errors, max(ts) AS last_ts
    FROM shadow_records WHERE surface = ${surface.key} AND ts >= ${since}
    GROUP BY shadow_version_id ORDER BY max(ts) DESC`;
  const known = new Map(
    (await db.modelVersion.findMany({ where: { id: { in: rows.map((r) => r.shadow_version_id) } }, select: { id: true, version: true, model: { select: { name: true } } } })).map((v) => [v.id, v]),
  );
  const versions = rows.map((r) => {
    const v = known.get(r.shadow_version_id);
    return { versionId: r.shadow_version_id, label: v ? `${v.model.name} v${v.version}` : r.shadow_version_id, version: v?.version ?? null, records: r.records, errors: r.errors, lastTs: r.last_ts };
  });
  const aliases = (surface.model?.aliases ?? []).map((a) => ({ alias: a.name, versionId: a.version.id, version: a.version.version }));
  const current = aliases.find((a) => a.alias === surface.shadowAlias)?.versionId;
  const chosen = versions.find((v) => v.versionId === input.versionId) ?? versions.find((v) => v.versionId === current) ?? versions[0];
  let selected: ShadowOverview["selected"] = null;
  if (chosen) {
    const records = await db.$queryRaw<Array<{ overlap_at_10: number | null; rbo: number | null; kendall_tau: number | null; spearman_rho: number | null; primary_latency_ms: number | null; shadow_latency_ms: number | null; primary_scores: number[] | null; shadow_scores: number[] | null; error: string | null }>>`
      SELECT overlap_at_10, rbo, kendall_tau, spearman_rho, primary_latency_ms, shadow_latency_ms, error,
        (SELECT array_agg(${SCORE_SQL}) FROM json_array_elements(primary_ranking) e) AS primary_scores,
        (SELECT array_agg(${SCORE_SQL}) FROM json_array_elements(shadow_ranking) e) AS shadow_scores
      FROM shadow_records WHERE surface = ${surface.key} AND shadow_version_id = ${chosen.versionId} AND ts >= ${since}
      ORDER BY ts DESC LIMIT ${SUMMARY_ROWS}`;
    const summary = summariseShadow(
      records.map((r) => ({
        overlapAt10: r.overlap_at_10, rbo: r.rbo, kendallTau: r.kendall_tau, spearmanRho: r.spearman_rho, primaryLatencyMs: r.primary_latency_ms,
        shadowLatencyMs: r.shadow_latency_ms, primaryScores: r.primary_scores ?? [], shadowScores: r.shadow_scores ?? [], error: r.error,
      })),
    );
    selected = { versionId: chosen.versionId, label: chosen.label, version: chosen.version, recordsInWindow: chosen.records, summary };
  }
  return {
    surface: { key: surface.key, name: surface.name, modelName: surface.model?.name ?? null, servingAlias: surface.modelAlias, shadowAlias: surface.shadowAlias, sampleRate: surface.shadowSampleRate },
    aliases,
    versions,
    selected,
    hours: input.hours,
  };
}

export interface Disagreement {
  requestId: string;
  ts: Date;
  overlapAt10: number | null;
  rbo: number | null;
  kendallTau: number | null;
  primary: Array<{ id: string; score: number }>;
  shadow: Array<{ id: string; score: number }>;
  error: string | null;
  /** Its request's owner ('' when shared): with the id and ts, the request's identity (links name it). */
  owner: string;
}

/** How many of a window's candidate errors `shadowDisagreements` lists (newest first). */
export const RECENT_ERRORS = 3;

export interface ShadowDisagreements {
  /** Compared requests only (no candidate error), where the lists differ most: lowest overlap@10, then RBO, then τ; at most `limit`. */
  disagreements: Disagreement[];
  /**
   * The newest candidate errors in the window (at most RECENT_ERRORS), each with its served list and
   * message; runs that failed before refusals of an open circuit (which only say the circuit is open:
   * they would crowd out the failure that opened it). The overview counts the errors.
   */
  recentErrors: Disagreement[];
}

/**
 * The mirrored requests of one candidate version in the last `hours` where it disagreed most with
 * what was served (lowest overlap@10, then RBO, which tells apart lists of equal overlap by where they
 * differ, then τ), and apart from them its newest errors: errors never crowd the comparisons out of
 * the list (a candidate past its budget on most requests still shows where it disagrees on the rest).
 */
export async function shadowDisagreements(db: Db, input: { surface: string; versionId: string; hours: number; limit: number }): Promise<ShadowDisagreements> {
  const since = new Date(Date.now() - input.hours * 3_600_000);
  type Row = { request_id: string; ts: Date; owner: string; overlap_at_10: number | null; rbo: number | null; kendall_tau: number | null; primary_ranking: unknown; shadow_ranking: unknown; error: string | null };
  const [compared, errors] = await Promise.all([
    db.$queryRaw<Row[]>`
      SELECT request_id, ts, owner, overlap_at_10, rbo, kendall_tau, primary_ranking, shadow_ranking, error
      FROM shadow_records WHERE surface = ${input.surface} AND shadow_version_id = ${input.versionId} AND ts >= ${since} AND error IS NULL
      ORDER BY overlap_at_10 ASC NULLS FIRST, rbo ASC NULLS LAST, kendall_tau ASC NULLS FIRST, ts DESC
      LIMIT ${input.limit}`,
    db.$queryRaw<Row[]>`
      SELECT request_id, ts, owner, overlap_at_10, rbo, kendall_tau, primary_ranking, shadow_ranking, error
      FROM shadow_records WHERE surface = ${input.surface} AND shadow_version_id = ${input.versionId} AND ts >= ${since} AND error IS NOT NULL
      ORDER BY (error LIKE ${CIRCUIT_OPEN_LIKE}), ts DESC, request_id, owner
      LIMIT ${Math.min(RECENT_ERRORS, input.limit)}`,
  ]);
  const disagreement = (r: Row): Disagreement => ({
    requestId: r.request_id, ts: r.ts, owner: r.owner, overlapAt10: r.overlap_at_10, rbo: r.rbo, kendallTau: r.kendall_tau,
    primary: ranking(r.primary_ranking).slice(0, 10), shadow: ranking(r.shadow_ranking).slice(0, 10), error: r.error,
  });
  return { disagreements: compared.map(disagreement), recentErrors: errors.map(disagreement) };
}

export interface ShadowComparison {
  requestId: string;
  ts: Date;
  /** Its request's owner ('' when shared). */
  owner: string;
  surface: string;
  serving: { versionId: string | null; label: string | null };
  candidate: { versionId: string; label: string; modelName: string | null; version: number | null };
  /** The version the surface's serving alias points at now (what a canary of the candidate would start from). */
  servingNow: number | null;
  /** servingNow's version id (null: the alias is unset): what the canary start dialog pins as its baseline (`expectFromVersionId`). */
  servingNowId: string | null;
  overlapAt10: number | null;
  rbo: number | null;
  kendallTau: number | null;
  spearmanRho: number | null;
  primaryLatencyMs: number | null;
  shadowLatencyMs: number | null;
  /** Both served lists in full (up to the request's top k), best first. */
  primary: Array<{ id: string; score: number }>;
  shadow: Array<{ id: string; score: number }>;
  /**
   * The items the models disagree about most, with the features they saw; a feature named in
   * DEBUG_MASKED_FIELDS shows its keyed hash. Null for comparisons recorded before features were kept.
   */
  moves: Array<Omit<ShadowMove, "features"> & { features: Record<string, number | string | null> }> | null;
  error: string | null;
}

/**
 * One mirrored request (found by its row id, request id + candidate version, as the writer keys it;
 * with `ts` and `owner`, the exact row: two callers' requests with one id can share a millisecond;
 * else the newest within the days the log keeps, keptLogSpan), side by side: both lists, the
 * agreement figures and the features behind the largest moves. A row of unknown owner ('': spilled
 * by the version before owners) stands in for `owner`'s when the request log's only row of the id at
 * that ts is `owner`'s (as the Debug page attributes such rows): otherwise it may be another
 * request's, a shared one's ('' is also the owner of a request whose caller is null).
 * NotFoundError when no row matches.
 */
export async function shadowComparison(db: Db, input: { requestId: string; versionId: string; ts?: Date; owner?: string }): Promise<ShadowComparison> {
  // The ts a link names by equality, so PostgreSQL reads its one day partition however the statement
  // is planned (`ts IS NULL OR ts = …` pruned only when planned with its values: a generic plan read
  // every partition); without it, the days the log keeps.
  const kept = keptLogSpan();
  const when = input.ts ? Prisma.sql`ts = ${input.ts}` : Prisma.sql`ts >= ${kept.from} AND ts <= ${kept.to}`;
  const ownedBy = input.owner === undefined ? Prisma.sql`TRUE`
    : Prisma.sql`(owner = ${input.owner} OR (owner = '' AND ARRAY(SELECT r.owner FROM rerank_requests r WHERE r.request_id = s.request_id AND r.ts = s.ts) = ARRAY[${input.owner}]::text[]))`;
  const rows = await db.$queryRaw<Array<{
    ts: Date; owner: string; surface: string; primary_version_id: string | null; overlap_at_10: number | null; rbo: number | null; kendall_tau: number | null; spearman_rho: number | null;
    primary_latency_ms: number | null; shadow_latency_ms: number | null; primary_ranking: unknown; shadow_ranking: unknown;
    moves: ShadowMove[] | null; error: string | null;
  }>>`
    SELECT ts, owner, surface, primary_version_id, overlap_at_10, rbo, kendall_tau, spearman_rho, primary_latency_ms, shadow_latency_ms,
      primary_ranking, shadow_ranking, moves, error
    FROM shadow_records s WHERE id = ${`${input.requestId}:${input.versionId}`} AND ${when}
      AND ${ownedBy}
    ORDER BY ts DESC, owner = ${input.owner ?? null}::text DESC NULLS LAST, owner LIMIT 1`;
  const r = rows[0];
  if (!r) throw new NotFoundError("shadow comparison", `${input.requestId} (candidate ${input.versionId})`);
  const versions = new Map(
    (await db.modelVersion.findMany({
      where: { id: { in: [input.versionId, ...(r.primary_version_id ? [r.primary_version_id] : [])] } },
      select: { id: true, version: true, featureSpec: true, model: { select: { name: true } } },
    })).map((v) => [v.id, v]),
  );
  const candidate = versions.get(input.versionId);
  const serving = r.primary_version_id ? versions.get(r.primary_version_id) : undefined;
  const surface = await db.surface.findUnique({ where: { key: r.surface }, select: { modelAlias: true, model: { select: { aliases: { select: { name: true, version: { select: { id: true, version: true } } } } } } } });
  const servingAlias = surface?.model?.aliases.find((a) => a.name === surface.modelAlias)?.version ?? null;
  // Rows written before 20261203000000_lean_shadow_records were jsonb, which keeps object keys in its
  // own order: put the features back in the serving model's spec order, then the candidate's own.
  const order = [serving, candidate].flatMap((v) => ((v?.featureSpec ?? []) as unknown as FeatureSpec).map((f) => f.name));
  const inSpecOrder = (features: Record<string, number | null>) => {
    const names = [...new Set([...order.filter((n) => Object.hasOwn(features, n)), ...Object.keys(features)])];
    return Object.fromEntries(names.map((n) => [n, features[n]!]));
  };
  return {
    requestId: input.requestId, ts: r.ts, owner: r.owner, surface: r.surface,
    serving: { versionId: r.primary_version_id, label: serving ? `${serving.model.name} v${serving.version}` : r.primary_version_id },
    candidate: { versionId: input.versionId, label: candidate ? `${candidate.model.name} v${candidate.version}` : input.versionId, modelName: candidate?.model.name ?? null, version: candidate?.version ?? null },
    servingNow: servingAlias?.version ?? null, servingNowId: servingAlias?.id ?? null,
    overlapAt10: r.overlap_at_10, rbo: r.rbo, kendallTau: r.kendall_tau, spearmanRho: r.spearman_rho,
    primaryLatencyMs: r.primary_latency_ms, shadowLatencyMs: r.shadow_latency_ms,
    primary: ranking(r.primary_ranking), shadow: ranking(r.shadow_ranking),
    moves: r.moves?.map((m) => ({ ...m, features: maskFields(inSpecOrder(m.features)) })) ?? null,
    error: r.error,
  };
}
