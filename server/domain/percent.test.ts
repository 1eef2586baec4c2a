import { describe, expect, it } from "vitest";
import { percentOfShare, shareOfPercent, withoutShareNoise } from "./percent";

describe("percent ↔ share without float noise", () => {
  it("round-trips the form's values to the stored ones", () => {
    // The break: the experiment form sent 66.67 / 100 = 0.6667000000000001 for a stored 0.6667.
    expect(66.67 / 100).not.toBe(0.6667);
    expect(shareOfPercent(66.67)).toBe(0.6667);
    expect(percentOfShare(0.6667)).toBe(66.67);
    expect(percentOfShare(0.9995)).toBe(99.95);
    for (const share of [0, 0.0001, 0.1, 0.2, 0.3, 1 / 3, 0.5, 0.6667, 0.7, 0.999, 1]) expect(shareOfPercent(percentOfShare(share))).toBe(Number(share.toPrecision(12)));
  });

  it("compares shares beyond noise and keeps real differences", () => {
    expect(withoutShareNoise(0.6667000000000001)).toBe(0.6667);
    expect(withoutShareNoise(33.33 / 100)).toBe(0.3333);
    // An MDE above 1 (re-review: shares can be ≥ 1) round-tripped through the form's percent.
    expect(withoutShareNoise(shareOfPercent(percentOfShare(4 / 3)))).toBe(withoutShareNoise(4 / 3));
    expect(withoutShareNoise(0.6668)).not.toBe(withoutShareNoise(0.6667));
    expect(withoutShareNoise(0.66670001)).not.toBe(withoutShareNoise(0.6667));
    expect(withoutShareNoise(Number.NaN)).toBeNaN();
  });
});
