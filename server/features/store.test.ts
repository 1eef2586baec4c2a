import { describe, expect, it } from "vitest";
import type { Db } from "../db/client";
import { FeatureStore, MAX_READS_IN_FLIGHT, MAX_READS_QUEUED } from "./store";

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
    for (let i = 0; i < MAX_READS_IN_FLIGHT + MAX_READS_QUEUED; i++) await store.readItems([`load-${i}`], 0);
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
