import { describe, expect, it } from "vitest";
import { FairShareCache } from "./fairShareCache";

// Values are their own size in bytes, so a test reads the byte bound directly.
function cache(maxEntries: number, maxBytes: number, ttlMs = 60_000) {
  let now = 0;
  const evicted: string[] = [];
  const c = new FairShareCache<number>({ maxEntries, maxBytes, ttlMs, sizeOf: (v) => v, onEvict: (_v, key) => evicted.push(key), now: () => now });
  return { c, evicted, advance: (ms: number) => (now += ms) };
}

describe("FairShareCache", () => {
  it("a flood from one share evicts only its own entries, however much it sends (bytes)", () => {
    const { c, evicted } = cache(1000, 1000);
    expect(c.set("victim-X", 10, "k1")).toBe(true);
    for (let i = 0; i < 500; i++) c.set(`flood-${i}`, 300, "k2");
    expect(c.get("victim-X")).toBe(10);
    expect(c.heldBy("k1")).toEqual({ entries: 1, bytes: 10 });
    expect(c.heldBy("k2").bytes).toBeLessThanOrEqual(990);
    expect(c.calculatedSize).toBeLessThanOrEqual(1000);
    expect(evicted).not.toContain("victim-X");
    // The flood's own newest are kept, least recently used first out.
    expect(c.has("flood-499")).toBe(true);
    expect(c.has("flood-0")).toBe(false);
  });

  it("a flood from one share evicts only its own entries (count)", () => {
    const { c } = cache(10, 1_000_000);
    for (let i = 0; i < 3; i++) c.set(`k1-${i}`, 1, "k1");
    for (let i = 0; i < 100; i++) c.set(`k2-${i}`, 1, "k2");
    expect(c.size).toBe(10);
    expect(c.heldBy("k1").entries).toBe(3);
    expect(c.heldBy("k2").entries).toBe(7);
    expect([0, 1, 2].every((i) => c.has(`k1-${i}`))).toBe(true);
  });

  it("is max-min fair: the share holding the most gives way, down to equal parts", () => {
    const { c } = cache(1000, 900);
    for (let i = 0; i < 9; i++) c.set(`a-${i}`, 100, "a");
    expect(c.heldBy("a").bytes).toBe(900);
    // b and c each get up to a third; a, over its third, gives way to them.
    for (let i = 0; i < 20; i++) {
      c.set(`b-${i}`, 100, "b");
      c.set(`c-${i}`, 100, "c");
    }
    expect([c.heldBy("a").bytes, c.heldBy("b").bytes, c.heldBy("c").bytes]).toEqual([300, 300, 300]);
    // A share under its part is never evicted for another's traffic.
    for (let i = 0; i < 50; i++) c.set(`c-more-${i}`, 100, "c");
    expect([c.heldBy("a").bytes, c.heldBy("b").bytes]).toEqual([300, 300]);
  });

  it("a new entry that would make its share the largest over the bound is not kept, rather than evict a smaller share", () => {
    const { c, evicted } = cache(1000, 1000);
    c.set("small", 400, "k1");
    expect(c.set("huge", 700, "k2")).toBe(false);
    expect(evicted).toEqual(["huge"]);
    expect(c.get("small")).toBe(400);
    expect(c.has("huge")).toBe(false);
    // Alone, a share uses the whole bound.
    c.delete("small");
    expect(c.set("huge", 700, "k2")).toBe(true);
  });

  it("does not keep an entry larger than the whole bound, and removes what its key held", () => {
    const { c, evicted } = cache(1000, 1000);
    c.set("x", 10, "k1");
    expect(c.set("x", 1001, "k1")).toBe(false);
    expect(c.has("x")).toBe(false);
    expect([c.size, c.calculatedSize, evicted]).toEqual([0, 0, []]);
  });

  it("a use makes an entry its share's most recently used", () => {
    const { c } = cache(3, 1000);
    c.set("a", 1, "k");
    c.set("b", 1, "k");
    c.set("c", 1, "k");
    c.get("a");
    c.set("d", 1, "k");
    expect([...c.keys()].sort()).toEqual(["a", "c", "d"]);
    // peek and has are not uses.
    c.peek("c");
    c.set("e", 1, "k");
    expect(c.has("c")).toBe(false);
  });

  it("replacing a key moves it to the new share and keeps the accounts exact", () => {
    const { c } = cache(10, 1000);
    c.set("x", 100, "k1");
    c.set("x", 30, "k2");
    expect([c.heldBy("k1"), c.heldBy("k2"), c.calculatedSize, c.size]).toEqual([{ entries: 0, bytes: 0 }, { entries: 1, bytes: 30 }, 30, 1]);
  });

  it("forgets an entry after its time to live, without counting it as evicted", () => {
    const { c, evicted, advance } = cache(10, 1000, 1000);
    c.set("x", 5, "k1");
    advance(999);
    expect(c.get("x")).toBe(5);
    advance(1);
    expect([...c.keys()]).toEqual([]);
    expect(c.get("x")).toBeUndefined();
    expect([c.size, c.calculatedSize, evicted]).toEqual([0, 0, []]);
  });

  it("refuses bounds that cannot hold anything", () => {
    const sizeOf = (v: number) => v;
    expect(() => new FairShareCache<number>({ maxEntries: 0, maxBytes: 1, ttlMs: 1, sizeOf })).toThrow(RangeError);
    expect(() => new FairShareCache<number>({ maxEntries: 1, maxBytes: 0, ttlMs: 1, sizeOf })).toThrow("maxBytes: must be > 0, not 0");
    expect(() => new FairShareCache<number>({ maxEntries: 1, maxBytes: 1, ttlMs: Number.NaN, sizeOf })).toThrow(RangeError);
  });

  it("holds both bounds under any interleaving of shares and sizes (randomised)", () => {
    const { c } = cache(50, 5000);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const shares = ["a", "b", "c", "d"];
    for (let i = 0; i < 5000; i++) {
      const share = shares[Math.floor(rand() * (rand() < 0.7 ? 1 : shares.length))]!;
      c.set(`${share}-${Math.floor(rand() * 200)}`, Math.floor(rand() * 600), share);
      expect(c.size).toBeLessThanOrEqual(50);
      expect(c.calculatedSize).toBeLessThanOrEqual(5000);
      const sum = shares.reduce((s, name) => s + c.heldBy(name).bytes, 0);
      expect(sum).toBe(c.calculatedSize);
    }
  });
});
