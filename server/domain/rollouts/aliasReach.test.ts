import { describe, expect, it } from "vitest";
import { aliasRolesOf, describeReach, type SurfaceUse } from "./aliasReach";

const target = { modelId: "m1", modelName: "ranker", alias: "production" };
const surface = (over: Partial<SurfaceUse>): SurfaceUse => ({
  key: "search", modelId: "m1", modelAlias: "production", fallbackAlias: null, shadowAlias: null, stage2: null, experimentVariant: false, ...over,
});

describe("aliasRolesOf", () => {
  it("names each role a surface gives an alias of its own model, in a fixed order", () => {
    expect(aliasRolesOf(surface({}), target)).toEqual(["serving"]);
    expect(aliasRolesOf(surface({ modelAlias: "stable", fallbackAlias: "production", shadowAlias: "production", experimentVariant: true }), target)).toEqual(["fallback", "experiment", "shadow"]);
    expect(aliasRolesOf(surface({ modelAlias: "stable" }), { ...target, alias: "canary@search" })).toEqual(["canary"]);
    // Another surface's canary alias is not this one's.
    expect(aliasRolesOf(surface({ key: "feed", modelAlias: "stable" }), { ...target, alias: "canary@search" })).toEqual([]);
  });

  it("finds stage 2 by model name and alias, on a surface of any model; other models' aliases of the same name are not its", () => {
    const cascade = surface({ key: "cascade", modelId: "m2", modelAlias: "production", stage2: { model: "ranker", alias: "production", rerankCount: 20, budgetMs: 50 } });
    expect(aliasRolesOf(cascade, target)).toEqual(["stage2"]);
    // m2's own production is not m1's, though the names match.
    expect(aliasRolesOf(surface({ modelId: "m2" }), target)).toEqual([]);
    expect(aliasRolesOf(surface({ modelId: "m2", stage2: { model: "ranker", alias: "shadow" } }), target)).toEqual([]);
    expect(aliasRolesOf(surface({ modelId: "m2", stage2: "not an object" }), target)).toEqual([]);
    expect(aliasRolesOf(surface({ modelId: null }), target)).toEqual([]);
  });
});

describe("describeReach", () => {
  it("lists keys, naming every role but plain serving", () => {
    expect(describeReach([{ key: "home-feed", roles: ["serving"] }, { key: "product-search", roles: ["stage2"] }, { key: "qa", roles: ["fallback", "shadow"] }])).toBe(
      "home-feed, product-search (stage 2), qa (fallback, shadow)",
    );
    expect(describeReach([])).toBe("");
  });
});
