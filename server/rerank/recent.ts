import { LRUCache } from "lru-cache";
import { env } from "../config";
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
}

const holder = globalThis as unknown as { __rerankRecent?: LRUCache<string, RecentRequest> };

/** What an entry holds on the heap, estimated: its response text (one or two bytes a character), key and fields. */
export function recentEntryBytes(entry: RecentRequest, key: string): number {
  return stringBytes(entry.json) + stringBytes(key) + stringBytes(entry.surface) + (entry.userKey ? stringBytes(entry.userKey) : 0) + 160;
}

/**
 * The process's recent responses, bounded in bytes (RECENT_RESPONSES_MAX_BYTES, estimated by
 * recentEntryBytes), in count (20,000) and in age (an hour). A response's size is the caller's to
 * choose (1,000 candidates make ~300 KB), so a count alone would let one client fill the heap; the
 * least recently used go first, and a response larger than the whole bound is not kept. Events for
 * requests no longer here are validated against the log in PostgreSQL instead.
 */
export function recentRequests(): LRUCache<string, RecentRequest> {
  return (holder.__rerankRecent ??= new LRUCache<string, RecentRequest>({
    max: 20_000,
    ttl: 60 * 60 * 1000,
    maxSize: env().RECENT_RESPONSES_MAX_BYTES,
    sizeCalculation: recentEntryBytes,
  }));
}

/** Forgets every recent response (tests that change RECENT_RESPONSES_MAX_BYTES). */
export function resetRecentRequests(): void {
  holder.__rerankRecent = undefined;
}

/**
 * The cache key of a response. A request id the client chose is the caller's own (two callers may
 * choose the same one, and neither may be served the other's response), so it is kept under the
 * caller; an id the server generated (a random UUID) is shared by whoever was given it, so events
 * sent by another service of the same client still find it: `caller` null.
 */
export function recentKey(requestId: string, caller: string | null): string {
  // NUL cannot occur in a validated id (server/validation.ts), so the pair is unambiguous.
  return `${caller ?? ""}\u0000${requestId}`;
}

export function recentResponse(entry: RecentRequest): RerankResponse {
  return JSON.parse(entry.json) as RerankResponse;
}
