import { callerOfKey, keyIdOfCaller } from "../auth/principal";
import { env } from "../config";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { fallbacksWorthOpening } from "../domain/breakers/fallbackExamples";
import { readServedList } from "../domain/ranking/servedList";
import { NotFoundError } from "../errors";
import { maskFields } from "../redact";
import { FALLBACK_REASONS, type RerankItem } from "../rerank/schema";
import { keptLogSpan } from "../system/retention";

// One logged request, looked up by its id (pasted from a complaint, or linked from the Shadow,
// Audit and On-call pages): what the request log kept (stage timings, served items with scores and
// reasons, experiment or canary arm, model version), the features the model saw for the served
// items when the request is in the scoring sample (DEBUG_SAMPLE_RATE, or sent from the Debug page),
// and the shadow comparisons made on it. Fields named in DEBUG_MASKED_FIELDS (request context,
// features) show as keyed hashes; user and session keys are stored as keyed hashes already.

interface LogRow {
  request_id: string;
  ts: Date;
  surface: string;
  user_key: string | null;
  session_key: string | null;
  context: Record<string, unknown>;
  experiment_key: string | null;
  experiment_phase: number | null;
  variant_key: string | null;
  exposed: boolean;
  model_version_id: string | null;
  fallback_used: boolean;
  fallback_reason: string | null;
  candidate_count: number;
  top_k: number;
  /** Either format (server/domain/ranking/servedList.ts): read with readServedList. */
  served: unknown;
  timings: Record<string, number>;
  latency_ms: number;
  features_timed_out: boolean;
  caller: string | null;
  owner: string;
}

interface SampleRow {
  reason: string;
  feature_names: string[];
  rows: Array<{ id: string; position: number; score: number; values: Array<number | null>; defaulted: string[] }>;
}

/** Which arm served the request: an experiment's variant (with its phase), a canary rollout's arm, or none. */
export type ServedArm =
  | { kind: "experiment"; experiment: string; variant: string | null; phase: number | null; exposed: boolean }
  | { kind: "canary"; rolloutId: string; arm: string | null }
  | null;

export interface RequestInspection {
  requestId: string;
  ts: Date;
  surface: string;
  /** "#" and the first 12 hex characters of the stored keyed hash, as the server's log lines name keys. */
  userKey: string | null;
  sessionKey: string | null;
  context: Record<string, unknown>;
  arm: ServedArm;
  model: { versionId: string; name: string | null; version: number | null } | null;
  fallback: { used: boolean; reason: string | null };
  /** The feature-read deadline passed: some candidates or the user were served with default features (response features.timedOut). */
  featuresTimedOut: boolean;
  /** Whose request id this is (server/rerank/recent.ts requestIdOwner): "api_key:<id>" when an API key chose it, "user:<id>" when a person did; null when the server generated it or an in-process caller sent it. */
  caller: string | null;
  candidateCount: number;
  topK: number;
  timings: Record<string, number>;
  latencyMs: number;
  /** Served items, best first, with catalog title and category where the catalog knows the item. */
  items: Array<RerankItem & { title: string | null; category: string | null }>;
  /** The features the model saw for the served items, when the request is in the scoring sample. */
  features: { reason: string; names: string[]; rows: Array<{ id: string; position: number; score: number; values: Record<string, number | string | null>; defaulted: string[] }> } | null;
  /** The share of requests whose features are kept, to explain an absent sample. */
  sampleRate: number;
  shadows: Array<{ versionId: string; label: string; overlapAt10: number | null; rbo: number | null; kendallTau: number | null; error: string | null }>;
  /** The name of the API key that chose the request id (caller "api_key:<id>"), null otherwise or when the key is gone. */
  callerName: string | null;
  /**
   * The logged rows with this request id, newest first: the newest SHARED_ROWS_LIMIT within the days
   * the log keeps (RETENTION_DAYS), and the row shown (with any others at its ts) when it is older
   * than those. A client may choose any id, so another caller can reuse one. More than one row: the
   * page says so and lets the user pick (by ts); `selected` marks the row shown.
   */
  rowsWithId: Array<{ ts: Date; surface: string; caller: string | null; callerName: string | null; latencyMs: number; owner: string; selected: boolean }>;
  /** How many logged rows have this request id in all (the days the log keeps, and the row a link names): more than rowsWithId lists when over SHARED_ROWS_LIMIT reuse it. */
  rowsWithIdCount: number;
  /** The row's owner key (rerank_requests.owner: the caller, '' when shared): with the id and ts, what names the row. */
  owner: string;
}

/** The most rows sharing one request id listed on the Debug page (the newest; the row shown is listed too when older). */
export const SHARED_ROWS_LIMIT = 50;

const ROLLOUT_PREFIX = "rollout:";
const shortKey = (hash: string | null) => (hash ? `#${hash.slice(0, 12)}` : null);

/**
 * The logged request `requestId`: the row logged at `ts` by `owner` when given (a link from a shadow,
 * audit or on-call row names its exact row; two callers' requests with one id can share a
 * millisecond, so ts alone may name two rows), else the newest within the days the log keeps
 * (keptLogSpan); with every row that shares the id (rowsWithId). NotFoundError when the log has no such row.
 */
export async function inspectRequest(db: Db, input: { requestId: string; ts?: Date; owner?: string }): Promise<RequestInspection> {
  // The newest SHARED_ROWS_LIMIT, and the rows at the ts a link names however old: the row the page
  // shows is always in the list (and tells whether it is alone at its ts), however many newer ones reuse the id.
  // Both over the days the log keeps (keptLogSpan): with no bound on ts the id was probed in every day
  // partition, the week created ahead and DEFAULT included; the ts a link names is read by equality (one partition).
  const kept = keptLogSpan();
  const keptOrLinked = input.ts
    ? Prisma.sql`((ts >= ${kept.from} AND ts <= ${kept.to}) OR ts = ${input.ts})`
    : Prisma.sql`ts >= ${kept.from} AND ts <= ${kept.to}`;
  const [shared, [counted]] = await Promise.all([
    db.$queryRaw<Array<{ ts: Date; surface: string; caller: string | null; owner: string; latency_ms: number }>>`
      SELECT ts, surface, caller, owner, latency_ms FROM (
        (SELECT ts, surface, caller, owner, latency_ms FROM rerank_requests WHERE request_id = ${input.requestId} AND ts >= ${kept.from} AND ts <= ${kept.to}
         ORDER BY ts DESC, owner LIMIT ${SHARED_ROWS_LIMIT})
        ${input.ts ? Prisma.sql`UNION SELECT ts, surface, caller, owner, latency_ms FROM rerank_requests WHERE request_id = ${input.requestId} AND ts = ${input.ts}` : Prisma.empty}
      ) s ORDER BY ts DESC, owner`,
    db.$queryRaw<Array<{ rows: number }>>`SELECT count(*)::float8 AS rows FROM rerank_requests WHERE request_id = ${input.requestId} AND ${keptOrLinked}`,
  ]);
  const ts = input.ts ?? shared[0]?.ts;
  const owner = input.owner ?? (input.ts ? undefined : shared[0]?.owner);
  const [row] = ts
    ? await db.$queryRaw<LogRow[]>`
    SELECT request_id, ts, surface, user_key, session_key, context, experiment_key, experiment_phase, variant_key, exposed, model_version_id,
      fallback_used, fallback_reason, candidate_count, top_k, served, timings, latency_ms, features_timed_out, caller, owner
    FROM rerank_requests r WHERE request_id = ${input.requestId} AND ts = ${ts}
      AND (${owner ?? null}::text IS NULL OR owner = ${owner ?? null}
        -- A row of unknown owner ('': spilled by an earlier version, or left by the owner migration) names the request when it is the only one at that ts.
        OR (${owner ?? null}::text = '' AND (SELECT count(*) FROM rerank_requests x WHERE x.request_id = r.request_id AND x.ts = r.ts) = 1))
    ORDER BY owner LIMIT 1`
    : [];
  if (!row) throw new NotFoundError("logged request", input.ts ? `${input.requestId} at ${input.ts.toISOString()}${input.owner ? ` by ${input.owner}` : ""}` : input.requestId);
  const served = readServedList(row.served);
  const keyIds = [...new Set(shared.map((r) => keyIdOfCaller(r.caller)).filter((id): id is string => id !== null))];
  const keyNames = new Map((await db.apiKey.findMany({ where: { id: { in: keyIds } }, select: { id: true, name: true } })).map((k) => [callerOfKey(k.id), k.name]));
  const nameOf = (caller: string | null) => (caller ? keyNames.get(caller) ?? null : null);
  // The sample and the shadow rows carry the request's own ts (one partition each) and owner: its
  // identity. Rows of unknown owner ('': spilled by an earlier version, or left shared by the owner
  // migration where it could not tell) are the request's when it is the only one with that id at that ts.
  const alone = shared.filter((r) => r.ts.getTime() === row.ts.getTime()).length === 1;
  const owners = alone ? [row.owner, ""] : [row.owner];
  const [[sample], shadows, titles, version] = await Promise.all([
    db.$queryRaw<SampleRow[]>`SELECT reason, feature_names, rows FROM scoring_samples WHERE request_id = ${row.request_id} AND ts = ${row.ts} AND owner = ANY(${owners}) ORDER BY owner = ${row.owner} DESC LIMIT 1`,
    db.$queryRaw<Array<{ shadow_version_id: string; overlap_at_10: number | null; rbo: number | null; kendall_tau: number | null; error: string | null }>>`
      SELECT DISTINCT ON (shadow_version_id) shadow_version_id, overlap_at_10, rbo, kendall_tau, error FROM shadow_records
      WHERE surface = ${row.surface} AND ts = ${row.ts} AND request_id = ${row.request_id} AND owner = ANY(${owners}) ORDER BY shadow_version_id, owner = ${row.owner} DESC`,
    db.catalogItem.findMany({ where: { id: { in: served.map((i) => i.id) } }, select: { id: true, title: true, category: true } }),
    row.model_version_id ? db.modelVersion.findUnique({ where: { id: row.model_version_id }, select: { version: true, model: { select: { name: true } } } }) : null,
  ]);
  const labels = new Map(
    (await db.modelVersion.findMany({ where: { id: { in: shadows.map((s) => s.shadow_version_id) } }, select: { id: true, version: true, model: { select: { name: true } } } }))
      .map((v) => [v.id, `${v.model.name} v${v.version}`]),
  );
  const catalog = new Map(titles.map((t) => [t.id, t]));
  return {
    requestId: row.request_id,
    ts: row.ts,
    surface: row.surface,
    userKey: shortKey(row.user_key),
    sessionKey: shortKey(row.session_key),
    context: maskFields(row.context),
    arm: armOf(row),
    model: row.model_version_id ? { versionId: row.model_version_id, name: version?.model.name ?? null, version: version?.version ?? null } : null,
    fallback: { used: row.fallback_used, reason: row.fallback_reason },
    featuresTimedOut: row.features_timed_out,
    caller: row.caller,
    callerName: nameOf(row.caller),
    owner: row.owner,
    rowsWithIdCount: counted?.rows ?? shared.length,
    rowsWithId: shared.map((r) => ({
      ts: r.ts, surface: r.surface, caller: r.caller, callerName: nameOf(r.caller), latencyMs: r.latency_ms, owner: r.owner,
      selected: r.ts.getTime() === row.ts.getTime() && r.owner === row.owner,
    })),
    candidateCount: row.candidate_count,
    topK: row.top_k,
    timings: row.timings,
    latencyMs: row.latency_ms,
    items: served.map((item) => ({ ...item, title: catalog.get(item.id)?.title ?? null, category: catalog.get(item.id)?.category ?? null })),
    features: sample
      ? {
          reason: sample.reason,
          names: sample.feature_names,
          rows: sample.rows.map((r) => ({
            id: r.id, position: r.position, score: r.score, defaulted: r.defaulted,
            values: maskFields(Object.fromEntries(sample.feature_names.map((name, i) => [name, r.values[i] ?? null]))),
          })),
        }
      : null,
    sampleRate: env().DEBUG_SAMPLE_RATE,
    shadows: shadows.map((s) => ({
      versionId: s.shadow_version_id, label: labels.get(s.shadow_version_id) ?? s.shadow_version_id,
      overlapAt10: s.overlap_at_10, rbo: s.rbo, kendallTau: s.kendall_tau, error: s.error,
    })),
  };
}

function armOf(row: LogRow): ServedArm {
  if (!row.experiment_key) return null;
  if (row.experiment_key.startsWith(ROLLOUT_PREFIX)) return { kind: "canary", rolloutId: row.experiment_key.slice(ROLLOUT_PREFIX.length), arm: row.variant_key };
  return { kind: "experiment", experiment: row.experiment_key, variant: row.variant_key, phase: row.experiment_phase, exposed: row.exposed };
}

export interface ProblemRequest {
  requestId: string;
  ts: Date;
  latencyMs: number;
  fallbackReason: string | null;
  /** Over the surface's p99 latency target. */
  slow: boolean;
  /** The id's owner ('' when shared): with the id and ts, what names the row (the Debug link opens exactly it). */
  owner: string;
}

/**
 * A surface's recent fallbacks and requests over its p99 target within the window (`limit` of each
 * kind): what on-call opens in Debug. Requests over the target: the newest, read from the (surface,
 * ts) index backwards. Fallbacks: chosen per reason (fallbacksWorthOpening), the newest of each
 * reason first and causes before follow-ons, so 50 circuit_open after five model errors still link
 * the model errors; this reads every fallback of the window (as the chart's percentiles read every
 * request), keeping each reason's newest `limit`. Each list is newest first.
 * @param input.hours the window, ending now; input.limit at most this many of each kind.
 * @throws NotFoundError for an unknown surface.
 */
export async function problemRequests(db: Db, input: { surface: string; hours: number; limit: number }): Promise<{ targetMs: number; fallbacks: ProblemRequest[]; slow: ProblemRequest[] }> {
  const surface = await db.surface.findUnique({ where: { key: input.surface }, select: { key: true, sloLatencyP99Ms: true } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const since = new Date(Date.now() - input.hours * 3_600_000);
  const target = surface.sloLatencyP99Ms;
  type Row = { request_id: string; ts: Date; latency_ms: number; fallback_reason: string | null; owner: string };
  const of = (rows: Row[]): ProblemRequest[] =>
    rows.map((r) => ({ requestId: r.request_id, ts: r.ts, latencyMs: r.latency_ms, fallbackReason: r.fallback_reason, slow: r.latency_ms > target, owner: r.owner }));
  const [fallbacks, slow] = await Promise.all([
    db.$queryRaw<Row[]>`
      -- The newest of each reason, each read newest first on (surface, ts) and stopped at the limit (a
      -- window function over every fallback sorted a kill switch's whole window, every refresh).
      SELECT f.request_id, f.ts, f.latency_ms, f.fallback_reason, f.owner
      -- NULL too: a row logged without its reason (spilled by an earlier version) is a fallback all the same.
      FROM unnest(${[...FALLBACK_REASONS, null]}::text[]) AS reason(name)
      CROSS JOIN LATERAL (
        SELECT request_id, ts, latency_ms, fallback_reason, owner FROM rerank_requests
        WHERE surface = ${surface.key} AND ts >= ${since} AND fallback_used AND fallback_reason IS NOT DISTINCT FROM reason.name
        ORDER BY ts DESC, request_id, owner LIMIT ${input.limit}
      ) f`,
    db.$queryRaw<Row[]>`
      SELECT request_id, ts, latency_ms, fallback_reason, owner FROM rerank_requests
      WHERE surface = ${surface.key} AND ts >= ${since} AND latency_ms > ${target} ORDER BY ts DESC LIMIT ${input.limit}`,
  ]);
  return { targetMs: target, fallbacks: fallbacksWorthOpening(of(fallbacks), input.limit), slow: of(slow) };
}
