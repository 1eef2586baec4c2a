import { describe, expect, it } from "vitest";
import { enoughRuns, isHeavy, modelCost } from "./modelCost";

describe("modelCost: a model's cost at load, from its timed runs", () => {
  it("leaves out the warm-up run: a 0.15 ms model whose first run read 1.38 ms costs 0.15 ms (it stays on the event loop)", () => {
    expect(modelCost([1.38, 0.15, 0.21, 0.16], 1)).toBe(0.16);
  });

  it("is the median of the runs after the warm-up", () => {
    expect(modelCost([3, 2.5, 0.4, 9], 1)).toBe(2.5);
    expect(modelCost([0.2, 5, 6], 1)).toBe(5);
  });

  it("a warm-up already over 10 × the threshold decides with one more run, the faster of the two (a heavy model is not run four times on the event loop)", () => {
    expect(modelCost([25], 1)).toBe(25);
    expect(modelCost([25, 30], 1)).toBe(25);
    // One run slowed 12 ms by the scheduler does not send a 0.5 ms model to the pool.
    expect(modelCost([12.5, 0.5], 1)).toBe(0.5);
    expect(isHeavy(10.01, 1)).toBe(true);
    expect(isHeavy(10, 1)).toBe(false);
  });

  it("asks for four runs, or two when the warm-up is over 10 × the threshold", () => {
    expect(enoughRuns([], 1)).toBe(false);
    expect(enoughRuns([0.3, 0.2, 0.2], 1)).toBe(false);
    expect(enoughRuns([0.3, 0.2, 0.2, 0.2], 1)).toBe(true);
    expect(enoughRuns([25], 1)).toBe(false);
    expect(enoughRuns([25, 24], 1)).toBe(true);
  });
});
