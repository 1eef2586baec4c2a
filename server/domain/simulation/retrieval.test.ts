import { describe, expect, it } from "vitest";
import { DEMO_CATEGORIES, demoCatalog } from "../../demo/catalog";
import { createRng } from "../random";
import { buildCatalogIndex, retrieve } from "./retrieval";

const catalog = demoCatalog();
const index = buildCatalogIndex(catalog);

describe("catalog retrieval", () => {
  it("indexes categories and title words, without blocked items", () => {
    expect(index.queries.slice(0, DEMO_CATEGORIES.length)).toEqual([...DEMO_CATEGORIES].sort());
    for (const c of DEMO_CATEGORIES) {
      const matches = index.match(c);
      expect(matches.length).toBeGreaterThan(200);
      expect(matches.every((i) => i.category === c && i.safetyFlags.length === 0)).toBe(true);
      expect(index.queriesFor(c)[0]).toBe(c);
    }
    expect(index.match("Headphones").every((i) => i.title.includes("Headphones"))).toBe(true);
    expect(index.match("no-such-word")).toEqual([]);
    expect(index.queriesFor("electronics")).toContain("headphones");
  });

  it("returns up to 50 candidates in a deterministic noisy order with scores in (0, 1]", () => {
    const a = retrieve(index, "books");
    expect(a).toHaveLength(50);
    expect(retrieve(index, " Books ")).toEqual(a);
    const scores = a.map((c) => c.retrievalScore);
    expect(scores[0]).toBe(1);
    expect(scores.every((s, i) => s > 0 && s <= 1 && (i === 0 || s < scores[i - 1]!))).toBe(true);
    // Not the catalog order: the retrieval score is noise, not the id.
    expect(a.map((c) => c.item.id)).not.toEqual([...a.map((c) => c.item.id)].sort());
    expect(retrieve(index, "headphones").length).toBeLessThanOrEqual(50);
  });

  it("jitters per request only with a random source, reproducibly", () => {
    const one = retrieve(index, "toys", { rng: createRng(1), jitter: 0.2 });
    expect(retrieve(index, "toys", { rng: createRng(1), jitter: 0.2 })).toEqual(one);
    expect(one.map((c) => c.item.id)).not.toEqual(retrieve(index, "toys").map((c) => c.item.id));
  });
});
