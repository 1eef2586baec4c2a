import { describe, expect, it } from "vitest";
import { starvedComparisons } from "./coverage";

describe("starvedComparisons", () => {
  const all = { status: "running", coverage: 1, namespace: null, targetingRules: 0 };
  const surface = { canaryRunning: true, shadowAlias: "shadow", shadowSampleRate: 0.25 };

  it("warns for a running canary and a sampled shadow when the experiment takes all traffic", () => {
    const warnings = starvedComparisons(all, surface);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/canary gets none/);
    expect(warnings[1]).toMatch(/shadow of "shadow" compares nothing/);
  });

  it("is quiet when the experiment leaves traffic over, or is not running, or nothing else compares", () => {
    expect(starvedComparisons({ ...all, coverage: 0.5 }, surface)).toEqual([]);
    expect(starvedComparisons({ ...all, namespace: { id: "n", start: 0, end: 0.5 } }, surface)).toEqual([]);
    expect(starvedComparisons({ ...all, targetingRules: 1 }, surface)).toEqual([]);
    expect(starvedComparisons({ ...all, status: "stopped" }, surface)).toEqual([]);
    expect(starvedComparisons(all, { canaryRunning: false, shadowAlias: "shadow", shadowSampleRate: 0 })).toEqual([]);
  });
});
