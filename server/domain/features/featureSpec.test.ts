import { describe, expect, it } from "vitest";
import { alignToDataset, buildFeatureMatrix, unstoredFeatureWarnings, type FeatureSpec } from "./featureSpec";

const spec: FeatureSpec = [
  { name: "retrieval_score", source: "candidate", type: "float", default: 0 },
  { name: "popularity", source: "item", type: "float", default: 0.1, freshnessSeconds: 3600 },
  { name: "affinity", source: "user", type: "float", default: -1 },
];
const now = Date.UTC(2026, 10, 25, 12);

describe("buildFeatureMatrix", () => {
  it("reads candidate, item and user features in spec order", () => {
    const m = buildFeatureMatrix(spec, [{ id: "a", retrievalScore: 2.5 }], {
      item: (id) => (id === "a" ? { values: { popularity: 0.8 }, updatedAt: now - 60_000 } : undefined),
      user: { values: { affinity: 0.3 }, updatedAt: now },
    }, now);
    expect(Array.from(m.data)).toEqual([2.5, Math.fround(0.8), Math.fround(0.3)]);
    expect(m).toMatchObject({ rows: 1, cols: 3, defaulted: 0, stale: 0, unknownItems: 0, maxAgeSeconds: 60 });
  });

  it("defaults and counts missing, stale, unknown and non-finite values", () => {
    const m = buildFeatureMatrix(spec, [
      { id: "stale" },
      { id: "unknown", retrievalScore: 1 },
      { id: "nan", retrievalScore: 1 },
    ], {
      item: (id) =>
        id === "stale" ? { values: { popularity: 0.9 }, updatedAt: now - 7200_000 }
        : id === "nan" ? { values: { popularity: Number.NaN }, updatedAt: now } : undefined,
      user: undefined,
    }, now);
    expect(Array.from(m.data)).toEqual([0, Math.fround(0.1), -1, 1, Math.fround(0.1), -1, 1, Math.fround(0.1), -1]);
    expect(m.stale).toBe(1);
    expect(m.unknownItems).toBe(1);
    expect(m.defaultedByFeature).toEqual({ retrieval_score: 1, popularity: 3, affinity: 3 });
    expect(m.defaulted).toBe(7);
    expect(m.data.every(Number.isFinite)).toBe(true);
  });

  it("lets an inline candidate feature win over the store", () => {
    const m = buildFeatureMatrix(spec, [{ id: "a", features: { popularity: 0.42 } }], {
      item: () => ({ values: { popularity: 0.8 }, updatedAt: now }),
      user: undefined,
    }, now);
    expect(m.data[1]).toBeCloseTo(0.42, 6);
  });

  it("reads a feature named like an Object property (constructor, toString, __proto__) from the store, not from the prototype", () => {
    const named: FeatureSpec = ["constructor", "toString", "__proto__"].map((name) => ({ name, source: "item" as const, type: "float" as const, default: -1 }));
    const values = JSON.parse('{"constructor": 1, "toString": 2, "__proto__": 3}') as Record<string, number>;
    const m = buildFeatureMatrix(named, [{ id: "a", features: { other: 0 } }, { id: "b", features: { other: 0 } }], {
      item: (id) => (id === "a" ? { values, updatedAt: now } : { values: {}, updatedAt: now }),
      user: undefined,
    }, now);
    expect(Array.from(m.data)).toEqual([1, 2, 3, -1, -1, -1]);
    expect(m.defaulted).toBe(3);
    expect(Object.entries(m.defaultedByFeature)).toEqual([["constructor", 1], ["toString", 1], ["__proto__", 1]]);
    expect(m.maxAgeSeconds).toBe(0);
  });
});

describe("the missing rule (issue 14 point 5: XGBoost and LightGBM treat an absent feature as missing, not 0)", () => {
  const trees: FeatureSpec = spec.map((f) => ({ ...f, missing: "nan" }));

  it('"nan" gives an absent, stale or non-finite value NaN (the split\'s missing branch), counted as before', () => {
    const m = buildFeatureMatrix(trees, [{ id: "a", retrievalScore: Number.POSITIVE_INFINITY }], {
      item: () => ({ values: { popularity: 0.8 }, updatedAt: now - 7_200_000 }),
      user: undefined,
    }, now);
    expect(Array.from(m.data)).toEqual([Number.NaN, Number.NaN, Number.NaN]);
    expect(m).toMatchObject({ defaulted: 3, stale: 1 });
  });

  it('"default" (and no rule, as in older specs) gives the default', () => {
    const m = buildFeatureMatrix(spec.map((f) => ({ ...f, missing: "default" })), [{ id: "a" }], { item: () => undefined, user: undefined }, now);
    expect(Array.from(m.data)).toEqual([0, Math.fround(0.1), -1]);
  });
});

describe("alignToDataset", () => {
  const columns = ["f1", "f2", "f3"];
  const data = Float32Array.from([1, 2, 3, 4, 5, 6]);

  it("matches by name and gives a feature the data set lacks its missing value: a model with more features than the data", () => {
    const model: FeatureSpec = ["f3", "f1", "f4"].map((name) => ({ name, source: "candidate", type: "float", default: 0, missing: "nan" }));
    const aligned = alignToDataset(model, columns, data, 2)!;
    expect(Array.from(aligned.data)).toEqual([3, 1, Number.NaN, 6, 4, Number.NaN]);
    expect(aligned.absent).toEqual(["f4"]);
    const withDefault = alignToDataset(model.map((f) => ({ ...f, missing: "default" as const, default: 7 })), columns, data, 2)!;
    expect(Array.from(withDefault.data)).toEqual([3, 1, 7, 6, 4, 7]);
  });

  it("is null when no feature is a column of the data set", () => {
    expect(alignToDataset([{ name: "price", source: "candidate", type: "float", default: 0 }], columns, data, 2)).toBeNull();
  });
});

// An upload's spec against the feature names its stores carry (server/registry/upload.ts samples them).

const uploadSpec: FeatureSpec = [
  { name: "retrieval_score", source: "candidate", type: "float", default: 0 },
  { name: "ctr_7d", source: "item", type: "float", default: 0.01 },
  { name: "price", source: "item", type: "float", default: 0, missing: "nan" },
  { name: "affinity", source: "user", type: "float", default: 0 },
];

describe("unstoredFeatureWarnings", () => {
  it("names each stored feature no sampled row carries, by index, with what it is served as; candidate features are the request's", () => {
    const warnings = unstoredFeatureWarnings(uploadSpec, { item: { keys: new Set(["ctr7d", "price"]), sampled: 3000 }, user: { keys: new Set(["affinity"]), sampled: 12 } });
    expect(warnings).toEqual(['featureSpec[1]: no item in the feature store carries "ctr_7d" (3,000 sampled): it is served as its default (0.01) until they do']);
    const nan = unstoredFeatureWarnings(uploadSpec, { item: { keys: new Set(["ctr_7d"]), sampled: 5 }, user: { keys: new Set(), sampled: 5 } });
    expect(nan).toEqual([
      'featureSpec[2]: no item in the feature store carries "price" (5 sampled): it is served as its missing value (NaN) until they do',
      'featureSpec[3]: no user in the feature store carries "affinity" (5 sampled): it is served as its default (0) until they do',
    ]);
  });

  it("warns of a candidate feature only where the miss is knowable: a look-alike of retrieval_score, or a name a store carries (break test: a misspelt candidate feature got no warning)", () => {
    const spec: FeatureSpec = [
      { name: "retrievalScore", source: "candidate", type: "float", default: 0 },
      { name: "ctr_7d", source: "candidate", type: "float", default: 0.01, missing: "nan" },
      { name: "price_delta", source: "candidate", type: "float", default: 0 },
      { name: "Retrieval-Score", source: "candidate", type: "float", default: 0.5 },
      { name: "affinity", source: "candidate", type: "float", default: 0 },
    ];
    expect(unstoredFeatureWarnings(spec, { item: { keys: new Set(["ctr_7d"]), sampled: 10 }, user: { keys: new Set(["affinity"]), sampled: 10 } })).toEqual([
      'featureSpec[0]: a candidate\'s retrievalScore fills "retrieval_score", not "retrievalScore": it is served as its default (0) unless each candidate sends an inline feature "retrievalScore"',
      'featureSpec[1]: "ctr_7d" is a candidate feature, read only from each request\'s inline features, but the item store carries it: it is served as its missing value (NaN) unless each candidate sends it inline (source "item" reads the store)',
      // price_delta: any name may come inline with each candidate; nothing says it will not.
      'featureSpec[3]: a candidate\'s retrievalScore fills "retrieval_score", not "Retrieval-Score": it is served as its default (0.5) unless each candidate sends an inline feature "Retrieval-Score"',
      'featureSpec[4]: "affinity" is a candidate feature, read only from each request\'s inline features, but the user store carries it: it is served as its default (0) unless each candidate sends it inline (source "user" reads the store)',
    ]);
  });

  it("says nothing of an empty store (a first install fills it later)", () => {
    expect(unstoredFeatureWarnings(uploadSpec, { item: { keys: new Set(), sampled: 0 }, user: { keys: new Set(), sampled: 0 } })).toEqual([]);
  });
});
