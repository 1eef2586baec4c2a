import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { interleavingWinner, teamDraftInterleave } from "./teamDraft";

describe("teamDraftInterleave", () => {
  it("alternates picks, never repeats an item and credits each to its team", () => {
    const a = ["a1", "a2", "s", "a3"];
    const b = ["b1", "s", "b2", "b3"];
    const out = teamDraftInterleave(a, b, 6, "req-1");
    expect(new Set(out.ids).size).toBe(6);
    const picksA = out.teams.filter((t) => t === "A").length;
    expect(Math.abs(picksA - (6 - picksA))).toBeLessThanOrEqual(1);
    out.ids.forEach((id, i) => {
      // An item credited to A came from A's ranking, and vice versa.
      expect((out.teams[i] === "A" ? a : b).includes(id)).toBe(true);
    });
    expect(out.competitive).toBe(true);
  });

  it("is reproducible from the request key, and identical rankings are not competitive", () => {
    const a = ["x", "y", "z", "w"];
    expect(teamDraftInterleave(a, ["z", "x", "y", "w"], 3, "r")).toEqual(teamDraftInterleave(a, ["z", "x", "y", "w"], 3, "r"));
    const same = teamDraftInterleave(a, a, 4, "r");
    expect(same.ids).toEqual(a);
    expect(same.teams).toEqual(["shared", "shared", "shared", "shared"]);
    expect(same.competitive).toBe(false);
  });

  it("shows the rankings' common prefix first and credits it to neither team", () => {
    const out = teamDraftInterleave(["p", "q", "a1", "a2"], ["p", "q", "b1", "b2"], 4, "req-7");
    expect(out.sharedPrefix).toBe(2);
    expect(out.ids.slice(0, 2)).toEqual(["p", "q"]);
    expect(out.teams.slice(0, 2)).toEqual(["shared", "shared"]);
    // After the prefix the draft is fair again: one pick each.
    expect([...out.teams.slice(2)].sort()).toEqual(["A", "B"]);
    expect(out.competitive).toBe(true);
    // A shared item that is not at the same position is drafted normally.
    expect(teamDraftInterleave(["x", "y"], ["y", "x"], 2, "r").sharedPrefix).toBe(0);
  });

  it("gives each team the first pick about half the time, also for sequential request ids", () => {
    const firsts = Array.from({ length: 2000 }, (_, i) => teamDraftInterleave(["a", "b"], ["c", "d"], 2, `req-${i}`).teams[0]);
    const shareA = firsts.filter((t) => t === "A").length / firsts.length;
    expect(shareA).toBeGreaterThan(0.46);
    expect(shareA).toBeLessThan(0.54);
    // No long streaks: consecutive ids agree on the first pick about half the time.
    const same = firsts.slice(1).filter((t, i) => t === firsts[i]).length / (firsts.length - 1);
    expect(same).toBeGreaterThan(0.44);
    expect(same).toBeLessThan(0.56);
  });

  it("keeps each team's items in its own ranking order (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }), fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 30 }), fc.string(), (ra, rb, k, key) => {
        const a = ra.map(String);
        const b = rb.map(String);
        const out = teamDraftInterleave(a, b, k, key);
        expect(out.ids.length).toBe(Math.min(k, new Set([...a, ...b]).size));
        expect(new Set(out.ids).size).toBe(out.ids.length);
        const ofA = out.ids.filter((_, i) => out.teams[i] === "A").map((id) => a.indexOf(id));
        expect(ofA).toEqual([...ofA].sort((x, y) => x - y));
        // Shared items are exactly the leading positions where both rankings agree.
        out.teams.forEach((team, i) => expect(team === "shared").toBe(i < out.sharedPrefix));
        for (let i = 0; i < out.sharedPrefix; i++) expect(a[i]).toBe(b[i]);
        if (out.sharedPrefix < Math.min(k, a.length, b.length)) expect(a[out.sharedPrefix]).not.toBe(b[out.sharedPrefix]);
      }),
    );
  });
});

describe("interleavingWinner", () => {
  it("credits clicks to teams", () => {
    expect(interleavingWinner(["A", "B", "A"], [1, 3])).toBe("A");
    expect(interleavingWinner(["A", "B", "A"], [2])).toBe("B");
    expect(interleavingWinner(["A", "B"], [1, 2])).toBe("tie");
    expect(interleavingWinner(["A", "B"], [])).toBe("no_clicks");
    // Clicks on shared items are no vote.
    expect(interleavingWinner(["shared", "A", "B"], [1])).toBe("tie");
    expect(interleavingWinner(["shared", "A", "B"], [1, 3])).toBe("B");
  });
});
