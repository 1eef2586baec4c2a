// A cache bounded in entries and in estimated bytes whose room is shared among the owners of its
// entries (shares: the callers who sent them), max-min fair: over a bound, the entry that goes is the
// least recently used one of the share holding the most — bytes over the byte bound, entries over the
// count bound. One share's traffic therefore evicts its own entries first, and a share holding no more
// than its fair part (the bound divided by the number of shares) loses nothing to another's traffic,
// however much that other sends. A single LRU for everyone let one caller's flood push out every other
// caller's entries (break test: another API key wiped a caller's requestId memory in ~20 s).

/** The bounds and measures of a FairShareCache. */
export interface FairShareCacheOptions<V> {
  /** Entries held at most, across shares (an integer ≥ 1). */
  maxEntries: number;
  /** Estimated bytes held at most, across shares (> 0): an entry larger than this alone is not kept. */
  maxBytes: number;
  /** Milliseconds an entry is kept after it was set (> 0); then it is gone, as if never set. */
  ttlMs: number;
  /** An entry's estimated bytes (a finite number ≥ 0), measured once when it is set. */
  sizeOf(value: V, key: string): number;
  /** Called for each entry removed for room (not for one deleted, replaced, cleared or expired), the new one included. */
  onEvict?(value: V, key: string): void;
  /** The clock, epoch milliseconds (tests); Date.now by default. */
  now?(): number;
}

interface Slot<V> {
  value: V;
  share: Share<V>;
  bytes: number;
  /** Epoch ms. */
  expiresAt: number;
}

interface Share<V> {
  name: string;
  /** This share's entries, least recently used first (a Map keeps insertion order; a use re-inserts). */
  slots: Map<string, Slot<V>>;
  bytes: number;
}

/**
 * A key → value cache (string keys) where each entry belongs to a share (a string, e.g. a caller).
 * Finding the share to evict from costs O(shares) per eviction: shares are meant to be few (API keys,
 * people), not one per entry.
 */
export class FairShareCache<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private readonly shares = new Map<string, Share<V>>();
  private bytes = 0;
  private readonly now: () => number;

  /** @throws RangeError when a bound is not a positive number (maxEntries: an integer ≥ 1). */
  constructor(private readonly options: FairShareCacheOptions<V>) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError(`maxEntries: must be an integer ≥ 1, not ${options.maxEntries}`);
    if (!(options.maxBytes > 0)) throw new RangeError(`maxBytes: must be > 0, not ${options.maxBytes}`);
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs: must be > 0, not ${options.ttlMs}`);
    this.now = options.now ?? Date.now;
  }

  /** Entries held (expired ones not yet removed included). */
  get size(): number {
    return this.slots.size;
  }

  /** Estimated bytes held (sizeOf's sum over the entries held). */
  get calculatedSize(): number {
    return this.bytes;
  }

  /** The value under `key`, now its share's most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const slot = this.live(key);
    if (!slot) return undefined;
    slot.share.slots.delete(key);
    slot.share.slots.set(key, slot);
    return slot.value;
  }

  /** The value under `key` without counting as a use; undefined when absent or expired. */
  peek(key: string): V | undefined {
    return this.live(key)?.value;
  }

  /** Whether `key` holds an unexpired value (not a use). */
  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  /**
   * Keeps `value` under `key` in `share`'s part, replacing what `key` held (whoever's it was), then
   * evicts until both bounds hold: each time the least recently used entry of the share holding the
   * most (bytes when over maxBytes, else entries), the share of this entry when it holds as much as
   * the most. So the new entry itself goes when its share is the largest and holds nothing older.
   * @returns whether it is kept: false when it alone exceeds maxBytes (then `key` holds nothing) or was evicted at once.
   */
  set(key: string, value: V, share: string): boolean {
    const bytes = this.options.sizeOf(value, key);
    this.delete(key);
    if (!(bytes <= this.options.maxBytes)) return false;
    let part = this.shares.get(share);
    if (!part) this.shares.set(share, (part = { name: share, slots: new Map(), bytes: 0 }));
    const slot: Slot<V> = { value, share: part, bytes, expiresAt: this.now() + this.options.ttlMs };
    this.slots.set(key, slot);
    part.slots.set(key, slot);
    part.bytes += bytes;
    this.bytes += bytes;
    while (this.slots.size > this.options.maxEntries || this.bytes > this.options.maxBytes) {
      const victim = this.largestShare(part, this.bytes > this.options.maxBytes ? "bytes" : "entries");
      const [victimKey, victimSlot] = victim.slots.entries().next().value!;
      this.remove(victimKey, victimSlot);
      this.options.onEvict?.(victimSlot.value, victimKey);
    }
    return this.slots.get(key) === slot;
  }

  /** Removes `key`'s entry; whether there was one. */
  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    this.remove(key, slot);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.slots.clear();
    this.shares.clear();
    this.bytes = 0;
  }

  /** Unexpired keys: share by share, each share's least recently used first. */
  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  /** Unexpired [key, value] pairs, in the order of keys(). */
  *entries(): IterableIterator<[string, V]> {
    const now = this.now();
    for (const part of [...this.shares.values()]) {
      for (const [key, slot] of [...part.slots]) if (slot.expiresAt > now) yield [key, slot.value];
    }
  }

  /** What `share` holds now: entries and estimated bytes (expired ones not yet removed included). */
  heldBy(share: string): { entries: number; bytes: number } {
    const part = this.shares.get(share);
    return { entries: part?.slots.size ?? 0, bytes: part?.bytes ?? 0 };
  }

  /** The slot under `key` if unexpired; an expired one is removed on the way. */
  private live(key: string): Slot<V> | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt > this.now()) return slot;
    this.remove(key, slot);
    return undefined;
  }

  private remove(key: string, slot: Slot<V>): void {
    this.slots.delete(key);
    slot.share.slots.delete(key);
    slot.share.bytes -= slot.bytes;
    this.bytes -= slot.bytes;
    if (slot.share.slots.size === 0) this.shares.delete(slot.share.name);
  }

  /** The share holding the most by `measure`; `inserting` wins a tie, so a set never evicts another share's entries while its own holds as much. */
  private largestShare(inserting: Share<V>, measure: "bytes" | "entries"): Share<V> {
    const held = (part: Share<V>) => (measure === "bytes" ? part.bytes : part.slots.size);
    let largest = inserting.slots.size > 0 ? inserting : undefined;
    for (const part of this.shares.values()) if (!largest || held(part) > held(largest)) largest = part;
    return largest!;
  }
}
