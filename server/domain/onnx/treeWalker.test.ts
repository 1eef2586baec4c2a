import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { openSession } from "../../inference/sessions";
import { loadLetorSample } from "../letor/reference";
import { createRng } from "../random";
import { linearRankerOnnx } from "./linear";
import { randomEnsemble } from "./randomEnsemble";
import { treeEnsembleOnnx } from "./treeEnsemble";
import { flattenTreeEnsemble, scoreFlatTrees } from "./treeWalker";

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

async function onnxruntimeScores(bytes: Uint8Array, data: Float32Array, rows: number, cols: number, threads: number): Promise<Float32Array> {
  const session = await openSession(bytes, threads);
  sessions.push(session);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", data, [rows, cols]) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
/** The largest difference relative to the score's size (scores above 1 in magnitude). */
const maxRelDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(v))), 0);

describe("the flattened tree walker", () => {
  it("scores the LambdaMART model in models/letor as onnxruntime does, within 1e-6", async () => {
    const bytes = new Uint8Array(readFileSync("models/letor/lambdamart.onnx"));
    const trees = flattenTreeEnsemble(bytes)!;
    expect(trees.numTrees).toBeGreaterThan(50);
    const { test } = loadLetorSample((path) => readFileSync(path, "utf8"));
    const rows = Math.min(test.rows, 500);
    const data = test.features.slice(0, rows * test.numFeatures);
    // Some missing values too.
    for (let i = 0; i < data.length; i += 37) data[i] = Number.NaN;
    const ours = scoreFlatTrees(trees, data, rows, test.numFeatures);
    // One thread sums the trees in order, as the walker does.
    expect(maxDiff(ours, await onnxruntimeScores(bytes, data, rows, test.numFeatures, 1))).toBeLessThanOrEqual(1e-6);
    // Two threads sum two halves of the trees and add them: float32 rounding differs by an ulp or
    // two (up to 1.2e-6 on scores near 8 here), so that comparison is relative.
    expect(maxRelDiff(ours, await onnxruntimeScores(bytes, data, rows, test.numFeatures, 2))).toBeLessThanOrEqual(1e-6);
  }, 60_000);

  it("agrees with onnxruntime on random 300-tree ensembles of both comparisons", async () => {
    for (const [seed, comparison] of [[1, "<="], [2, "<"], [3, "<="]] as const) {
      const rng = createRng(seed);
      const ensemble = randomEnsemble(rng, { trees: 300, depth: 6, numFeatures: 20, comparison });
      const bytes = treeEnsembleOnnx(ensemble);
      const data = Float32Array.from({ length: 100 * 20 }, () => (rng.next() < 0.03 ? Number.NaN : rng.normal() * 2));
      const ours = scoreFlatTrees(flattenTreeEnsemble(bytes)!, data, 100, 20);
      expect(maxDiff(ours, await onnxruntimeScores(bytes, data, 100, 20, 1))).toBeLessThanOrEqual(1e-6);
    }
  }, 60_000);

  it("declines models it does not walk", () => {
    expect(flattenTreeEnsemble(linearRankerOnnx([1, 2], 0))).toBeNull();
    expect(flattenTreeEnsemble(new Uint8Array([1, 2, 3]))).toBeNull();
  });
});
