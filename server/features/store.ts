import { LRUCache } from "lru-cache";
import { getDb, type Db } from "../db/client";
import type { StoredFeatures } from "../domain/features/featureSpec";
import type { RankedCandidate } from "../domain/constraints/applyConstraints";
import { env } from "../config";
import { heapBytes, stringBytes } from "../domain/memory/heapBytes";
import { withDeadline } from "../domain/time/deadline";

// The online feature store: item and user features (and the item attributes constraints need)
// live in PostgreSQL and are served from an in-process cache. Only true misses are awaited on the
// request path; entries older than the refresh interval are served as they are while a background
// read refreshes them. Unknown ids are cached too, so they never cost a query twice.
//
// Bounded in bytes (FEATURE_CACHE_MAX_BYTES, estimated with heapBytes): ids and user keys are the
// caller's to choose, so a cache bounded only by count would let one client fill the heap with
// unknown ids of 256 characters. On the request path a miss waits at most a deadline (a share of the
// surface's budget, FEATURE_READ_BUDGET_SHARE); past it, or when the read fails, the request goes on
// without those records (defaults) while the read finishes in the background and fills the cache.
// At most MAX_READS_IN_FLIGHT such reads run at once, so a stalled database cannot pile them up;
// up to MAX_READS_QUEUED more wait for a free slot (their requests wait for them as for any read,
// up to the deadline) and then run and fill the cache. Past that a miss is not read at all: it is
// served with defaults and read when it is asked for again.

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
  title: string;
  category: string;
  provider_group: string;
  brand: string;
  safety_flags: string[] | null;
  values: Record<string, unknown> | null;
  updated_at: Date | null;
}

/** Reads of misses on the request path running at once, at most (the pool has DATABASE_POOL_SIZE connections). */
export const MAX_READS_IN_FLIGHT = 32;

/** Reads of misses waiting for one of the MAX_READS_IN_FLIGHT slots, at most. */
export const MAX_READS_QUEUED = 256;

/** Estimated heap bytes of a cache entry and its key. */
const entryBytes = (entry: Entry<unknown>, key: string) => Math.max(1, heapBytes(entry.value) + stringBytes(key) + 64);

/** What a read with a deadline found, and how much it could not read in time. */
export interface ItemsRead {
  items: Map<string, ItemRecord>;
  /** Ids whose records were not read within the deadline or whose read failed: served as unknown (defaults, no attributes). */
  unread: number;
}

export class FeatureStore {
  private readonly items: LRUCache<string, Entry<ItemRecord>>;
  private readonly users: LRUCache<string, Entry<StoredFeatures>>;
  private readonly refreshing = new Set<string>();
  private readsInFlight = 0;
  /** Starters of reads waiting for a slot, oldest first. */
  private readonly queuedReads: Array<() => void> = [];

  constructor(private readonly db: () => Db, maxBytes = env().FEATURE_CACHE_MAX_BYTES) {
    this.items = new LRUCache<string, Entry<ItemRecord>>({ max: 500_000, maxSize: Math.floor(maxBytes * 0.75), sizeCalculation: entryBytes });
    this.users = new LRUCache<string, Entry<StoredFeatures>>({ max: 200_000, maxSize: Math.floor(maxBytes * 0.25), sizeCalculation: entryBytes });
  }

  /** Estimated bytes held (items, users), for tests and the memory benchmark. */
  heldBytes(): { items: number; users: number } {
    return { items: this.items.calculatedSize, users: this.users.calculatedSize };
  }

  /** Item records by id; unknown ids are absent from the map. Misses are awaited however long they take (offline use). */
  async getItems(ids: readonly string[]): Promise<Map<string, ItemRecord>> {
    return (await this.readItems(ids)).items;
  }

  /**
   * Item records by id for a request: misses are awaited at most `waitMs` (none: as long as they
   * take, and a failed read throws); ids not read by then, or whose read failed, count as `unread`.
   */
  async readItems(ids: readonly string[], waitMs?: number): Promise<ItemsRead> {
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
    if (missing.length === 0) return { items: found, unread: 0 };
    const loaded = await this.awaitRead(() => this.loadItems(missing), waitMs);
    if (!loaded) return { items: found, unread: missing.length };
    for (const [id, record] of loaded) found.set(id, record);
    return { items: found, unread: 0 };
  }

  async getUser(userKey: string | undefined): Promise<StoredFeatures | undefined> {
    return (await this.readUser(userKey)).user;
  }

  /** The user's features for a request: a miss is awaited at most `waitMs` (none: as long as it takes); `unread` when it was not read in time or failed. */
  async readUser(userKey: string | undefined, waitMs?: number): Promise<{ user: StoredFeatures | undefined; unread: boolean }> {
    if (!userKey) return { user: undefined, unread: false };
    const entry = this.users.get(userKey);
    if (entry && Date.now() - entry.fetchedAt <= env().FEATURE_CACHE_REFRESH_MS) return { user: entry.value ?? undefined, unread: false };
    if (entry) {
      void this.loadUser(userKey).catch(() => {});
      return { user: entry.value ?? undefined, unread: false };
    }
    const loaded = await this.awaitRead(() => this.loadUser(userKey).then((user) => ({ user })), waitMs);
    return loaded ? { user: loaded.user, unread: false } : { user: undefined, unread: true };
  }

  /**
   * Runs `read`; with a deadline, waits at most `waitMs` and answers null when it passes or the
   * read fails (the read goes on and fills the cache). When MAX_READS_IN_FLIGHT reads run already,
   * the read waits in a queue for a slot (the deadline counts from now); when MAX_READS_QUEUED wait
   * already, it is not started and the answer is null at once.
   */
  private async awaitRead<T>(read: () => Promise<T>, waitMs: number | undefined): Promise<T | null> {
    if (waitMs === undefined) return read();
    const reading = this.startRead(read);
    if (!reading) return null;
    return withDeadline(reading.catch(() => null), waitMs, () => null);
  }

  /** Starts `read` in a free slot, or queues it for the next one; null when the queue is full too. */
  private startRead<T>(read: () => Promise<T>): Promise<T> | null {
    if (this.readsInFlight < MAX_READS_IN_FLIGHT) return this.runInSlot(read);
    if (this.queuedReads.length >= MAX_READS_QUEUED) return null;
    return new Promise<T>((resolve, reject) => this.queuedReads.push(() => void this.runInSlot(read).then(resolve, reject)));
  }

  private runInSlot<T>(read: () => Promise<T>): Promise<T> {
    this.readsInFlight++;
    return read().finally(() => {
      this.readsInFlight--;
      this.queuedReads.shift()?.();
    });
  }

  /** Loads the whole catalog into the cache (at start-up, so the first requests do not wait). */
  async warm(limit = 500_000): Promise<number> {
    const rows = await this.db().$queryRaw<ItemRow[]>`
      SELECT c.id, c.title, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
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
      SELECT c.id, c.title, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
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
    // The title too: a cross-encoder reads a catalog candidate's text from these (its textFields, e.g. title and category).
    attrs: { title: row.title, category: row.category, providerGroup: row.provider_group, brand: row.brand, safetyFlags: row.safety_flags ?? [] },
    features: row.values ? { values: row.values, updatedAt: row.updated_at?.getTime() ?? 0 } : undefined,
  };
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankFeatureStore?: FeatureStore };

/** The process's online feature store (serving, offline evaluation, training from logs). */
export function featureStore(): FeatureStore {
  return (holder.__rerankFeatureStore ??= new FeatureStore(getDb));
}
