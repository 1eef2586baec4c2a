import { describe, expect, it } from "vitest";
import { modelCost } from "./modelCost";

describe("modelCost: a model's cost at load, from its timed runs", () => {
  it("leaves out the warm-up run: a 0.15 ms model whose first run read 1.38 ms costs 0.15 ms (it stays on the event loop)", () => {
    expect(modelCost([1.38, 0.15, 0.21, 0.16], 1)).toBe(0.16);
  });

  it("is the median of the runs after the warm-up", () => {
    expect(modelCost([3, 2.5, 0.4, 9], 1)).toBe(2.5);
    expect(modelCost([0.2, 5, 6], 1)).toBe(5);
  });

  it("decides on the warm-up alone when it is already over 10 × the threshold (a heavy model is not run again on the event loop)", () => {
    expect(modelCost([25], 1)).toBe(25);
    expect(modelCost([25, 0.5, 0.5, 0.5], 1)).toBe(25);
  });
});
