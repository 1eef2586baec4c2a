import { describe, expect, it } from "vitest";
import { burnLevel, burnRate } from "./slo";

describe("burnRate", () => {
  it("divides the bad share by the error budget", () => {
    expect(burnRate(1, 1000, 0.999)).toBeCloseTo(1, 9);
    expect(burnRate(144, 10_000, 0.999)).toBeCloseTo(14.4, 9);
    expect(burnRate(0, 50, 0.99)).toBe(0);
    expect(burnRate(50, 50, 0.99)).toBeCloseTo(100, 9);
  });

  it("is null without traffic and refuses impossible inputs", () => {
    expect(burnRate(0, 0, 0.999)).toBeNull();
    expect(() => burnRate(1, 1, 1)).toThrow("objective must be within (0, 1), got 1");
    expect(() => burnRate(5, 4, 0.9)).toThrow("bad (5) must be within [0, total (4)]");
  });
});

describe("burnLevel", () => {
  it("pages on a fast 1 h burn or a sustained 6 h burn, warns above 1", () => {
    expect(burnLevel(14.4, 2)).toBe("page");
    expect(burnLevel(3, 6)).toBe("page");
    expect(burnLevel(14.3, 5.9)).toBe("warn");
    expect(burnLevel(0.5, 1.2)).toBe("warn");
    expect(burnLevel(1, 1)).toBe("ok");
    expect(burnLevel(null, 0)).toBe("ok");
    expect(burnLevel(null, null)).toBe("no_traffic");
  });
});
