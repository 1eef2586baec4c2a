import { describe, expect, it } from "vitest";
import { signTest } from "./signTest";

describe("interleaving sign test", () => {
  it("9 wins to 1: exact binomial p and Wilson interval by hand", () => {
    // n = 10; P(X ≤ 1) = (C(10,0) + C(10,1))/2¹⁰ = 11/1024; two-sided p = 22/1024 = 0.0214844.
    // Wilson, z = 1.9599640, z² = 3.8414588, z²/n = 0.3841459:
    //   centre = (0.9 + 0.1920729)/1.3841459 = 0.7889869;
    //   half   = (1.9599640/1.3841459)·√(0.9·0.1/10 + 3.8414588/400) = 1.4160097·0.1363952 = 0.1931369;
    //   ⇒ [0.5958500, 0.9821238] (the Wald interval 0.9 ± 0.186 would poke past 1).
    const r = signTest(9, 1);
    expect(r.pValue).toBeCloseTo(22 / 1024, 7);
    expect(r.shareA).toBe(0.9);
    expect(r.ci[0]).toBeCloseTo(0.59585, 6);
    expect(r.ci[1]).toBeCloseTo(0.9821238, 6);
    expect(r.significant).toBe(true);
  });

  it("60 wins to 40: p = 0.0569, not significant", () => {
    // Two-sided p = 2·P(X ≤ 40 | n = 100, ½) = 0.0568879 (the textbook binom.test(60, 100) value;
    // the normal approximation with continuity correction gives 2·Φ(−1.9) = 0.0574).
    // Wilson: centre (0.6 + 0.0192073)/1.0384146 = 0.5963007, half 1.8874550·0.0499604 = 0.0942981
    // ⇒ [0.5020026, 0.6905987], which just excludes ½ while the exact p is above 0.05: the two
    // methods disagree at the margin, and the verdict (`significant`) follows the exact p-value.
    const r = signTest(60, 40);
    expect(r.pValue).toBeCloseTo(0.0568879, 6);
    expect(r.ci[0]).toBeCloseTo(0.5020026, 6);
    expect(r.ci[1]).toBeCloseTo(0.6905987, 6);
    expect(r.significant).toBe(false);
  });

  it("is symmetric, caps at 1 and handles no decisive comparisons", () => {
    expect(signTest(3, 7).pValue).toBeCloseTo(signTest(7, 3).pValue, 14);
    expect(signTest(5, 5).pValue).toBe(1);
    expect(signTest(0, 0)).toMatchObject({ pValue: 1, n: 0, ci: [0, 1], significant: false });
    expect(() => signTest(1.5, 2)).toThrow(RangeError);
  });
});
