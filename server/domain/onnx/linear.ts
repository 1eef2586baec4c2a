import { encodeModel, floatTensor } from "./proto";

/** A linear ranker as ONNX: score = X · w + b, X of shape [N, F], score of shape [N, 1] (opset 17). */
export function linearRankerOnnx(weights: number[], bias: number, options: { inputName?: string; outputName?: string; metadata?: Record<string, string> } = {}): Uint8Array {
  const input = options.inputName ?? "features";
  const output = options.outputName ?? "score";
  const f = weights.length;
  return encodeModel({
    graphName: "linear_ranker",
    opsets: [{ domain: "", version: 17 }],
    inputs: [{ name: input, shape: ["N", f] }],
    outputs: [{ name: output, shape: ["N", 1] }],
    initializers: [floatTensor("W", [f, 1], weights), floatTensor("B", [1], [bias])],
    nodes: [
      { opType: "MatMul", inputs: [input, "W"], outputs: ["xw"] },
      { opType: "Add", inputs: ["xw", "B"], outputs: [output] },
    ],
    metadata: options.metadata,
  });
}
