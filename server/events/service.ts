import { LRUCache } from "lru-cache";
import { env } from "../config";
import { getDb } from "../db/client";
import { InvalidInputError } from "../errors";
import { answer, askWorkers } from "../http/clusterIpc";
import { recentKey, recentRequests, recentResponse } from "../rerank/recent";
import { metrics } from "../telemetry/metrics";
import { telemetry, type OutcomeEventRow } from "../telemetry/streams";
import type { OutcomeBatch, OutcomeEventInput } from "./schema";

// Outcome events (impression, click, add-to-cart, purchase) are checked against the request they
// refer to — it must have been served, and the item must be one it served — then written through
// the telemetry stream, idempotent on event id.

interface ServedRequest {
  ts: Date;
  surface: string;
  /** The unit events are credited to: the experiment's randomisation unit, else the user or session key. */
  userKey: string | null;
  experimentKey: string | null;
  experimentPhase: number | null;
  variantKey: string | null;
  positions: Map<string, number>;
}

export interface RecordResult {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; field: string; message: string }>;
}

// Event ids seen by this process, to answer a repeat as a duplicate at once. The key is the event id
// within the request it refers to, as the table's key (event_id, request_ts) is: one caller's event
// ids never collide with another's events on other requests. Bounded in bytes (a key is at most
// 128 + 24 characters): at most SEEN_EVENTS_MAX_BYTES of keys, whatever the ids' lengths.
// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const SEEN_EVENTS_MAX_BYTES = 32 * 1024 * 1024;
const holder = globalThis as unknown as { __rerankSeenEvents?: LRUCache<string, true> };
const seenEvents = (holder.__rerankSeenEvents ??= new LRUCache<string, true>({
  max: 200_000,
  maxSize: SEEN_EVENTS_MAX_BYTES,
  // V8 keeps a key as one- or two-byte characters, plus the map entry's own ~100 bytes.
  sizeCalculation: (_value, key) => 2 * key.length + 100,
}));
const seenKey = (eventId: string, requestTs: Date) => `${eventId}\u0000${requestTs.getTime()}`;

/**
 * A request this process served recently (its recent-response cache), in a form that crosses IPC:
 * one served to this caller under the id it chose, or one whose id the server generated (shared by
 * whoever was given it).
 */
function recentlyServed(requestId: string, caller: string) {
  const recent = recentRequests().get(recentKey(requestId, caller)) ?? recentRequests().get(recentKey(requestId, null));
  if (!recent) return null;
  const r = recentResponse(recent);
  return {
    ts: recent.ts, surface: r.surface, userKey: recent.userKey, experimentKey: r.variant?.experiment ?? null,
    experimentPhase: r.variant?.phase ?? null, variantKey: r.variant?.key ?? null,
    positions: r.items.map((i) => [i.id, i.position] as [string, number]),
  };
}

const fromRecent = (r: NonNullable<ReturnType<typeof recentlyServed>>): ServedRequest => ({ ...r, ts: new Date(r.ts), positions: new Map(r.positions) });

// With WORKERS > 1 an event may reach another worker than its request did, before that request's
// log row is written: the other workers are asked first (server/http/clusterIpc.ts).
const SIBLING_TOPIC = "served-request";
answer(SIBLING_TOPIC, (payload) => {
  const { requestId, caller } = (payload ?? {}) as { requestId?: unknown; caller?: unknown };
  return typeof requestId === "string" && typeof caller === "string" ? recentlyServed(requestId, caller) : null;
});

/**
 * The request an event refers to: this process's recent responses, the other workers', else the
 * request log. In the log as in the recent responses, a request id an API key chose belongs to that
 * caller (rerank_requests.caller): another caller's event finds nothing, as for an unknown id.
 */
async function findRequest(requestId: string, caller: string): Promise<ServedRequest | null> {
  const recent = recentlyServed(requestId, caller);
  if (recent) return fromRecent(recent);
  const sibling = (await askWorkers(SIBLING_TOPIC, { requestId, caller }, 1000))?.values.find((v) => v !== null);
  if (sibling) return fromRecent(sibling as NonNullable<ReturnType<typeof recentlyServed>>);
  const rows = await getDb().$queryRaw<Array<{ ts: Date; surface: string; user_key: string | null; experiment_key: string | null; experiment_phase: number | null; variant_key: string | null; served: Array<{ id: string; position: number }> }>>`
    SELECT r.ts, r.surface, CASE WHEN e.hash_attribute = 'sessionKey' THEN r.session_key ELSE coalesce(r.user_key, r.session_key) END AS user_key,
      r.experiment_key, r.experiment_phase, r.variant_key, r.served
    FROM rerank_requests r LEFT JOIN experiments e ON e.key = r.experiment_key
    WHERE r.request_id = ${requestId} AND (r.caller IS NULL OR r.caller = ${caller}) ORDER BY r.ts LIMIT 1`;
  const row = rows[0];
  if (!row) return null;
  return {
    ts: row.ts, surface: row.surface, userKey: row.user_key, experimentKey: row.experiment_key, experimentPhase: row.experiment_phase, variantKey: row.variant_key,
    positions: new Map(row.served.map((i) => [i.id, i.position])),
  };
}

function check(event: OutcomeEventInput, request: ServedRequest | null): { field: string; message: string } | null {
  if (!request) return { field: "requestId", message: `no served request "${event.requestId}" (send events after the rerank response)` };
  const position = request.positions.get(event.itemId);
  if (position === undefined) return { field: "itemId", message: `"${event.itemId}" was not served in request "${event.requestId}"` };
  if (event.position !== undefined && event.position !== position) return { field: "position", message: `"${event.itemId}" was served at position ${position}, not ${event.position}` };
  if (event.type === "purchase" && event.revenue === undefined) return { field: "revenue", message: "a purchase needs its revenue" };
  if (event.type !== "purchase" && event.revenue !== undefined) return { field: "revenue", message: `only purchases carry revenue, not ${event.type} events` };
  return null;
}

/**
 * @param allowedSurfaces a serving key limited to some surfaces records events only for requests
 *   served on them (others are rejected like any invalid event); empty or absent: every surface.
 * @param caller who sends them (server/auth/principal.ts callerOf): a request id a client chose is
 *   found among that caller's requests. Omitted: in-process callers, as rerank()'s default.
 */
export async function recordOutcomes(batch: OutcomeBatch, allowedSurfaces: readonly string[] = [], caller = "in-process"): Promise<RecordResult> {
  const requests = new Map<string, ServedRequest | null>();
  for (const id of new Set(batch.events.map((e) => e.requestId))) requests.set(id, await findRequest(id, caller));
  const result: RecordResult = { accepted: 0, duplicates: 0, rejected: [] };
  const rows: OutcomeEventRow[] = [];
  const inBatch = new Set<string>();
  batch.events.forEach((event, index) => {
    const request = requests.get(event.requestId) ?? null;
    const problem =
      request && allowedSurfaces.length > 0 && !allowedSurfaces.includes(request.surface)
        ? { field: "requestId", message: `the request was served on "${request.surface}", which this key may not record events for` }
        : check(event, request);
    if (problem) {
      result.rejected.push({ index, field: `events[${index}].${problem.field}`, message: problem.message });
      return;
    }
    const key = seenKey(event.eventId, request!.ts);
    if (seenEvents.has(key) || inBatch.has(key)) {
      result.duplicates++;
      return;
    }
    inBatch.add(key);
    rows.push({
      eventId: event.eventId, requestTs: request!.ts, requestId: event.requestId, ts: event.ts ? new Date(event.ts) : new Date(),
      surface: request!.surface, type: event.type, itemId: event.itemId, position: request!.positions.get(event.itemId) ?? null,
      revenue: event.revenue ?? null, userKey: request!.userKey, experimentKey: request!.experimentKey, experimentPhase: request!.experimentPhase,
      variantKey: request!.variantKey,
    });
  });
  if (rows.length === 0 && result.rejected.length > 0) {
    const first = result.rejected[0]!;
    throw new InvalidInputError(first.field, result.rejected.length > 1 ? `${first.message} (and ${result.rejected.length - 1} more)` : first.message);
  }
  await keep(rows);
  for (const row of rows) {
    seenEvents.set(seenKey(row.eventId, row.requestTs), true);
    metrics.events.inc({ type: row.type });
  }
  result.accepted = rows.length;
  return result;
}

/**
 * Events are acknowledged only once durable (EVENTS_ACK=durable, the default): in PostgreSQL, or
 * fsynced to this process's spill file, with concurrent calls grouped into one write (group
 * commit), so a killed process loses no acknowledged event. When neither is possible the call fails
 * (503) and the caller retries; the event ids are not remembered as seen, so the retry is kept.
 */
async function keep(rows: OutcomeEventRow[]): Promise<void> {
  const stream = telemetry().events;
  if (env().EVENTS_ACK === "durable") return stream.commit(rows);
  for (const row of rows) stream.enqueue(row);
}
