import { LRUCache } from "lru-cache";
import { getDb } from "../db/client";
import { InputSampler } from "../features/inputSampler";
import { FeatureStore } from "../features/store";
import type { RerankResponse } from "./schema";
import { getModel } from "../inference/sessions";
import { fetchArtifact } from "./artifacts";
import { SurfaceConfigCache } from "./surfaceConfig";

// The serving path's in-process state, one per process (kept on globalThis across Next reloads).

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

export function recentResponse(entry: RecentRequest): RerankResponse {
  return JSON.parse(entry.json) as RerankResponse;
}

interface ServingState {
  features: FeatureStore;
  /** A sample of the feature rows each model scored, for drift checks. */
  inputs: InputSampler;
  surfaces: SurfaceConfigCache;
  /** Recent responses by request id: idempotent replays, and validating outcome events before the log is flushed. */
  recent: LRUCache<string, RecentRequest>;
}

const holder = globalThis as unknown as { __rerankServing?: ServingState };

export function servingState(): ServingState {
  holder.__rerankServing ??= {
    features: new FeatureStore(getDb),
    inputs: new InputSampler(),
    // A canary, shadow or cascade model that a config change brings in is opened as soon as the
    // config is read, off the request path, so its first requests do not pay for loading it.
    surfaces: new SurfaceConfigCache(getDb, (config) => {
      for (const ref of [config.primary, config.fallback, config.shadow, config.rollout?.canary]) {
        if (ref) getModel(ref.versionId, fetchArtifact).catch(() => {}); // a model that fails to load is the request path's fallback
      }
    }),
    // Bounded by count: a response is a few KB, so 20,000 keep well under 100 MB. Events for older
    // requests are validated against the log in PostgreSQL instead.
    recent: new LRUCache<string, RecentRequest>({ max: 20_000, ttl: 60 * 60 * 1000 }),
  };
  return holder.__rerankServing;
}

/** Forgets every cached surface, feature and response (tests). */
export function resetServingState(): void {
  holder.__rerankServing?.surfaces.stop();
  holder.__rerankServing = undefined;
}

/**
 * Awaits a change to surfaces or aliases, then re-reads them in this process before answering, so
 * the replica that took the change serves it at once; the others follow within their config watch
 * interval (CONFIG_WATCH_INTERVAL_MS).
 */
export async function appliedHere<T>(change: Promise<T>): Promise<T> {
  const result = await change;
  await servingState().surfaces.refresh();
  return result;
}
