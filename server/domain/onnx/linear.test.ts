import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { linearRankerOnnx } from "./linear";

describe("linearRankerOnnx", () => {
  it("writes a model that onnxruntime loads and that computes X·w + b", async () => {
    const bytes = linearRankerOnnx([0.5, -2, 3], 0.25, { metadata: { purpose: "test" } });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(["features"]);
    expect(session.outputNames).toEqual(["score"]);
    const x = new Float32Array([1, 2, 3, 0, 0, 0, -1, 0.5, 2]);
    const out = await session.run({ features: new ort.Tensor("float32", x, [3, 3]) });
    const score = out.score!;
    expect(score.dims).toEqual([3, 1]);
    const expected = [0.5 - 4 + 9 + 0.25, 0.25, -0.5 - 1 + 6 + 0.25];
    Array.from(score.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    await session.release();
  });

  it("is byte-for-byte deterministic", () => {
    expect(Buffer.from(linearRankerOnnx([1, 2], 3)).equals(Buffer.from(linearRankerOnnx([1, 2], 3)))).toBe(true);
  });
});
