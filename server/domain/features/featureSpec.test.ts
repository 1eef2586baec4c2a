import { describe, expect, it } from "vitest";
import { buildFeatureMatrix, type FeatureSpec } from "./featureSpec";

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
});
