import { describe, expect, it } from "vitest";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { encodeModel, floatTensor, int64Tensor } from "../domain/onnx/proto";
import { storeSampleRows } from "../domain/models/smokeTest";
import { reversedRowsOnnx, sqrtOfGapOnnx } from "../testing/models";
import { validateArtifact } from "./validateArtifact";

// The upload's checks on a real onnxruntime session (session 21 break test of the registry).

const spec = demoFeatureSpec();
const MAX = 50 * 1048576;

/** Declares features [N, width] → score [N, 1] but returns a constant of `rows` rows, whatever N is. */
function fixedRowsOnnx(width: number, rows: number): Uint8Array {
  return encodeModel({
    graphName: "fixed_rows",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: "features", shape: ["N", width] }],
    outputs: [{ name: "score", shape: ["N", 1] }],
    initializers: [floatTensor("C", [rows, 1], Array.from({ length: rows }, (_, i) => i))],
    nodes: [{ opType: "Identity", inputs: ["C"], outputs: ["score"] }],
  });
}

describe("validateArtifact", () => {
  it("refuses a model whose output has as many rows as the sample, not as the batch (it failed every request of another size)", async () => {
    // Two sample rows (the spec has no missing-as-NaN feature): a constant of two rows passed the old single check.
    await expect(validateArtifact(fixedRowsOnnx(spec.length, 2), spec, MAX)).rejects.toMatchObject({
      field: "file", message: expect.stringMatching(/^file: the smoke inference on 1 sample row failed: /),
    });
    await expect(validateArtifact(fixedRowsOnnx(spec.length, 1), spec, MAX)).rejects.toMatchObject({ field: "file" });
  });

  it("refuses a model that scores at most the first rows of a batch (a slice of 7 rows: 1, 2 and 7 pass)", async () => {
    const capped = encodeModel({
      graphName: "capped_rows",
      opsets: [{ domain: "", version: 17 }],
      inputs: [{ name: "features", shape: ["N", spec.length] }],
      outputs: [{ name: "score", shape: ["N", 1] }],
      initializers: [floatTensor("W", [spec.length, 1], new Array(spec.length).fill(0.1)), int64Tensor("starts", [1], [0]), int64Tensor("ends", [1], [7]), int64Tensor("axes", [1], [0])],
      nodes: [{ opType: "Slice", inputs: ["features", "starts", "ends", "axes"], outputs: ["first"] }, { opType: "MatMul", inputs: ["first", "W"], outputs: ["score"] }],
    });
    await expect(validateArtifact(capped, spec, MAX)).rejects.toMatchObject({ field: "file", message: expect.stringMatching(/^file: the smoke inference on 100 sample rows failed: /) });
  });

  it("accepts a model that scores every batch size", async () => {
    expect(await validateArtifact(demoModelBytes("linear"), spec, MAX)).toMatchObject({ inputName: "features", outputName: "score", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it("refuses a model whose scores come out reversed along the batch, naming the position (break test: accepted, it ranked the worst first)", async () => {
    await expect(validateArtifact(reversedRowsOnnx(spec.length), spec, MAX)).rejects.toMatchObject({
      field: "file", message: expect.stringMatching(/^file: the model's scores depend on the row's position in the batch: sample row 0 scored [-\d.e]+ at position 0 of 2 and [-\d.e]+ at position 0 of 1; /),
    });
  });

  it("refuses a model that is NaN on real rows of the feature store, naming the item and its features (break test: finite at the defaults and means, NaN on half the catalog)", async () => {
    const margin = spec.findIndex((f) => f.name === "margin");
    const model = sqrtOfGapOnnx(spec.length, margin, 0.21);
    // Finite on the smoke rows alone (default 0.2, mean 0.201), as before.
    await expect(validateArtifact(model, spec, MAX)).resolves.toMatchObject({ outputName: "score" });
    const items = [0.1, 0.15, 0.3, 0.2].map((m, i) => ({ id: `sku-${i}`, values: { popularity: 0.5, margin: m } }));
    await expect(validateArtifact(model, spec, MAX, storeSampleRows(spec, items, []))).rejects.toMatchObject({
      field: "file",
      message: 'file: the model scored 1 of 4 rows sampled from the feature store non-finite (NaN), so every request with such an item would fall back: item "sku-2" with retrieval_score=0, popularity=0.5, ctr_7d=0.05, rating=3, price_log=3, freshness_days=180, margin=0.3',
    });
    // Rows it scores finite pass, and are scored in every batch.
    await expect(validateArtifact(model, spec, MAX, storeSampleRows(spec, items.filter((i) => i.values.margin <= 0.21), []))).resolves.toMatchObject({ outputName: "score" });
  });

  it("finds a reversal among store rows even when the smoke rows are all alike", async () => {
    const flat = spec.map((f) => ({ ...f, distribution: undefined }));
    const items = [0.1, 0.5, 0.9].map((p, i) => ({ id: `sku-${i}`, values: { popularity: p } }));
    // Defaults only: two equal rows, which a reversal leaves as they were.
    await expect(validateArtifact(reversedRowsOnnx(spec.length), flat, MAX)).resolves.toMatchObject({ outputName: "score" });
    await expect(validateArtifact(reversedRowsOnnx(spec.length), flat, MAX, storeSampleRows(flat, items, []))).rejects.toMatchObject({ message: expect.stringMatching(/depend on the row's position in the batch/) });
    await expect(validateArtifact(demoModelBytes("linear"), flat, MAX, storeSampleRows(flat, items, []))).resolves.toMatchObject({ outputName: "score" });
  });
});
