import { describe, expect, it } from "vitest";
import { fallbacksWorthOpening } from "./fallbackExamples";

/** A fallback `s` seconds after a fixed instant, named by its reason and time. */
const at = (s: number, fallbackReason: string | null) => ({ id: `${fallbackReason}@${s}`, ts: new Date(Date.UTC(2026, 11, 1, 12, 0, s)), fallbackReason });
const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

describe("fallbacksWorthOpening", () => {
  it("after the circuit opens, links the model error and the timeout that caused it, not three circuit_open", () => {
    const rows = [at(1, "timeout"), at(2, "model_error"), at(3, "model_error"), ...Array.from({ length: 20 }, (_, i) => at(10 + i, "circuit_open"))];
    expect(ids(fallbacksWorthOpening(rows, 3))).toEqual(["circuit_open@29", "model_error@3", "timeout@1"]);
  });

  it("puts causes before follow-ons (circuit_open, kill_switch) when there are more reasons than room", () => {
    const rows = [at(1, "timeout"), at(2, "model_error"), at(5, "circuit_open"), at(6, "kill_switch")];
    expect(ids(fallbacksWorthOpening(rows, 2))).toEqual(["model_error@2", "timeout@1"]);
    expect(ids(fallbacksWorthOpening(rows, 3))).toEqual(["kill_switch@6", "model_error@2", "timeout@1"]);
    expect(ids(fallbacksWorthOpening(rows, 1))).toEqual(["model_error@2"]);
  });

  it("takes turns: the second newest of each reason only once every reason has one", () => {
    const rows = [at(1, "timeout"), at(2, "timeout"), at(3, "model_error"), at(4, "model_error"), at(5, "model_error"), at(6, "circuit_open"), at(7, "circuit_open")];
    expect(ids(fallbacksWorthOpening(rows, 5))).toEqual(["circuit_open@7", "model_error@5", "model_error@4", "timeout@2", "timeout@1"]);
    expect(ids(fallbacksWorthOpening(rows, 10))).toEqual(["circuit_open@7", "circuit_open@6", "model_error@5", "model_error@4", "model_error@3", "timeout@2", "timeout@1"]);
  });

  it("is the newest first when there is one reason, in any input order; a reason never said (null) is a reason of its own", () => {
    expect(ids(fallbacksWorthOpening([at(1, "timeout"), at(3, "timeout"), at(2, "timeout")], 2))).toEqual(["timeout@3", "timeout@2"]);
    expect(ids(fallbacksWorthOpening([at(1, null), at(2, "circuit_open"), at(3, "circuit_open")], 2))).toEqual(["circuit_open@3", "null@1"]);
    expect(fallbacksWorthOpening([], 3)).toEqual([]);
    expect(fallbacksWorthOpening([at(1, "timeout")], 0)).toEqual([]);
  });
});
