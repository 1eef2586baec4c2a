import { describe, expect, it } from "vitest";
import { summarizeMean, summarizeProportion } from "../stats";
import { adjustedProportionArms } from "./noSpread";

describe("adjustedProportionArms", () => {
  it("0/1,000 and 1,000/1,000 become 1/1,002 and 1,001/1,002, each with variance p̃(1 − p̃)/1,002", () => {
    const arms = adjustedProportionArms(summarizeProportion(1000, 0), summarizeProportion(1000, 1000))!;
    expect(arms.control.mean).toBeCloseTo(1 / 1002, 15);
    expect(arms.treatment.mean).toBeCloseTo(1001 / 1002, 15);
    // By hand: (1/1002)(1001/1002)/1002 = 1001/1002³ = 9.9501e-7.
    expect(arms.control.variance).toBeCloseTo(1001 / 1002 ** 3, 18);
    expect(arms.treatment.variance).toBeCloseTo(1001 / 1002 ** 3, 18);
    expect([arms.control.n, arms.treatment.n]).toEqual([1000, 1000]);
  });

  it("a constant share inside [0, 1] is read at the largest variance a [0, 1] value allows: 0.5 of 8 units → p̃ 0.5, v 0.025", () => {
    const arms = adjustedProportionArms(summarizeMean(Array(8).fill(0.5)), summarizeMean(Array(8).fill(0)))!;
    expect(arms.control).toEqual({ mean: 0.5, variance: 0.025, n: 8 }); // (4 + 1)/10, 0.25/10
  });

  it("applies when only one arm is constant, and adjusts both arms: 0/300 and 4/300 become 1/302 and 5/302", () => {
    const arms = adjustedProportionArms(summarizeProportion(300, 0), summarizeProportion(300, 4))!;
    // By hand: p̃ = (k + 1)/(n + 2); v = p̃(1 − p̃)/(n + 2) = (1/302)(301/302)/302 and (5/302)(297/302)/302.
    expect(arms.control).toEqual({ mean: 1 / 302, variance: (1 / 302) * (301 / 302) / 302, n: 300 });
    expect(arms.treatment.mean).toBeCloseTo(5 / 302, 15);
    expect(arms.treatment.variance).toBeCloseTo((5 * 297) / 302 ** 3, 18);
    // The other way round (the treatment constant at 100 %) as well.
    expect(adjustedProportionArms(summarizeProportion(1000, 995), summarizeProportion(1000, 1000))!.treatment.mean).toBeCloseTo(1001 / 1002, 15);
  });

  it("does not apply when both arms have spread, an arm has fewer than 2 units, or a value outside [0, 1]", () => {
    expect(adjustedProportionArms(summarizeProportion(10, 1), summarizeProportion(10, 3))).toBeNull();
    expect(adjustedProportionArms(summarizeProportion(1, 0), summarizeProportion(10, 10))).toBeNull();
    expect(adjustedProportionArms(summarizeMean([2, 2, 2]), summarizeProportion(10, 10))).toBeNull();
  });
});
