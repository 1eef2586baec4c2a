import { describe, expect, it } from "vitest";
import { creditOf, creditReasons, isCompetitive } from "./credit";
import { teamDraftInterleave } from "./teamDraft";

describe("interleaving credit", () => {
  it("writes one credit per item and the competitive flag on the first", () => {
    const reasons = creditReasons({ teams: ["shared", "A", "B"], competitive: true }, ["control", "treatment"]);
    expect(reasons).toEqual([["interleaving-shared", "interleaving:competitive"], ["interleaving:control"], ["interleaving:treatment"]]);
    expect(creditReasons({ teams: ["B", "A"], competitive: false }, ["control", "treatment"])).toEqual([["interleaving:treatment"], ["interleaving:control"]]);
  });

  it("reads back what it wrote, after the item's own reasons", () => {
    const merged = teamDraftInterleave(["a", "b", "c", "d"], ["a", "c", "b", "d"], 4, "req-1");
    const reasons = creditReasons(merged, ["control", "treatment"]).map((r, i) => (i === 1 ? ["category_cap", ...r] : r));
    const teams = reasons.map(creditOf);
    expect(teams[0]).toBeUndefined(); // "a" leads both rankings: shared
    expect(teams.slice(1).map((t) => (t === "control" ? "A" : "B"))).toEqual(merged.teams.slice(1));
    expect(isCompetitive(reasons[0])).toBe(true);
  });

  it("keeps a variant named \"competitive\" apart from the flag", () => {
    const [first, second] = creditReasons({ teams: ["B", "A"], competitive: false }, ["control", "competitive"]);
    expect(creditOf(first)).toBe("competitive");
    expect(isCompetitive(first)).toBe(false);
    expect(creditOf(second)).toBe("control");
    const [flagged] = creditReasons({ teams: ["B"], competitive: true }, ["control", "competitive"]);
    expect(creditOf(flagged)).toBe("competitive");
    expect(isCompetitive(flagged)).toBe(true);
  });

  it("reads nothing from an item that was not interleaved", () => {
    expect(creditOf([])).toBeUndefined();
    expect(creditOf(undefined)).toBeUndefined();
    expect(creditOf(["category_cap"])).toBeUndefined();
    expect(isCompetitive(["category_cap"])).toBe(false);
  });
});
