import { describe, expect, it } from "vitest";
import type { Db } from "../db/client";
import { FEATURE_CACHE_SHARES, FeatureStore, MAX_READS_IN_FLIGHT, MAX_READS_QUEUED, MAX_READS_QUEUED_PER_CALLER } from "./store";

// The bound on concurrent reads of misses, with a stand-in database whose reads the test answers by
// hand (the SQL itself is covered against PostgreSQL by deadline.int.test.ts). A deadline of 0 ms:
// a request never waits for a read the test has not answered, whatever the machine's speed.

interface HeldRead {
  ids: string[];
  answer: () => void;
}

/** A database whose item reads wait until answered; each read's ids are recorded. */
function heldDatabase() {
  const reads: HeldRead[] = [];
  const db = {
    $queryRaw: (_sql: TemplateStringsArray, ids: string[]) =>
      new Promise((resolve) => {
        reads.push({ ids, answer: () => resolve(ids.map((id) => ({ id, category: "books", provider_group: "p", brand: "b", safety_flags: [], values: { price: 1 }, updated_at: new Date(0) }))) });
      }),
  } as unknown as Db;
  return { db, reads };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("FeatureStore reads of misses under load", () => {
  it("queues a read past MAX_READS_IN_FLIGHT: it runs when a slot frees and fills the cache", async () => {
    const { db, reads } = heldDatabase();
    const store = new FeatureStore(() => db, 1_000_000);
    for (let i = 0; i < MAX_READS_IN_FLIGHT; i++) expect((await store.readItems([`busy-${i}`], 0)).unread).toBe(1);
    expect(reads).toHaveLength(MAX_READS_IN_FLIGHT);

    // Every slot is taken: this request is served without the item, and its read waits for a slot.
    expect(await store.readItems(["queued-item"], 0)).toEqual({ items: new Map(), unread: 1 });
    expect(reads).toHaveLength(MAX_READS_IN_FLIGHT);

    reads[0]!.answer();
    await flush();
    expect(reads).toHaveLength(MAX_READS_IN_FLIGHT + 1);
    expect(reads.at(-1)!.ids).toEqual(["queued-item"]);
    reads.at(-1)!.answer();
    await flush();

    // The queued read filled the cache: the next request finds the item without reading.
    const next = await store.readItems(["queued-item"], 0);
    expect(next.unread).toBe(0);
    expect(next.items.get("queued-item")?.attrs.category).toBe("books");
    expect(reads).toHaveLength(MAX_READS_IN_FLIGHT + 1);
  });

  it("starts no read once MAX_READS_QUEUED reads wait too", async () => {
    const { db, reads } = heldDatabase();
    const store = new FeatureStore(() => db, 1_000_000);
    // Two callers, each within its share of the queue, fill it.
    for (let i = 0; i < MAX_READS_IN_FLIGHT + MAX_READS_QUEUED; i++) await store.readItems([`load-${i}`], 0, i < MAX_READS_IN_FLIGHT + MAX_READS_QUEUED_PER_CALLER ? "a" : "b");
    expect(await store.readItems(["dropped-item"], 0)).toEqual({ items: new Map(), unread: 1 });
    // Answer every read, queued ones included, as they start.
    for (let answered = 0; answered < reads.length; answered++) {
      reads[answered]!.answer();
      await flush();
    }
    expect(reads).toHaveLength(MAX_READS_IN_FLIGHT + MAX_READS_QUEUED);
    expect(reads.flatMap((r) => r.ids)).not.toContain("dropped-item");
    expect(reads.at(-1)!.ids).toEqual([`load-${MAX_READS_IN_FLIGHT + MAX_READS_QUEUED - 1}`]);
  });
});

describe("FeatureStore reads are fair among callers (break test: one key's misses filled the read queue)", () => {
  it("queues at most MAX_READS_QUEUED_PER_CALLER of one caller's reads, and gives a free slot to the callers in turn", async () => {
    const { db, reads } = heldDatabase();
    const store = new FeatureStore(() => db, 1_000_000);
    for (let i = 0; i < MAX_READS_IN_FLIGHT + MAX_READS_QUEUED_PER_CALLER; i++) await store.readItems([`flood-${i}`], 0, "api_key:flood");
    // The flooding key's share of the queue is full: its next miss is not read at all.
    await store.readItems(["flood-over"], 0, "api_key:flood");
    // Another caller still finds room, and its read is the next to start, ahead of the flood's older ones.
    expect((await store.readItems(["legit-item"], 0, "api_key:legit")).unread).toBe(1);
    reads[0]!.answer();
    await flush();
    expect(reads.at(-1)!.ids).toEqual([`flood-${MAX_READS_IN_FLIGHT}`]);
    reads[1]!.answer();
    await flush();
    expect(reads.at(-1)!.ids).toEqual(["legit-item"]);
    expect(reads.flatMap((r) => r.ids)).not.toContain("flood-over");
  });
});

/** A database that knows the ids in `catalog` (and user keys in `users`), answering at once; each read's ids are recorded. */
function catalogDatabase(catalog: ReadonlySet<string>, users: ReadonlySet<string> = new Set()) {
  const itemReads: string[][] = [];
  const userReads: string[] = [];
  const db = {
    $queryRaw: (_sql: TemplateStringsArray, ids: string[]) => {
      itemReads.push(ids);
      return Promise.resolve(ids.filter((id) => catalog.has(id)).map((id) => ({ id, title: id, category: "books", provider_group: "p", brand: "b", safety_flags: [], values: { price: 1 }, updated_at: new Date(0) })));
    },
    userFeature: {
      findUnique: ({ where }: { where: { userKey: string } }) => {
        userReads.push(where.userKey);
        return Promise.resolve(users.has(where.userKey) ? { userKey: where.userKey, values: { visits: 3 }, updatedAt: new Date(0) } : null);
      },
    },
  } as unknown as Db;
  return { db, itemReads, userReads };
}

describe("FeatureStore keeps unknown ids apart from the catalog (break test: unknown ids evicted every caller's items)", () => {
  it("a flood of unknown ids of 190 characters leaves the known items cached, and stays within its own share", async () => {
    const known = Array.from({ length: 500 }, (_, i) => `sku-${String(i).padStart(5, "0")}`);
    const { db, itemReads } = catalogDatabase(new Set(known));
    const maxBytes = 4 * 1024 * 1024;
    const store = new FeatureStore(() => db, maxBytes);
    expect((await store.readItems(known, 1000)).items.size).toBe(500);
    for (let round = 0; round < 60; round++) {
      const ids = Array.from({ length: 1000 }, (_, i) => `${"x".repeat(180)}-${round}-${i}`);
      expect((await store.readItems(ids, 1000, "api_key:flood")).items.size).toBe(0);
    }
    expect(store.heldBytes().unknownItems).toBeLessThanOrEqual(maxBytes * FEATURE_CACHE_SHARES.unknownItems);
    expect(store.heldBytes().unknownItems).toBeGreaterThan(maxBytes * FEATURE_CACHE_SHARES.unknownItems * 0.5);
    // The legitimate request is served from the cache, every item found, nothing read.
    const readsBefore = itemReads.length;
    const after = await store.readItems(known, 0, "api_key:legit");
    expect([after.items.size, after.unread, itemReads.length]).toEqual([500, 0, readsBefore]);
  });

  it("an unknown id is read once, and becomes known when the catalog gains it", async () => {
    const catalog = new Set<string>();
    const { db, itemReads } = catalogDatabase(catalog);
    const store = new FeatureStore(() => db, 1_000_000);
    expect((await store.readItems(["new-item"], 1000)).items.size).toBe(0);
    expect((await store.readItems(["new-item"], 1000)).items.size).toBe(0);
    expect(itemReads).toEqual([["new-item"]]);
    catalog.add("new-item");
    store.clear();
    expect((await store.readItems(["new-item"], 1000)).items.get("new-item")?.attrs.category).toBe("books");
  });

  it("a flood of unknown user keys leaves known users cached", async () => {
    const { db, userReads } = catalogDatabase(new Set(), new Set(["known-user"]));
    const maxBytes = 1024 * 1024;
    const store = new FeatureStore(() => db, maxBytes);
    expect((await store.readUser("known-user", 1000)).user?.values).toEqual({ visits: 3 });
    for (let i = 0; i < 5000; i++) await store.readUser(`${"k".repeat(200)}-${i}`, 1000, "api_key:flood");
    expect(store.heldBytes().unknownUsers).toBeLessThanOrEqual(maxBytes * FEATURE_CACHE_SHARES.unknownUsers);
    const before = userReads.length;
    expect((await store.readUser("known-user", 0)).user?.values).toEqual({ visits: 3 });
    expect(userReads.length).toBe(before);
  });
});
