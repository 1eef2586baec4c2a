import { describe, expect, it } from "vitest";
import { fnv1a32, mix32, seedOfKey } from "./hashing";

describe("hashing", () => {
  it("computes FNV-1a 32 (reference values of the FNV specification)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    expect(fnv1a32("bar", fnv1a32("foo"))).toBe(fnv1a32("foobar"));
  });

  it("mixes neighbouring keys into unrelated seeds", () => {
    expect(mix32(0)).toBe(0);
    const seeds = Array.from({ length: 1000 }, (_, i) => seedOfKey(`req-${i}`));
    expect(new Set(seeds).size).toBe(1000);
    const lowBitOnes = seeds.filter((s) => s & 1).length;
    expect(lowBitOnes).toBeGreaterThan(450);
    expect(lowBitOnes).toBeLessThan(550);
  });
});
