import { LRUCache } from "lru-cache";
import { getDb, type Db } from "../db/client";
import type { StoredFeatures } from "../domain/features/featureSpec";
import type { RankedCandidate } from "../domain/constraints/applyConstraints";
import { env } from "../config";

// The online feature store: item and user features (and the item attributes constraints need)
// live in PostgreSQL and are served from an in-process cache. Only true misses are awaited on the
// request path; entries older than the refresh interval are served as they are while a background
// read refreshes them. Unknown ids are cached too, so they never cost a query twice.

export interface ItemRecord {
  attrs: RankedCandidate["attrs"];
  features: StoredFeatures | undefined;
}

interface Entry<T> {
  value: T | null;
  fetchedAt: number;
}

interface ItemRow {
  id: string;
  category: string;
  provider_group: string;
  brand: string;
  safety_flags: string[] | null;
  values: Record<string, unknown> | null;
  updated_at: Date | null;
}

export class FeatureStore {
  private readonly items = new LRUCache<string, Entry<ItemRecord>>({ max: 500_000 });
  private readonly users = new LRUCache<string, Entry<StoredFeatures>>({ max: 200_000 });
  private readonly refreshing = new Set<string>();

  constructor(private readonly db: () => Db) {}

  /** Item records by id; unknown ids are absent from the map. */
  async getItems(ids: readonly string[]): Promise<Map<string, ItemRecord>> {
    const now = Date.now();
    const found = new Map<string, ItemRecord>();
    const missing: string[] = [];
    const stale: string[] = [];
    for (const id of ids) {
      const entry = this.items.get(id);
      if (!entry) {
        missing.push(id);
        continue;
      }
      if (entry.value) found.set(id, entry.value);
      if (now - entry.fetchedAt > env().FEATURE_CACHE_REFRESH_MS && !this.refreshing.has(id)) stale.push(id);
    }
    if (stale.length) this.refreshInBackground(stale);
    if (missing.length) {
      for (const [id, record] of await this.loadItems(missing)) found.set(id, record);
    }
    return found;
  }

  async getUser(userKey: string | undefined): Promise<StoredFeatures | undefined> {
    if (!userKey) return undefined;
    const entry = this.users.get(userKey);
    if (entry && Date.now() - entry.fetchedAt <= env().FEATURE_CACHE_REFRESH_MS) return entry.value ?? undefined;
    if (entry) {
      void this.loadUser(userKey).catch(() => {});
      return entry.value ?? undefined;
    }
    return this.loadUser(userKey);
  }

  /** Loads the whole catalog into the cache (at start-up, so the first requests do not wait). */
  async warm(limit = 500_000): Promise<number> {
    const rows = await this.db().$queryRaw<ItemRow[]>`
      SELECT c.id, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
      FROM catalog_items c LEFT JOIN item_features f ON f.item_id = c.id LIMIT ${limit}`;
    const now = Date.now();
    for (const row of rows) this.items.set(row.id, { value: toRecord(row), fetchedAt: now });
    return rows.length;
  }

  clear(): void {
    this.items.clear();
    this.users.clear();
  }

  private async loadItems(ids: string[]): Promise<Map<string, ItemRecord>> {
    const rows = await this.db().$queryRaw<ItemRow[]>`
      SELECT c.id, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
      FROM catalog_items c LEFT JOIN item_features f ON f.item_id = c.id WHERE c.id = ANY(${ids})`;
    const now = Date.now();
    const result = new Map<string, ItemRecord>();
    for (const row of rows) result.set(row.id, toRecord(row));
    for (const id of ids) this.items.set(id, { value: result.get(id) ?? null, fetchedAt: now });
    return result;
  }

  private refreshInBackground(ids: string[]): void {
    for (const id of ids) this.refreshing.add(id);
    void this.loadItems(ids)
      .catch(() => {}) // keep serving the cached values; the next request tries again
      .finally(() => ids.forEach((id) => this.refreshing.delete(id)));
  }

  private async loadUser(userKey: string): Promise<StoredFeatures | undefined> {
    const row = await this.db().userFeature.findUnique({ where: { userKey } });
    const value = row ? { values: row.values as Record<string, unknown>, updatedAt: row.updatedAt.getTime() } : null;
    this.users.set(userKey, { value, fetchedAt: Date.now() });
    return value ?? undefined;
  }
}

function toRecord(row: ItemRow): ItemRecord {
  return {
    attrs: { category: row.category, providerGroup: row.provider_group, brand: row.brand, safetyFlags: row.safety_flags ?? [] },
    features: row.values ? { values: row.values, updatedAt: row.updated_at?.getTime() ?? 0 } : undefined,
  };
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankFeatureStore?: FeatureStore };

/** The process's online feature store (serving, offline evaluation, training from logs). */
export function featureStore(): FeatureStore {
  return (holder.__rerankFeatureStore ??= new FeatureStore(getDb));
}
