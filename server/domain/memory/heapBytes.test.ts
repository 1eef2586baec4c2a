import { describe, expect, it } from "vitest";
import { heapBytes, stringBytes } from "./heapBytes";

describe("heap estimates", () => {
  it("counts one byte per Latin-1 character and two otherwise", () => {
    expect(stringBytes("abc")).toBe(27);
    expect(stringBytes("café")).toBe(28); // é is Latin-1
    expect(stringBytes("ab€")).toBe(30); // € is not: the whole string is two-byte
  });

  it("grows with the value and walks deep values without recursion", () => {
    const small = heapBytes({ a: 1 });
    expect(heapBytes({ a: 1, b: "x".repeat(1000) })).toBeGreaterThan(small + 1000);
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(heapBytes(deep)).toBeGreaterThan(200_000 * 32);
  });
});
