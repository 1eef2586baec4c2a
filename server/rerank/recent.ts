import { isApiKeyCaller, isPersonCaller } from "../auth/principal";
import { env } from "../config";
import { FairShareCache } from "../domain/memory/fairShareCache";
import { stringBytes } from "../domain/memory/heapBytes";
import type { RerankResponse } from "./schema";

// Recent responses by request id: idempotent replays of a request id, and validating outcome
// events before the request log is flushed. One cache per process, on globalThis (Next's bundle
// and the front door each load their own copy of this module).

/**
 * A served response, kept as its JSON text: one flat string per request instead of a graph of
 * ~60 small objects, so 20,000 of them cost the garbage collector almost nothing to mark or move.
 */
export interface RecentRequest {
  json: string;
  surface: string;
  /** Epoch milliseconds. */
  ts: number;
  userKey: string | null;
  /** The experiment arm that served it (the response's `variant`), what its events are credited to, kept apart so that no event needs the text parsed. */
  variant: RerankResponse["variant"];
  /**
   * The request's fingerprint (fingerprint.ts requestFingerprint) when the caller chose its id: a
   * repeat of the id is a replay only with the same one, and refused otherwise. Null for an id the
   * server generated: nobody sent it, so a request naming it is another request (refused too).
   */
  fingerprint: string | null;
  /** When it was kept (epoch ms): its request log row was enqueued in the same step (recentHorizon). */
  storedAt: number;
  /**
   * Who sent it (server/auth/principal.ts callerOf; IN_PROCESS_CALLER for in-process callers),
   * whatever the id's owner: whose share of the cache it takes (recentRequests).
   */
  caller: string;
}

/** A request being served under a client-chosen id (recentKey): its fingerprint, and its answer once built. */
export interface PendingRequest {
  fingerprint: string;
  served: Promise<{ json: string }>;
}

const holder = globalThis as unknown as { __rerankRecentShares?: FairShareCache<RecentRequest>; __rerankRecentEvicted?: number; __rerankPending?: Map<string, PendingRequest> };

/** How long a response is kept at most. */
const RECENT_TTL_MS = 60 * 60 * 1000;

/** Responses kept at most, across callers. */
const RECENT_MAX_ENTRIES = 20_000;

/**
 * What an entry holds on the heap, estimated, in bytes: its response text (one or two bytes a
 * character), key and fields, the entry object and its two map slots (the cache's, its caller's share's).
 */
export function recentEntryBytes(entry: RecentRequest, key: string): number {
  const variant = entry.variant ? stringBytes(entry.variant.experiment) + stringBytes(entry.variant.key) + 40 : 0;
  return stringBytes(entry.json) + stringBytes(key) + stringBytes(entry.surface) + (entry.userKey ? stringBytes(entry.userKey) : 0) + (entry.fingerprint ? stringBytes(entry.fingerprint) : 0) + stringBytes(entry.caller) + variant + 240;
}

/**
 * The process's recent responses, bounded in bytes (RECENT_RESPONSES_MAX_BYTES, estimated by
 * recentEntryBytes), in count (20,000) and in age (an hour), and shared fairly among the callers who
 * sent them (RecentRequest.caller; server/domain/memory/fairShareCache.ts): over a bound, the least
 * recently used response of the caller holding the most (bytes, or entries over the count) goes, so
 * one caller's traffic — with or without request ids — evicts its own responses first and cannot
 * shorten another's window below an equal part of the bounds. A response's size is the caller's to
 * choose (1,000 candidates make ~300 KB), so a count alone would let one client fill the heap; a
 * response larger than the whole bound, or that would make its caller the largest holder with nothing
 * older of its own to give up, is not kept. Events for requests no longer here are validated against
 * the log in PostgreSQL instead.
 */
export function recentRequests(): FairShareCache<RecentRequest> {
  return (holder.__rerankRecentShares ??= new FairShareCache<RecentRequest>({
    maxEntries: RECENT_MAX_ENTRIES,
    ttlMs: RECENT_TTL_MS,
    maxBytes: env().RECENT_RESPONSES_MAX_BYTES,
    sizeOf: recentEntryBytes,
    onEvict: (entry) => evictedAt(entry.storedAt),
  }));
}

const evictedAt = (storedAt: number) => {
  holder.__rerankRecentEvicted = Math.max(holder.__rerankRecentEvicted ?? -Infinity, storedAt);
};

/**
 * Keeps a served response (`entry.storedAt` now) in its caller's share (recentRequests); one not kept
 * (too large for the whole bound, or for its caller's share) counts as evicted at once.
 */
export function rememberResponse(key: string, entry: RecentRequest): void {
  if (!recentRequests().set(key, entry, entry.caller)) evictedAt(entry.storedAt);
}

/**
 * Every response kept at or before this time (epoch ms) may have left the cache (evicted for room,
 * never kept, or expired); every one kept after it is still here. A request whose log row is not yet
 * in PostgreSQL and that was kept at or before the horizon can be found nowhere (events/service.ts).
 * One for all callers: a caller's flood, evicting only its own responses, still moves it (then an
 * event naming an unknown id is told to retry while the log is behind, not refused at once).
 */
export function recentHorizon(now: number = Date.now()): number {
  return Math.max(holder.__rerankRecentEvicted ?? -Infinity, now - RECENT_TTL_MS);
}

/**
 * Requests being served under a client-chosen id, by recentKey: from the moment the pipeline takes
 * one until its response is in recentRequests (the same synchronous step that removes it here), so
 * a second request with the same id that arrives meanwhile waits for the first's response (same
 * fingerprint) or is refused (another), instead of being served and logged again. At most one entry
 * per request in flight; no bound of its own is needed.
 */
export function pendingRequests(): Map<string, PendingRequest> {
  return (holder.__rerankPending ??= new Map());
}

/** Forgets every recent response (tests that change RECENT_RESPONSES_MAX_BYTES). */
export function resetRecentRequests(): void {
  holder.__rerankRecentShares = undefined;
  holder.__rerankRecentEvicted = undefined;
}

/**
 * Who owns a request's id: the one rule behind the recent-response cache's key (recentKey), the
 * request log's `caller` column (and its `owner`, part of the row's key) and the events' lookup of
 * the request they refer to, so an event is answered the same whether its request is still cached,
 * on another worker, or only in the log.
 * - An id a caller who signs its requests chose is that caller's (`caller`): an API key's
 *   ("api_key:<id>", the outside clients) or a signed-in person's ("user:<id>"). Two of them may
 *   choose the same id; neither is served the other's response, and only the owner records events
 *   on it (an API key's events do not find a person's request, nor the other way round).
 * - Any other id is shared (null), found by whoever was given it: one the server generated (a random
 *   UUID; another service of the same client sends the events), and one chosen by a caller nobody
 *   signs for — an in-process caller (tests, benchmarks, simulations), an anonymous caller with
 *   SERVING_AUTH=off — which callers with API keys may record events on too.
 */
export function requestIdOwner(request: { requestId?: string | undefined }, caller: string): string | null {
  return request.requestId !== undefined && (isApiKeyCaller(caller) || isPersonCaller(caller)) ? caller : null;
}

/**
 * The cache key of a response: its id under its owner (requestIdOwner; null: shared).
 */
export function recentKey(requestId: string, owner: string | null): string {
  // NUL cannot occur in a validated id (server/validation.ts), so the pair is unambiguous.
  return `${owner ?? ""}\u0000${requestId}`;
}

/** The response a kept (or just served) JSON text holds. */
export function recentResponse(entry: { json: string }): RerankResponse {
  return JSON.parse(entry.json) as RerankResponse;
}

/** Above this many items asked of one response, parsing its text once costs less than a search per item. */
const SEARCHED_ITEMS_MAX = 16;

/**
 * The positions at which a kept response served `itemIds` (absent from the map: not served), read
 * from its JSON text without parsing the whole response when few items are asked: an item is the
 * object `{"id":<id>,"score":<number>,"position":<n>,…}` of the response's `items` (pipeline.ts
 * respond, serialised by JSON.stringify), found by one substring search for its start. A raw `"`
 * in JSON text always delimits a string, so that start cannot occur inside a string value, and no
 * other object of the response starts with an id followed by a score. An event's check so costs a
 * search per item it names, not a parse of a response of up to 1,000 items (break test: 400 events
 * on 400 such responses parsed ~25 MB of JSON per batch).
 */
export function servedPositions(json: string, itemIds: ReadonlySet<string>): Map<string, number> {
  const found = new Map<string, number>();
  if (itemIds.size > SEARCHED_ITEMS_MAX) {
    for (const item of recentResponse({ json }).items) if (itemIds.has(item.id)) found.set(item.id, item.position);
    return found;
  }
  for (const id of itemIds) {
    const head = `{"id":${JSON.stringify(id)},"score":`;
    const at = json.indexOf(head);
    if (at < 0) continue;
    // Between the head and the position stands the score alone: a JSON number, at most ~25 characters.
    const key = json.indexOf(POSITION_KEY, at + head.length);
    if (key < 0 || key - (at + head.length) > 32) continue;
    const start = key + POSITION_KEY.length;
    let end = start;
    while (end < json.length && json.charCodeAt(end) >= 48 && json.charCodeAt(end) <= 57) end++;
    if (end > start) found.set(id, Number(json.slice(start, end)));
  }
  return found;
}
const POSITION_KEY = ',"position":';
