import { describe, expect, it } from "vitest";
import { percentOfShare, shareOfPercent, withoutFloatNoise } from "./percent";

describe("percent ↔ share without float noise", () => {
  it("round-trips the form's values to the stored ones", () => {
    // The break: the experiment form sent 66.67 / 100 = 0.6667000000000001 for a stored 0.6667.
    expect(66.67 / 100).not.toBe(0.6667);
    expect(shareOfPercent(66.67)).toBe(0.6667);
    expect(percentOfShare(0.6667)).toBe(66.67);
    expect(percentOfShare(0.9995)).toBe(99.95);
    for (const share of [0, 0.0001, 0.1, 0.2, 0.3, 1 / 3, 0.5, 0.6667, 0.7, 0.999, 1]) expect(shareOfPercent(percentOfShare(share))).toBe(Number(share.toPrecision(12)));
  });

  it("makes definitions that differ only by noise equal, and keeps real differences", () => {
    const stored = { variants: [{ key: "a", weight: 0.3333 }, { key: "b", weight: 0.6667 }], coverage: 1, at: null, on: true };
    const sent = { variants: [{ key: "a", weight: 0.33330000000000004 }, { key: "b", weight: 0.6667000000000001 }], coverage: 1, at: null, on: true };
    expect(withoutFloatNoise(sent)).toEqual(stored);
    expect(withoutFloatNoise({ w: 0.6668 })).not.toEqual(withoutFloatNoise({ w: 0.6667 }));
    expect(withoutFloatNoise({ w: 0.66670001 })).not.toEqual(withoutFloatNoise({ w: 0.6667 }));
    expect(withoutFloatNoise([Number.NaN, "x", null])).toEqual([Number.NaN, "x", null]);
    // Review: every number was rounded, so a targeting value of 1733140000004 equalled 1733140000000.
    expect(withoutFloatNoise({ value: 1733140000004 })).not.toEqual(withoutFloatNoise({ value: 1733140000000 }));
    expect(withoutFloatNoise({ value: 1.0000000000001 })).not.toEqual(withoutFloatNoise({ value: 1 }));
  });
});
