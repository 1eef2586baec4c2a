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
// Bounded in bytes (FEATURE_CACHE_MAX_BYTES, estimated with heapBytes, shared as FEATURE_CACHE_SHARES
// says): ids and user keys are the caller's to choose, so a cache bounded only by count would let one
// client fill the heap with unknown ids of 256 characters. Unknown ids and user keys are kept apart
// from known ones, each in a bounded cache of their own (MAX_UNKNOWN_ITEM_IDS, MAX_UNKNOWN_USER_KEYS):
// in one cache, a caller's stream of made-up ids pushed the catalog out, and every other caller's
// requests were then served on defaults (break test: 1,500 requests of 1,000 unknown ids, then a
// request of 500 catalog items read defaulted 3,500 and timedOut).
// On the request path a miss waits at most a deadline (a share of the surface's budget,
// FEATURE_READ_BUDGET_SHARE); past it, or when the read fails, the request goes on without those
// records (defaults) while the read finishes in the background and fills the cache. At most
// MAX_READS_IN_FLIGHT such reads run at once, so a stalled database cannot pile them up; up to
// MAX_READS_QUEUED more wait for a free slot (their requests wait for them as for any read, up to the
// deadline) and then run and fill the cache. Past that a miss is not read at all: it is served with
// defaults and read when it is asked for again. The queue is fair among callers (the serving key,
// server/auth/principal.ts callerOf): one caller queues at most MAX_READS_QUEUED_PER_CALLER reads, and
// a free slot goes to the callers waiting in turn, so one caller's misses cannot keep another's out.

export interface ItemRecord {
  attrs: RankedCandidate["attrs"];
  features: StoredFeatures | undefined;
}

interface Entry<T> {
  value: T;
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

/** Reads of one caller's misses waiting for a slot, at most: half the queue, so another caller always finds room in it. */
export const MAX_READS_QUEUED_PER_CALLER = MAX_READS_QUEUED / 2;

/** Item ids the catalog does not know, remembered at most (within their share of the bytes); the least recently asked go first. */
export const MAX_UNKNOWN_ITEM_IDS = 100_000;

/** User keys with no features, remembered at most (within their share of the bytes). */
export const MAX_UNKNOWN_USER_KEYS = 100_000;

/**
 * FEATURE_CACHE_MAX_BYTES shared out: known items and users hold what serving needs; unknown ids
 * and user keys, the callers' to invent, only save a query each, so they get a sixteenth each.
 */
export const FEATURE_CACHE_SHARES = { items: 11 / 16, unknownItems: 1 / 16, users: 3 / 16, unknownUsers: 1 / 16 } as const;

/** Estimated heap bytes of a cache entry and its key. */
const entryBytes = (entry: Entry<unknown>, key: string) => Math.max(1, heapBytes(entry.value) + stringBytes(key) + 64);

/** Estimated heap bytes of an unknown id or user key (its key and when it was read). */
const unknownBytes = (_fetchedAt: number, key: string) => stringBytes(key) + 72;

/** The caller of a read with no caller named (offline use, tests). */
const NO_CALLER = "";

/** What a read with a deadline found, and how much it could not read in time. */
export interface ItemsRead {
  items: Map<string, ItemRecord>;
  /** Ids whose records were not read within the deadline or whose read failed: served as unknown (defaults, no attributes). */
  unread: number;
}

export class FeatureStore {
  private readonly items: LRUCache<string, Entry<ItemRecord>>;
  /** Ids the catalog does not know: when each was read (epoch ms). */
  private readonly unknownItems: LRUCache<string, number>;
  private readonly users: LRUCache<string, Entry<StoredFeatures>>;
  /** User keys with no features: when each was read (epoch ms). */
  private readonly unknownUsers: LRUCache<string, number>;
  private readonly refreshing = new Set<string>();
  private readsInFlight = 0;
  /** Per caller, the starters of its reads waiting for a slot, oldest first; callers in the order they are served next. */
  private readonly queuedReads = new Map<string, Array<() => void>>();
  private queuedCount = 0;

  constructor(private readonly db: () => Db, maxBytes = env().FEATURE_CACHE_MAX_BYTES) {
    const share = (part: keyof typeof FEATURE_CACHE_SHARES) => Math.max(1, Math.floor(maxBytes * FEATURE_CACHE_SHARES[part]));
    this.items = new LRUCache<string, Entry<ItemRecord>>({ max: 500_000, maxSize: share("items"), sizeCalculation: entryBytes });
    this.unknownItems = new LRUCache<string, number>({ max: MAX_UNKNOWN_ITEM_IDS, maxSize: share("unknownItems"), sizeCalculation: unknownBytes });
    this.users = new LRUCache<string, Entry<StoredFeatures>>({ max: 200_000, maxSize: share("users"), sizeCalculation: entryBytes });
    this.unknownUsers = new LRUCache<string, number>({ max: MAX_UNKNOWN_USER_KEYS, maxSize: share("unknownUsers"), sizeCalculation: unknownBytes });
  }

  /** Estimated bytes held by each cache, for tests and the memory benchmark. */
  heldBytes(): Record<keyof typeof FEATURE_CACHE_SHARES, number> {
    return { items: this.items.calculatedSize, unknownItems: this.unknownItems.calculatedSize, users: this.users.calculatedSize, unknownUsers: this.unknownUsers.calculatedSize };
  }

  /** Item records by id; unknown ids are absent from the map. Misses are awaited however long they take (offline use). */
  async getItems(ids: readonly string[]): Promise<Map<string, ItemRecord>> {
    return (await this.readItems(ids)).items;
  }

  /**
   * Item records by id for a request: misses are awaited at most `waitMs` (none: as long as they
   * take, and a failed read throws); ids not read by then, or whose read failed, count as `unread`.
   * `caller` (callerOf; none: offline use) is whose turn the read takes in the read queue.
   */
  async readItems(ids: readonly string[], waitMs?: number, caller: string = NO_CALLER): Promise<ItemsRead> {
    const now = Date.now();
    const refreshMs = env().FEATURE_CACHE_REFRESH_MS;
    const found = new Map<string, ItemRecord>();
    const missing: string[] = [];
    const stale: string[] = [];
    for (const id of ids) {
      const entry = this.items.get(id);
      const fetchedAt = entry ? entry.fetchedAt : this.unknownItems.get(id);
      if (fetchedAt === undefined) {
        missing.push(id);
        continue;
      }
      if (entry) found.set(id, entry.value);
      if (now - fetchedAt > refreshMs && !this.refreshing.has(id)) stale.push(id);
    }
    if (stale.length) this.refreshInBackground(stale);
    if (missing.length === 0) return { items: found, unread: 0 };
    const loaded = await this.awaitRead(() => this.loadItems(missing), waitMs, caller);
    if (!loaded) return { items: found, unread: missing.length };
    for (const [id, record] of loaded) found.set(id, record);
    return { items: found, unread: 0 };
  }

  async getUser(userKey: string | undefined): Promise<StoredFeatures | undefined> {
    return (await this.readUser(userKey)).user;
  }

  /**
   * The user's features for a request: a miss is awaited at most `waitMs` (none: as long as it takes);
   * `unread` when it was not read in time or failed. `caller`: as for readItems.
   */
  async readUser(userKey: string | undefined, waitMs?: number, caller: string = NO_CALLER): Promise<{ user: StoredFeatures | undefined; unread: boolean }> {
    if (!userKey) return { user: undefined, unread: false };
    const entry = this.users.get(userKey);
    const fetchedAt = entry ? entry.fetchedAt : this.unknownUsers.get(userKey);
    if (fetchedAt !== undefined) {
      if (Date.now() - fetchedAt > env().FEATURE_CACHE_REFRESH_MS) void this.loadUser(userKey).catch(() => {});
      return { user: entry?.value, unread: false };
    }
    const loaded = await this.awaitRead(() => this.loadUser(userKey).then((user) => ({ user })), waitMs, caller);
    return loaded ? { user: loaded.user, unread: false } : { user: undefined, unread: true };
  }

  /**
   * Runs `read`; with a deadline, waits at most `waitMs` and answers null when it passes or the
   * read fails (the read goes on and fills the cache). When MAX_READS_IN_FLIGHT reads run already,
   * the read waits in `caller`'s queue for a slot (the deadline counts from now); when MAX_READS_QUEUED
   * wait already, or MAX_READS_QUEUED_PER_CALLER of this caller's, it is not started and the answer is null at once.
   */
  private async awaitRead<T>(read: () => Promise<T>, waitMs: number | undefined, caller: string): Promise<T | null> {
    if (waitMs === undefined) return read();
    const reading = this.startRead(read, caller);
    if (!reading) return null;
    return withDeadline(reading.catch(() => null), waitMs, () => null);
  }

  /** Starts `read` in a free slot, or queues it in `caller`'s turn for the next one; null when there is no room to queue it. */
  private startRead<T>(read: () => Promise<T>, caller: string): Promise<T> | null {
    if (this.readsInFlight < MAX_READS_IN_FLIGHT) return this.runInSlot(read);
    const queue = this.queuedReads.get(caller);
    if (this.queuedCount >= MAX_READS_QUEUED || (queue?.length ?? 0) >= MAX_READS_QUEUED_PER_CALLER) return null;
    return new Promise<T>((resolve, reject) => {
      const start = () => void this.runInSlot(read).then(resolve, reject);
      if (queue) queue.push(start);
      else this.queuedReads.set(caller, [start]);
      this.queuedCount++;
    });
  }

  private runInSlot<T>(read: () => Promise<T>): Promise<T> {
    this.readsInFlight++;
    return read().finally(() => {
      this.readsInFlight--;
      this.startNextQueued();
    });
  }

  /** Round robin: the oldest read of the caller whose turn it is, then that caller goes to the back of the line. */
  private startNextQueued(): void {
    const next = this.queuedReads.entries().next();
    if (next.done) return;
    const [caller, queue] = next.value;
    const start = queue.shift()!;
    this.queuedReads.delete(caller);
    if (queue.length > 0) this.queuedReads.set(caller, queue);
    this.queuedCount--;
    start();
  }

  /** Loads the whole catalog into the cache (at start-up, so the first requests do not wait). */
  async warm(limit = 500_000): Promise<number> {
    const rows = await this.db().$queryRaw<ItemRow[]>`
      SELECT c.id, c.title, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
      FROM catalog_items c LEFT JOIN item_features f ON f.item_id = c.id LIMIT ${limit}`;
    const now = Date.now();
    for (const row of rows) this.keepItem(row.id, toRecord(row), now);
    return rows.length;
  }

  clear(): void {
    this.items.clear();
    this.unknownItems.clear();
    this.users.clear();
    this.unknownUsers.clear();
  }

  /** Keeps what a read found of an id: its record among the known items, or none among the unknown ids (an item deleted from the catalog moves there). */
  private keepItem(id: string, record: ItemRecord | undefined, now: number): void {
    if (record) {
      this.items.set(id, { value: record, fetchedAt: now });
      this.unknownItems.delete(id);
    } else {
      this.items.delete(id);
      this.unknownItems.set(id, now);
    }
  }

  private async loadItems(ids: string[]): Promise<Map<string, ItemRecord>> {
    const rows = await this.db().$queryRaw<ItemRow[]>`
      SELECT c.id, c.title, c.category, c.provider_group, c.brand, c.safety_flags, f.values, f.updated_at
      FROM catalog_items c LEFT JOIN item_features f ON f.item_id = c.id WHERE c.id = ANY(${ids})`;
    const now = Date.now();
    const result = new Map<string, ItemRecord>();
    for (const row of rows) result.set(row.id, toRecord(row));
    for (const id of ids) this.keepItem(id, result.get(id), now);
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
    const now = Date.now();
    if (!row) {
      this.users.delete(userKey);
      this.unknownUsers.set(userKey, now);
      return undefined;
    }
    const value = { values: row.values as Record<string, unknown>, updatedAt: row.updatedAt.getTime() };
    this.users.set(userKey, { value, fetchedAt: now });
    this.unknownUsers.delete(userKey);
    return value;
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
