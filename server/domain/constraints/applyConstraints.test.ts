import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyConstraints, type ConstraintConfig, type RankedCandidate } from "./applyConstraints";

type Attrs = RankedCandidate["attrs"];
const item = (id: string, score: number, attrs: Attrs = {}): RankedCandidate => ({ id, score, attrs });
/** Best-first list with descending pseudo-scores, one category per entry ("" = no category). */
const byCategory = (...entries: Array<[string, string]>): RankedCandidate[] =>
  entries.map(([id, category], i) => item(id, 100 - i, category ? { category } : {}));
const ids = (config: ConstraintConfig, ranked: RankedCandidate[], topK = 100) => applyConstraints(ranked, config, topK).items.map((c) => c.id);
const reasonsOf = (out: ReturnType<typeof applyConstraints>, id: string) => out.items.find((c) => c.id === id)?.reasons;

describe("blocking", () => {
  it("never serves the highest-scored blocked item, also when pinned", () => {
    const ranked = [item("top", 9, { safetyFlags: ["nsfw"] }), item("b", 5), item("listed", 4), item("c", 3)];
    const out = applyConstraints(ranked, { blockedFlags: ["nsfw"], blockedIds: ["listed"], pins: [{ id: "top", position: 1 }, { id: "listed", position: 2 }] }, 10);
    expect(out.items.map((c) => c.id)).toEqual(["b", "c"]);
    expect(out.removed).toEqual([
      { id: "top", reason: "blocked:flag=nsfw" },
      { id: "listed", reason: "blocked:id" },
    ]);
  });

  it("serves the first copy of a repeated id once", () => {
    expect(ids({}, [item("a", 3), item("b", 2), item("a", 1)])).toEqual(["a", "b"]);
  });
});

describe("boosts", () => {
  it("scales the height above the floor (min − spread/n), then adds; re-sorts and keeps incoming order on ties", () => {
    // Scores 10, 8, 6, 4: spread 6, n 4, floor 4 − 1.5 = 2.5.
    const ranked = [item("a", 10, { brand: "x" }), item("b", 8, { category: "news" }), item("c", 6), item("d", 4, { category: "news" })];
    const out = applyConstraints(ranked, { boosts: [{ field: "category", value: "news", multiplier: 2 }, { field: "id", value: "c", add: 7.5 }] }, 10);
    expect(out.items).toEqual([
      { id: "b", score: 13.5, reasons: ["boosted:category=news"] }, // 2.5 + 5.5 × 2
      { id: "c", score: 13.5, reasons: ["boosted:id=c"] }, // 6 + 7.5, tied: incoming order
      { id: "a", score: 10, reasons: [] },
      { id: "d", score: 5.5, reasons: ["boosted:category=news"] }, // 2.5 + 1.5 × 2
    ]);
  });

  it("scores [−0.105, −0.693, −1.204] and ×3 on the second: it moves up to first (issue 14 point 7)", () => {
    const ranked = [item("first", -0.105), item("second", -0.693), item("third", -1.204)];
    const out = applyConstraints(ranked, { boosts: [{ field: "id", value: "second", multiplier: 3 }] }, 10);
    expect(out.items.map((c) => c.id)).toEqual(["second", "first", "third"]);
    // floor = −1.204 − 1.099/3; −0.693 rises to floor + 3 × (−0.693 − floor).
    const floor = -1.204 - 1.099 / 3;
    expect(out.items[0]!.score).toBeCloseTo(floor + 3 * (-0.693 - floor), 12);
  });

  it("#14 break test: scores at ±1.7e308 boost without overflowing to NaN: the boosted item moves up, an overflow saturates at the largest double", () => {
    const ranked = [item("top", 1.7e308), item("mid", 0), item("low", -1.7e308)];
    const up = applyConstraints(ranked, { boosts: [{ field: "id", value: "mid", multiplier: 3 }] }, 10).items;
    expect(up.map((c) => c.id)).toEqual(["mid", "top", "low"]);
    expect(up.every((c) => Number.isFinite(c.score))).toBe(true);
    // floor = −1.7e308 − 3.4e308/3 ≈ −2.83e308 (computed scaled); mid rises to −2 × floor ≈ 5.7e308, past the doubles: saturated.
    expect(up[0]).toMatchObject({ id: "mid", score: Number.MAX_VALUE });
    // A smaller boost stays exact in the model's units: ×1.1 → floor + 1.1 × (0 − floor) = −0.1 × floor.
    const [small] = applyConstraints(ranked, { boosts: [{ field: "id", value: "mid", multiplier: 1.1 }] }, 10).items.filter((c) => c.id === "mid");
    expect(small!.score / 2.8333333333333333e307).toBeCloseTo(1, 12);
    // The top item boosted past the doubles' range saturates at Number.MAX_VALUE; an add as large too; a ×0.5 still moves it down only.
    const [first] = applyConstraints(ranked, { boosts: [{ field: "id", value: "top", multiplier: 1e6 }] }, 10).items;
    expect(first).toMatchObject({ id: "top", score: Number.MAX_VALUE });
    const added = applyConstraints(ranked, { boosts: [{ field: "id", value: "low", add: 1e6 }] }, 10).items;
    expect(added.map((c) => [c.id, Number.isNaN(c.score)])).toEqual([["top", false], ["mid", false], ["low", false]]);
    // ×0.5 halves top's height above the floor (4.53e308 → 2.27e308): −5.7e307, below mid, above low.
    const down = applyConstraints(ranked, { boosts: [{ field: "id", value: "top", multiplier: 0.5 }] }, 10).items;
    expect(down.map((c) => c.id)).toEqual(["mid", "top", "low"]);
    expect(down[1]!.score / -5.666666666666667e307).toBeCloseTo(1, 12);
  });

  it("moves the lowest item too, and equal scores", () => {
    // floor −3 − 2/3: c rises from 2/3 to 2 above it, to −1.667.
    expect(ids({ boosts: [{ field: "id", value: "c", multiplier: 3 }] }, [item("a", -1), item("b", -2), item("c", -3)])).toEqual(["a", "c", "b"]);
    expect(ids({ boosts: [{ field: "id", value: "c", multiplier: 1.01 }] }, [item("a", 0), item("b", 0), item("c", 0)])).toEqual(["c", "a", "b"]);
  });

  it("for any scores: a multiplier above 1 never moves the item down, below 1 never up, and a·s + b (a > 0) boosts alike", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 30 }),
        fc.nat(),
        fc.double({ min: 0.05, max: 20, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        (raw, pick, multiplier, a, b) => {
          const scores = [...raw].sort((x, y) => y - x);
          const target = `i${pick % scores.length}`;
          const ranked = scores.map((s, i) => item(`i${i}`, s));
          const config = { boosts: [{ field: "id" as const, value: target, multiplier }] };
          const before = ranked.findIndex((c) => c.id === target);
          const order = ids(config, ranked);
          const after = order.indexOf(target);
          if (multiplier > 1) expect(after).toBeLessThanOrEqual(before);
          if (multiplier < 1) expect(after).toBeGreaterThanOrEqual(before);
          const shifted = ids(config, scores.map((s, i) => item(`i${i}`, a * s + b)));
          // Rounding may tie near-equal scores differently; the boosted item's place is what must hold.
          expect(Math.abs(shifted.indexOf(target) - after)).toBeLessThanOrEqual(scores.filter((s) => Math.abs(s - scores[before]!) < 1e-6 * (1 + Math.abs(s))).length);
        },
      ),
    );
  });
});

describe("diversity (MMR)", () => {
  const grouped = byCategory(["a1", "A"], ["a2", "A"], ["a3", "A"], ["b1", "B"], ["b2", "B"], ["b3", "B"]);

  it("lambda=1 is pure relevance and leaves the order untouched", () => {
    const out = applyConstraints(grouped, { diversity: { lambda: 1, field: "category" } }, 6);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "a2", "a3", "b1", "b2", "b3"]);
    expect(out.items.every((c) => c.reasons.length === 0)).toBe(true);
  });

  it("lambda=0 alternates categories and marks who moved", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["b1", "B"], ["b2", "B"]);
    const out = applyConstraints(ranked, { diversity: { lambda: 0, field: "category" } }, 4);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "b1", "a2", "b2"]);
    expect(reasonsOf(out, "b1")).toEqual(["diversity:moved_up"]);
    expect(reasonsOf(out, "a2")).toEqual(["diversity:moved_down"]);
    expect(reasonsOf(out, "a1")).toEqual([]);
  });

  it("binary max-similarity only spreads the first item of each category (documented limit)", () => {
    expect(ids({ diversity: { lambda: 0, field: "category" } }, grouped)).toEqual(["a1", "b1", "a2", "a3", "b2", "b3"]);
  });

  it("#14 break test: normalises scores at ±1.7e308 (and infinite ones) without overflow: lambda=1 keeps the order, lambda=0.5 still spreads", () => {
    const ranked = [item("a1", 1.7e308, { category: "A" }), item("a2", 1e308, { category: "A" }), item("b1", -1.7e308, { category: "B" }), item("b2", -Infinity, { category: "B" })];
    expect(ids({ diversity: { lambda: 1, field: "category" } }, ranked)).toEqual(["a1", "a2", "b1", "b2"]);
    // a2 normalises to 0.79 (not NaN): 0.5 × 0.79 − 0.5 < 0.5 × 0 for b1, so b1 moves up.
    expect(ids({ diversity: { lambda: 0.5, field: "category" } }, ranked)).toEqual(["a1", "b1", "a2", "b2"]);
  });

  it("fills only the window, pulls from below it, keeps the rest in order; missing values are never similar", () => {
    const ranked = byCategory(["a1", "A"], ["n1", ""], ["n2", ""], ["a2", "A"], ["b1", "B"], ["a3", "A"]);
    expect(ids({ diversity: { lambda: 0, field: "category", withinTop: 4 } }, ranked)).toEqual(["a1", "n1", "n2", "b1", "a2", "a3"]);
  });
});

describe("category cap", () => {
  it("holds in the top window when feasible and demotes deferred items right after it", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["a3", "A"], ["b1", "B"], ["b2", "B"], ["c1", "C"]);
    const out = applyConstraints(ranked, { maxPerCategory: { limit: 1, withinTop: 3 } }, 6);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "b1", "c1", "a2", "a3", "b2"]);
    expect(out.capsFeasible).toBe(true);
    expect(reasonsOf(out, "a2")).toEqual(["demoted:category_cap"]);
    expect(reasonsOf(out, "c1")).toEqual([]);
  });

  it("never caps items without a category", () => {
    const ranked = byCategory(["a1", "A"], ["x", ""], ["y", ""], ["a2", "A"]);
    const out = applyConstraints(ranked, { maxPerCategory: { limit: 1, withinTop: 3 } }, 4);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "x", "y", "a2"]);
    expect(out.capsFeasible).toBe(true);
  });

  it("fills the window from deferred items and reports capsFeasible=false when there is nothing else", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["a3", "A"], ["b1", "B"]);
    const out = applyConstraints(ranked, { maxPerCategory: { limit: 1, withinTop: 3 } }, 4);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "b1", "a2", "a3"]);
    expect(out.capsFeasible).toBe(false);
    expect(applyConstraints(ranked, {}, 4).capsFeasible).toBe(true);
  });
});

describe("exposure floors", () => {
  it("promotes the best group items into the window when feasible", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["a3", "A"], ["a4", "A"], ["b1", "B"], ["b2", "B"]);
    const out = applyConstraints(ranked, { exposureFloors: [{ field: "category", group: "B", minShare: 0.5, withinTop: 4 }] }, 6);
    // Each promotion takes the lowest-ranked non-group slot; the victim lands right after the window.
    expect(out.items.map((c) => c.id)).toEqual(["a1", "a2", "b2", "b1", "a3", "a4"]);
    expect(out.floors).toEqual([{ field: "category", group: "B", required: 2, achieved: 2, feasible: true }]);
    expect(reasonsOf(out, "b1")).toEqual(["promoted:exposure_floor(category=B)"]);
    expect(reasonsOf(out, "a4")).toEqual(["demoted:exposure_floor"]);
  });

  it("does as much as possible and reports infeasible with the achieved count", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["a3", "A"], ["a4", "A"], ["b1", "B"]);
    const out = applyConstraints(ranked, { exposureFloors: [{ field: "category", group: "B", minShare: 0.75, withinTop: 4 }] }, 5);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "a2", "a3", "b1", "a4"]);
    expect(out.floors).toEqual([{ field: "category", group: "B", required: 3, achieved: 1, feasible: false }]);
  });

  it("does not let float error inflate the requirement (0.28 of 25 is 7)", () => {
    // 0.28 * 25 evaluates to 7.000000000000001 in floating point.
    const ranked = Array.from({ length: 30 }, (_, i) => item(`i${i}`, 30 - i, { brand: i >= 23 ? "x" : "y" }));
    const out = applyConstraints(ranked, { exposureFloors: [{ field: "brand", group: "x", minShare: 0.28, withinTop: 25 }] }, 30);
    expect(out.floors[0]).toMatchObject({ required: 7, achieved: 7, feasible: true });
  });

  it("prefers a victim whose removal keeps the category cap", () => {
    const ranked = [item("a1", 9, { category: "A" }), item("a2", 8, { category: "A" }), item("c1", 7, { category: "C" }), item("b1", 6, { category: "A", brand: "x" })];
    const config: ConstraintConfig = { maxPerCategory: { limit: 2, withinTop: 3 }, exposureFloors: [{ field: "brand", group: "x", minShare: 0.3, withinTop: 3 }] };
    // The default victim c1 would put three A items on top; taking a2's slot keeps the cap.
    const out = applyConstraints(ranked, config, 4);
    expect(out.items.map((c) => c.id)).toEqual(["a1", "b1", "c1", "a2"]);
    expect(out.capsFeasible).toBe(true);
  });
});

describe("pins and cut", () => {
  it("lands pins at their 1-based position, clamps past the end, and resolves shared positions in config order", () => {
    const ranked = byCategory(["a", ""], ["b", ""], ["c", ""], ["d", ""], ["e", ""]);
    const out = applyConstraints(ranked, { pins: [{ id: "e", position: 1 }, { id: "a", position: 9 }, { id: "c", position: 2 }, { id: "d", position: 2 }, { id: "gone", position: 1 }] }, 5);
    expect(out.items.map((c) => c.id)).toEqual(["e", "c", "d", "b", "a"]);
    expect(reasonsOf(out, "a")).toEqual(["pinned:9"]);
    expect(reasonsOf(out, "d")).toEqual(["pinned:2"]);
  });

  it("wins over cap and floors and cuts to topK", () => {
    const ranked = byCategory(["a1", "A"], ["a2", "A"], ["b1", "B"], ["a3", "A"]);
    const config: ConstraintConfig = { maxPerCategory: { limit: 1, withinTop: 2 }, pins: [{ id: "a3", position: 1 }] };
    expect(ids(config, ranked, 2)).toEqual(["a3", "a1"]);
    expect(() => applyConstraints(ranked, {}, 0)).toThrow(RangeError);
  });
});

// ---- properties ----

const CATEGORIES = ["news", "sport", "music"] as const;
const FLAGS = ["nsfw", "spam", "recall"] as const;
const GROUP_FIELDS = ["category", "providerGroup", "brand"] as const;
const GROUP_VALUES = [...CATEGORIES, "p1", "p2", "x", "y"] as const;
// Field and group drawn together, so floors name groups that exist and actually promote.
const fieldGroupArb = fc.oneof(
  fc.record({ field: fc.constant("category" as const), group: fc.constantFrom(...CATEGORIES) }),
  fc.record({ field: fc.constant("providerGroup" as const), group: fc.constantFrom("p1", "p2") }),
  fc.record({ field: fc.constant("brand" as const), group: fc.constantFrom("x", "y") }),
);

const candidatesArb = fc
  .uniqueArray(
    fc.record({
      id: fc.string({ minLength: 1, maxLength: 5 }),
      score: fc.integer({ min: 0, max: 20 }), // small range, so ties are common
      category: fc.option(fc.constantFrom(...CATEGORIES), { nil: undefined }),
      providerGroup: fc.option(fc.constantFrom("p1", "p2"), { nil: undefined }),
      brand: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
      safetyFlags: fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, { arbitrary: fc.subarray([...FLAGS]), weight: 1 }),
    }),
    { selector: (r) => r.id, minLength: 4, maxLength: 25 },
  )
  .map((rows) => [...rows].sort((a, b) => b.score - a.score).map(({ id, score, ...attrs }): RankedCandidate => ({ id, score, attrs })));

const configArb = (idPool: string[]) => {
  const id = idPool.length > 0 ? fc.oneof(fc.constantFrom(...idPool), fc.string({ maxLength: 3 })) : fc.string({ maxLength: 3 });
  const window = fc.integer({ min: 0, max: 8 });
  // Percent steps, not fc.double: doubles lean towards 1e-300-style values that make every floor trivial.
  const share = fc.integer({ min: 0, max: 100 }).map((p) => p / 100);
  return fc.record(
    {
      blockedFlags: fc.subarray([...FLAGS]),
      blockedIds: fc.array(id, { maxLength: 3 }),
      pins: fc.array(fc.record({ id, position: fc.integer({ min: 1, max: 30 }) }), { maxLength: 3 }),
      boosts: fc.array(
        fc.record({
          field: fc.constantFrom("id" as const, ...GROUP_FIELDS),
          value: fc.oneof(fc.constantFrom(...GROUP_VALUES), id),
          multiplier: fc.option(fc.double({ min: 0, max: 3, noNaN: true }), { nil: undefined }),
          add: fc.option(fc.double({ min: -5, max: 5, noNaN: true }), { nil: undefined }),
        }),
        { maxLength: 2 },
      ),
      maxPerCategory: fc.record({ limit: fc.integer({ min: 0, max: 3 }), withinTop: window }),
      diversity: fc.record({ lambda: share, field: fc.constantFrom(...GROUP_FIELDS), withinTop: fc.option(window, { nil: undefined }) }),
      exposureFloors: fc.array(
        fc.tuple(fieldGroupArb, share, window).map(([fg, minShare, withinTop]) => ({ ...fg, minShare, withinTop })),
        { minLength: 1, maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  );
};

const scenarioArb = candidatesArb.chain((ranked) =>
  fc.tuple(fc.constant(ranked), configArb(ranked.map((c) => c.id)), fc.integer({ min: 1, max: 15 })),
);

const isBlocked = (c: RankedCandidate, config: ConstraintConfig) =>
  (config.blockedIds ?? []).includes(c.id) || (c.attrs.safetyFlags ?? []).some((f) => (config.blockedFlags ?? []).includes(f));

describe("properties", () => {
  it("serves a duplicate-free subset of the unblocked input of length min(topK, unblocked)", () => {
    fc.assert(
      fc.property(scenarioArb, ([ranked, config, topK]) => {
        const out = applyConstraints(ranked, config, topK);
        const served = out.items.map((c) => c.id);
        const allowed = new Set(ranked.filter((c) => !isBlocked(c, config)).map((c) => c.id));
        expect(new Set(served).size).toBe(served.length);
        expect(served.every((id) => allowed.has(id))).toBe(true);
        expect(served.length).toBe(Math.min(topK, allowed.size));
        expect(out.removed.map((r) => r.id).sort()).toEqual(ranked.filter((c) => isBlocked(c, config)).map((c) => c.id).sort());
      }),
    );
  });

  it("holds the category cap in the window whenever it reports feasible (no pins, no floors)", () => {
    fc.assert(
      fc.property(scenarioArb, ([ranked, config, topK]) => {
        const out = applyConstraints(ranked, { ...config, pins: undefined, exposureFloors: undefined }, topK);
        const cap = config.maxPerCategory;
        if (!cap || !out.capsFeasible) return;
        const counts = new Map<string, number>();
        for (const served of out.items.slice(0, cap.withinTop)) {
          const category = ranked.find((c) => c.id === served.id)?.attrs.category;
          if (category !== undefined) counts.set(category, (counts.get(category) ?? 0) + 1);
        }
        expect(Math.max(0, ...counts.values())).toBeLessThanOrEqual(cap.limit);
      }),
    );
  });

  it("reports each floor's achieved count as it is in the window, and meets a single floor whenever possible (no pins)", () => {
    fc.assert(
      fc.property(scenarioArb, ([ranked, config, topK]) => {
        const out = applyConstraints(ranked, { ...config, pins: undefined }, topK);
        const floors = config.exposureFloors ?? [];
        const unblocked = ranked.filter((c) => !isBlocked(c, config));
        floors.forEach((floor, i) => {
          const report = out.floors[i]!;
          const inGroup = (id: string) => ranked.find((c) => c.id === id)?.attrs[floor.field] === floor.group;
          const size = Math.min(floor.withinTop, unblocked.length);
          expect(report.feasible).toBe(report.achieved >= report.required);
          if (size <= out.items.length) expect(report.achieved).toBe(out.items.slice(0, size).filter((c) => inGroup(c.id)).length);
          if (floors.length === 1) expect(report.feasible).toBe(unblocked.filter((c) => inGroup(c.id)).length >= report.required);
        });
      }),
    );
  });

  it("changes nothing without a config", () => {
    fc.assert(
      fc.property(candidatesArb, fc.integer({ min: 1, max: 30 }), (ranked, topK) => {
        expect(applyConstraints(ranked, {}, topK).items).toEqual(ranked.slice(0, topK).map(({ id, score }) => ({ id, score, reasons: [] })));
      }),
    );
  });
});
