import { describe, expect, it } from "vitest";
import { featureVector, readableFloat32 } from "./featureRows";
import type { FeatureSpec } from "./featureSpec";

const spec: FeatureSpec = [
  { name: "retrieval_score", source: "candidate", type: "float", default: 0 },
  { name: "popularity", source: "item", type: "float", default: 0.5, freshnessSeconds: 60 },
  { name: "affinity", source: "user", type: "float", default: -1 },
];

describe("featureVector", () => {
  it("gives the values the model saw and names the defaulted ones", () => {
    const now = 1_000_000;
    const v = featureVector(spec, { id: "a", retrievalScore: 0.7 }, { item: () => ({ values: { popularity: 0.3 }, updatedAt: now - 120_000 }), user: undefined }, now);
    // popularity is 120 s old against a 60 s limit: stale, so defaulted; no user: defaulted.
    expect(v).toEqual({ values: [0.7, 0.5, -1], defaulted: ["popularity", "affinity"] });
  });

  it("prefers inline candidate features, as serving does", () => {
    const v = featureVector(spec, { id: "a", features: { popularity: 0.9, retrieval_score: 0.1 } }, { item: () => undefined, user: { values: { affinity: 2 }, updatedAt: 0 } }, 0);
    expect(v).toEqual({ values: [0.1, 0.9, 2], defaulted: [] });
  });
});

describe("readableFloat32", () => {
  it("prints float32 values without float noise and non-finite ones as null", () => {
    expect(readableFloat32(Math.fround(0.7))).toBe(0.7);
    expect(readableFloat32(Math.fround(1234.5678))).toBe(1234.568);
    expect(readableFloat32(Number.NaN)).toBeNull();
  });
});
