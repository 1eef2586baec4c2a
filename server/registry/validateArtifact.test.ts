import { describe, expect, it } from "vitest";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { encodeModel, floatTensor, int64Tensor } from "../domain/onnx/proto";
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
});
