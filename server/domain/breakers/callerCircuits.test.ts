import { describe, expect, it } from "vitest";
import { CallerCircuits, classifyFailure, RunCost, UnitCost, type ScoringOutcome } from "./callerCircuits";

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

describe("UnitCost: the model's measured cost per unit", () => {
  it("knows nothing before a successful run, then sizes the budget by ms per unit", () => {
    const cost = new UnitCost();
    expect(cost.msPerUnit()).toBeNull();
    expect(cost.sizedFor(50)).toBe(Infinity);
    cost.observe(100, 10); // 0.1 ms per row
    expect(cost.sizedFor(50)).toBe(500);
    for (let i = 0; i < 50; i++) cost.observe(20, 4); // 0.2 ms per row
    expect(cost.msPerUnit()).toBeCloseTo(0.2, 2);
    expect(cost.sizedFor(50)).toBe(250);
  });

  it("ignores runs it cannot read", () => {
    const cost = new UnitCost();
    cost.observe(0, 5);
    cost.observe(10, Number.NaN);
    expect(cost.msPerUnit()).toBeNull();
  });
});

describe("RunCost: a cross-encoder's run costs its characters tokenised and its padded tokens", () => {
  it("expects nothing before a successful run, then prices each part of the work by its own measured cost", () => {
    const cost = new RunCost(["chars", "paddedTokens"]);
    expect(cost.expectedMs({ chars: 1000, paddedTokens: 1000 })).toBeNull();
    expect(cost.sizedFor(200)).toEqual({ chars: Infinity, paddedTokens: Infinity });
    cost.observe({ chars: { units: 4_000, ms: 20 }, paddedTokens: { units: 5_000, ms: 10 } }); // 5 µs a character, 2 µs a token
    expect(cost.expectedMs({ chars: 10_000, paddedTokens: 1_000 })).toBeCloseTo(52, 6);
    expect(cost.sizedFor(200)).toEqual({ chars: 40_000, paddedTokens: 100_000 });
  });

  it("break test: 1,000 one-word documents set the cost; 400 documents of 60 words time out as oversized, though they are fewer rows", () => {
    const cost = new RunCost(["chars", "paddedTokens"]);
    // Key C: 1,000 × "lamp" (width 5) served in 58 ms, about half of it tokenising.
    for (let i = 0; i < 3; i++) cost.observe({ chars: { units: 4_004, ms: 30 }, paddedTokens: { units: 5_000, ms: 28 } });
    // Keys A and B: 400 × 60 words cut to 32 tokens (≥ 256 characters read each, a 40-word query once).
    const expectedMs = cost.expectedMs({ chars: 400 * 256 + 250, paddedTokens: 400 * 32 });
    expect(expectedMs).toBeGreaterThan(200);
    expect(classifyFailure({ timedOut: true, inputDependent: false, expectedMs, budgetMs: 200 })).toBe("oversized");
    // A per-row cost learned on the same runs (58 ms / 1,000) sized the 200 ms budget for 3,448 documents: 400 looked ordinary.
    const perRow = new UnitCost();
    for (let i = 0; i < 3; i++) perRow.observe(1_000, 58);
    expect(perRow.sizedFor(200)).toBeGreaterThan(400);
    // Three ordinary documents stay the model's: a timeout of theirs is a model fault.
    expect(classifyFailure({ timedOut: true, inputDependent: false, expectedMs: cost.expectedMs({ chars: 60, paddedTokens: 3 * 12 }), budgetMs: 200 })).toBe("model_fault");
  });
});

describe("classifyFailure", () => {
  it("an input-dependent fault is the input's; a timeout of work the budget does not allow is oversized; the rest is the model's", () => {
    expect(classifyFailure({ timedOut: false, inputDependent: true, expectedMs: 10, budgetMs: 50 })).toBe("input_fault");
    expect(classifyFailure({ timedOut: true, inputDependent: false, expectedMs: 100, budgetMs: 50 })).toBe("oversized");
    expect(classifyFailure({ timedOut: true, inputDependent: false, expectedMs: 10, budgetMs: 50 })).toBe("model_fault");
    expect(classifyFailure({ timedOut: false, inputDependent: false, expectedMs: 100, budgetMs: 50 })).toBe("model_fault");
    // No successful run yet (or the work unknown): nothing says whether the work or the model is at fault.
    expect(classifyFailure({ timedOut: true, inputDependent: false, expectedMs: null, budgetMs: 50 })).toBe("unpriced");
    // An error that is not a timeout is the model's, priced or not.
    expect(classifyFailure({ timedOut: false, inputDependent: false, expectedMs: null, budgetMs: 50 })).toBe("model_fault");
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

  it("cold start (review): unpriced timeouts from two callers open their own circuits, never the surface's", () => {
    const circuits = new CallerCircuits(options);
    const outcome = classifyFailure({ timedOut: true, inputDependent: false, expectedMs: new RunCost(["chars", "paddedTokens"]).expectedMs({ chars: 102_650, paddedTokens: 12_800 }), budgetMs: 200 });
    expect(outcome).toBe("unpriced");
    calls(circuits, "a", outcome, 3);
    calls(circuits, "b", outcome, 3, 3);
    expect(circuits.states(6)).toEqual({ surface: "closed", callers: [] });
    calls(circuits, "a", outcome, 3, 6);
    calls(circuits, "b", outcome, 3, 9);
    expect(circuits.states(12)).toEqual({ surface: "closed", callers: [{ caller: "a", state: "open" }, { caller: "b", state: "open" }] });
    expect(circuits.admit(13, "c").go).toBe(true);
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
