import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adjustPValues, benjaminiHochbergAdjust, holmAdjust } from "./multiple";

// The 15 p-values of Benjamini & Hochberg's (1995) worked example (JRSS B 57, §3.2), already sorted.
const bh1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.324, 0.4262, 0.5719, 0.6528, 0.759, 1.0];

describe("multiple-comparison corrections", () => {
  it("Holm on the BH 1995 example", () => {
    // p̃₍ᵢ₎ = running max of (m − i + 1)·p₍ᵢ₎ with m = 15:
    //   15·0.0001 = 0.0015, 14·0.0004 = 0.0056, 13·0.0019 = 0.0247, 12·0.0095 = 0.114,
    //   11·0.0201 = 0.2211, 10·0.0278 = 0.278, 9·0.0298 = 0.2682 → 0.278 (running max),
    //   8·0.0344 = 0.2752 → 0.278, 7·0.0459 = 0.3213, 6·0.324 = 1.944 → 1, then 1.
    // Three discoveries at 0.05, as the paper reports for Bonferroni-type control.
    const expected = [0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278, 0.3213, 1, 1, 1, 1, 1, 1];
    holmAdjust(bh1995).forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 12));
    expect(holmAdjust(bh1995).filter((p) => p < 0.05)).toHaveLength(3);
  });

  it("Benjamini–Hochberg on the BH 1995 example", () => {
    // p̃₍ᵢ₎ = running min from the top of 15·p₍ᵢ₎/i:
    //   i = 15: 1; 14: 0.759·15/14 = 0.8132143; 13: 0.6528·15/13 = 0.7532308; 12: 0.5719·15/12 = 0.714875;
    //   11: 0.4262·15/11 = 0.5811818; 10: 0.324·1.5 = 0.486; 9: 0.0459·15/9 = 0.0765; 8: 0.0344·15/8 = 0.0645;
    //   7: 0.0298·15/7 = 0.0638571; 6: 0.0278·2.5 = 0.0695 → 0.0638571 (running min); 5: 0.0201·3 = 0.0603;
    //   4: 0.0095·3.75 = 0.035625; 3: 0.0019·5 = 0.0095; 2: 0.0004·7.5 = 0.003; 1: 0.0015.
    // Four discoveries at q = 0.05, as in the paper.
    const expected = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571, 0.0638571, 0.0645, 0.0765, 0.486, 0.5811818, 0.714875, 0.7532308, 0.8132143, 1];
    benjaminiHochbergAdjust(bh1995).forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 6));
    expect(benjaminiHochbergAdjust(bh1995).filter((p) => p < 0.05)).toHaveLength(4);
  });

  it("returns adjusted values in the input order", () => {
    // Unsorted [0.04, 0.01, 0.03]: sorted 0.01, 0.03, 0.04.
    // Holm: 3·0.01 = 0.03, 2·0.03 = 0.06, 1·0.04 = 0.04 → max 0.06 ⇒ [0.06, 0.03, 0.06].
    // BH: 0.04·3/3 = 0.04, 0.03·3/2 = 0.045 → 0.04, 0.01·3 = 0.03 ⇒ [0.04, 0.03, 0.04].
    expect(adjustPValues([0.04, 0.01, 0.03], "holm").map((p) => +p.toFixed(12))).toEqual([0.06, 0.03, 0.06]);
    expect(adjustPValues([0.04, 0.01, 0.03], "benjamini-hochberg").map((p) => +p.toFixed(12))).toEqual([0.04, 0.03, 0.04]);
    expect(holmAdjust([])).toEqual([]);
    expect(() => holmAdjust([0.5, NaN])).toThrow(RangeError);
  });

  it("never lowers a p-value, keeps the order, and BH is never stricter than Holm", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 }), (ps) => {
        const holm = holmAdjust(ps);
        const bh = benjaminiHochbergAdjust(ps);
        ps.forEach((p, i) => {
          expect(holm[i]!).toBeGreaterThanOrEqual(p);
          expect(bh[i]!).toBeGreaterThanOrEqual(p);
          expect(bh[i]!).toBeLessThanOrEqual(holm[i]! * (1 + 1e-12));
          expect(holm[i]!).toBeLessThanOrEqual(1);
          ps.forEach((q, j) => {
            if (p < q) expect(holm[i]!).toBeLessThanOrEqual(holm[j]!);
          });
        });
      }),
    );
  });
});
