import { describe, expect, it } from "vitest";
import { CallerCircuits, classifyFailure, RowCost, type ScoringOutcome } from "./callerCircuits";

const options = { windowMs: 10_000, volumeThreshold: 5, errorThreshold: 0.5, resetMs: 300 };

/** Sends `n` calls of `caller` with `outcome` from time `t`; returns the refusals. */
function calls(circuits: CallerCircuits, caller: string, outcome: ScoringOutcome, n: number, t = 0): Array<string | null> {
  const refused: Array<string | null> = [];
  for (let i = 0; i < n; i++) {
    const admission = circuits.admit(t + i, caller);
    refused.push(admission.refusedBy);
    if (admission.go) circuits.record(t + i, caller, admission, outcome);
  }
  return refused;
}

describe("RowCost: the model's measured cost per row", () => {
  it("knows nothing before a successful run, then sizes the budget by ms per row", () => {
    const cost = new RowCost();
    expect(cost.msPerRow()).toBeNull();
    expect(cost.sizedForRows(50)).toBe(Infinity);
    cost.observe(100, 10); // 0.1 ms per row
    expect(cost.sizedForRows(50)).toBe(500);
    for (let i = 0; i < 50; i++) cost.observe(20, 4); // 0.2 ms per row
    expect(cost.msPerRow()).toBeCloseTo(0.2, 2);
    expect(cost.sizedForRows(50)).toBe(250);
  });

  it("ignores runs it cannot read", () => {
    const cost = new RowCost();
    cost.observe(0, 5);
    cost.observe(10, Number.NaN);
    expect(cost.msPerRow()).toBeNull();
  });
});

describe("classifyFailure", () => {
  it("an input-dependent fault is the input's; a timeout past what the budget is sized for is oversized; the rest is the model's", () => {
    expect(classifyFailure({ timedOut: false, inputDependent: true, rows: 10, sizedForRows: 500 })).toBe("input_fault");
    expect(classifyFailure({ timedOut: true, inputDependent: false, rows: 1000, sizedForRows: 500 })).toBe("oversized");
    expect(classifyFailure({ timedOut: true, inputDependent: false, rows: 100, sizedForRows: 500 })).toBe("model_fault");
    expect(classifyFailure({ timedOut: false, inputDependent: false, rows: 1000, sizedForRows: 500 })).toBe("model_fault");
    // No successful run yet: nothing says the request was too big.
    expect(classifyFailure({ timedOut: true, inputDependent: false, rows: 1000, sizedForRows: Infinity })).toBe("model_fault");
  });
});

describe("CallerCircuits: one caller's faults trip only its own circuit", () => {
  it("oversized requests from one caller open its circuit; another caller is still let through", () => {
    const circuits = new CallerCircuits(options);
    const refused = calls(circuits, "mallory", "oversized", 8);
    expect(refused.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(refused.slice(5)).toEqual(["caller", "caller", "caller"]);
    expect(circuits.states(10)).toEqual({ surface: "closed", callers: [{ caller: "mallory", state: "open" }] });
    expect(circuits.admit(10, "bob").go).toBe(true);
  });

  it("model faults from one caller alone open that caller's circuit, not the surface's", () => {
    const circuits = new CallerCircuits(options);
    calls(circuits, "mallory", "model_fault", 20);
    expect(circuits.states(20).surface).toBe("closed");
    expect(circuits.callerState(20, "mallory")).toBe("open");
    expect(circuits.callerState(20, "bob")).toBe("closed");
  });

  it("model faults from two callers open the surface's circuit: everyone falls back", () => {
    const circuits = new CallerCircuits(options);
    calls(circuits, "alice", "model_fault", 3);
    calls(circuits, "bob", "model_fault", 3, 3);
    expect(circuits.states(6).surface).toBe("open");
    expect(circuits.admit(7, "carol")).toMatchObject({ go: false, refusedBy: "surface" });
  });

  it("oversized and input faults never count toward the surface's circuit, however many callers send them", () => {
    const circuits = new CallerCircuits(options);
    for (const caller of ["a", "b", "c", "d"]) calls(circuits, caller, "oversized", 6);
    calls(circuits, "e", "input_fault", 50);
    expect(circuits.states(100).surface).toBe("closed");
    expect(circuits.callerState(100, "e")).toBe("closed");
  });

  it("overloaded calls (no model thread started them within the budget) count for no circuit, and leave a trial undecided", () => {
    const circuits = new CallerCircuits(options);
    for (const caller of ["a", "b", "c"]) calls(circuits, caller, "overloaded", 50);
    expect(circuits.states(200).surface).toBe("closed");
    for (const caller of ["a", "b", "c"]) expect(circuits.callerState(200, caller)).toBe("closed");
    // A caller's half-open trial that ends overloaded is given back: the next call is the trial again.
    calls(circuits, "m", "oversized", 5, 1000);
    const trial = circuits.admit(1400, "m");
    expect(trial).toMatchObject({ go: true, callerTrial: true });
    circuits.record(1400, "m", trial, "overloaded");
    expect(circuits.admit(1401, "m")).toMatchObject({ go: true, callerTrial: true });
  });

  it("a caller's circuit half-opens after resetMs and closes on a good trial", () => {
    const circuits = new CallerCircuits(options);
    calls(circuits, "mallory", "oversized", 5);
    expect(circuits.admit(100, "mallory").go).toBe(false);
    const trial = circuits.admit(400, "mallory");
    expect(trial).toMatchObject({ go: true, callerTrial: true });
    expect(circuits.record(400, "mallory", trial, "success").caller).toBe("closed");
  });

  it("keeps at most maxCallers circuits", () => {
    const circuits = new CallerCircuits({ ...options, maxCallers: 3 });
    for (const caller of ["a", "b", "c", "d"]) calls(circuits, caller, "oversized", 5);
    expect(circuits.states(10).callers.map((c) => c.caller)).toEqual(["b", "c", "d"]);
  });
});
