import { LRUCache } from "lru-cache";
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

/**
 * The process's recent responses. Bounded by count: a response is a few KB, so 20,000 keep well
 * under 100 MB. Events for older requests are validated against the log in PostgreSQL instead.
 */
export function recentRequests(): LRUCache<string, RecentRequest> {
  return (holder.__rerankRecent ??= new LRUCache<string, RecentRequest>({ max: 20_000, ttl: 60 * 60 * 1000 }));
}

export function recentResponse(entry: RecentRequest): RerankResponse {
  return JSON.parse(entry.json) as RerankResponse;
}
