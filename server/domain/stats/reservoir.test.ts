import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { Reservoir } from "./reservoir";

describe("Reservoir", () => {
  it("keeps everything until full, then exactly `size` items", () => {
    const r = new Reservoir<number>(3);
    [1, 2].forEach((v) => r.offer(v));
    expect(r.values()).toEqual([1, 2]);
    for (let i = 3; i <= 100; i++) r.offer(i);
    expect(r.values()).toHaveLength(3);
    expect(r.offered).toBe(100);
  });

  it("samples uniformly: each of 20 items is kept about size / n of the time", () => {
    const rng = createRng(7);
    const random = () => rng.next();
    const kept = new Array<number>(20).fill(0);
    const runs = 20_000;
    for (let run = 0; run < runs; run++) {
      const r = new Reservoir<number>(5, random);
      for (let i = 0; i < 20; i++) r.offer(i);
      for (const v of r.values()) kept[v]!++;
    }
    // Expected 5/20 = 0.25 each; binomial sd over 20,000 runs ≈ 0.003, so ±0.015 is 5 sd.
    for (const k of kept) expect(Math.abs(k / runs - 0.25)).toBeLessThan(0.015);
  });

  it("refuses a size that is not a positive integer", () => {
    expect(() => new Reservoir(0)).toThrow("size must be a positive integer, got 0");
  });
});
