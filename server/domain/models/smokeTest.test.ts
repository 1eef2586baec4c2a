import { describe, expect, it } from "vitest";
import type { FeatureSpec } from "../features/featureSpec";
import { describeRow, positionDependence, storeSampleRows } from "./smokeTest";

const spec: FeatureSpec = [
  { name: "retrieval_score", source: "candidate", type: "float", default: 0 },
  { name: "popularity", source: "item", type: "float", default: 0.4, freshnessSeconds: 60 },
  { name: "ctr", source: "item", type: "float", default: 0.05, missing: "nan" },
  { name: "age", source: "user", type: "float", default: 30 },
];

describe("storeSampleRows", () => {
  it("builds the model's rows from stored values as serving does: candidate features absent, old values kept, users cycled", () => {
    const sample = storeSampleRows(spec, [{ id: "a", values: { popularity: 0.9, ctr: 0.1 } }, { id: "b", values: { popularity: "x" } }, { id: "c", values: {} }], [{ values: { age: 41 } }, { values: {} }]);
    expect(sample.ids).toEqual(["a", "b", "c"]);
    // Stored long ago (updatedAt 0) but not stale: these are real values a request may be scored on.
    expect(Array.from(sample.data)).toEqual([0, Math.fround(0.9), Math.fround(0.1), 41, 0, Math.fround(0.4), Number.NaN, 30, 0, Math.fround(0.4), Number.NaN, 41]);
    expect(Array.from(storeSampleRows(spec, [{ id: "a", values: {} }], []).data)).toEqual([0, Math.fround(0.4), Number.NaN, 30]);
  });
});

describe("positionDependence", () => {
  it("is null when each row scores the same wherever it sits, within float32 summation noise", () => {
    expect(positionDependence([1, 2, 3], [{ rows: [0], scores: [1] }, { rows: [2, 1, 0], scores: [3 * (1 + 1e-7), 2, 1] }])).toBeNull();
  });

  it("names the first row whose score moved: a reversed output, and a position added to each score", () => {
    expect(positionDependence([3, 1], [{ rows: [0], scores: [1] }])).toEqual({ row: 0, referenceScore: 3, referenceSize: 2, position: 0, batchSize: 1, score: 1 });
    expect(positionDependence([5, 6], [{ rows: [0, 1, 0], scores: [5, 7, 7] }])).toMatchObject({ row: 1, position: 1, score: 7 });
    // Tolerance is relative to the largest reference score: a move of 1e-4 on scores of ~1 counts.
    expect(positionDependence([0.0001, 1], [{ rows: [1, 0], scores: [1, 0.0002] }])).toMatchObject({ row: 0, position: 1 });
  });
});

describe("describeRow", () => {
  it("prints each feature as the model got it, absent values as NaN, at most `limit`", () => {
    const data = Float32Array.from([0, 0.7, Number.NaN, 41]);
    expect(describeRow(spec, data, 0)).toBe("retrieval_score=0, popularity=0.7, ctr=NaN, age=41");
    expect(describeRow(spec, data, 0, 2)).toBe("retrieval_score=0, popularity=0.7, … (2 more)");
  });
});
