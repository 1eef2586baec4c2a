import fc from "fast-check";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { openSession } from "../../inference/sessions";
import { createRng, type Rng } from "../random";
import { predictRow, type Tree, type TreeEnsemble, type TreeNode } from "../trees/ensemble";
import { float32Threshold, treeEnsembleOnnx } from "./treeEnsemble";

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

async function scoreWithOnnx(bytes: Uint8Array, rows: Float32Array, numFeatures: number, names = { input: "features", output: "score" }): Promise<Float32Array> {
  const session = await openSession(bytes);
  sessions.push(session);
  const out = await session.run({ [names.input]: new ort.Tensor("float32", rows, [rows.length / numFeatures, numFeatures]) });
  const tensor = out[names.output]!;
  expect(tensor.dims).toEqual([rows.length / numFeatures, 1]);
  return tensor.data as Float32Array;
}

function maxAbsDiff(ensemble: TreeEnsemble, rows: Float32Array, onnx: Float32Array): number {
  let max = 0;
  for (let r = 0; r < onnx.length; r++) {
    const expected = predictRow(ensemble, rows.subarray(r * ensemble.numFeatures, (r + 1) * ensemble.numFeatures));
    max = Math.max(max, Math.abs(expected - onnx[r]!));
  }
  return max;
}

const leaf = (value: number): TreeNode => ({ isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: false, value });
const split = (feature: number, threshold: number, left: number, right: number, missingGoesLeft: boolean): TreeNode => ({ isLeaf: false, feature, threshold, left, right, missingGoesLeft, value: 0 });

/** A stump: left leaf scores 1, right leaf 2. */
function stump(threshold: number, comparison: TreeEnsemble["comparison"], missingGoesLeft = false): TreeEnsemble {
  return { trees: [{ nodes: [split(0, threshold, 1, 2, missingGoesLeft), leaf(1), leaf(2)] }], baseScore: 0, numFeatures: 1, comparison };
}

/** Random trees whose thresholds are sometimes float32 values and sometimes arbitrary doubles. */
function randomEnsemble(rng: Rng, comparison: TreeEnsemble["comparison"]): { ensemble: TreeEnsemble; thresholds: number[][] } {
  const numFeatures = rng.int(1, 12);
  const thresholds: number[][] = Array.from({ length: numFeatures }, () => []);
  const trees: Tree[] = [];
  const treeCount = rng.int(1, 30);
  for (let t = 0; t < treeCount; t++) {
    const nodes: TreeNode[] = [];
    const grow = (depth: number): number => {
      const index = nodes.length;
      if (depth === 0 || rng.next() < 0.2) {
        nodes.push(leaf(rng.normal() * 0.5));
        return index;
      }
      const feature = rng.int(0, numFeatures - 1);
      const raw = rng.normal() * 2;
      const threshold = rng.next() < 0.5 ? Math.fround(raw) : raw;
      thresholds[feature]!.push(threshold);
      nodes.push(split(feature, threshold, -1, -1, rng.next() < 0.5));
      nodes[index]!.left = grow(depth - 1);
      nodes[index]!.right = grow(depth - 1);
      return index;
    };
    grow(rng.int(0, 6));
    trees.push({ nodes });
  }
  return { ensemble: { trees, baseScore: rng.normal(), numFeatures, comparison }, thresholds };
}

/** Rows that sit on, and right beside, the thresholds — where float32 rounding would bite — plus NaN. */
function adversarialRows(rng: Rng, thresholds: number[][], count: number): Float32Array {
  const f = thresholds.length;
  const rows = new Float32Array(count * f);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < f; j++) {
      const near = thresholds[j]!;
      const roll = rng.next();
      let value: number;
      if (roll < 0.1) value = Number.NaN;
      else if (roll < 0.2) value = 0;
      else if (roll < 0.7 && near.length > 0) {
        const t = rng.pick(near);
        const f32 = Math.fround(t);
        value = rng.pick([t, f32, float32Threshold(t, "<="), float32Threshold(t, "<"), nextAfter32(f32, 1), nextAfter32(f32, -1)]);
      } else value = rng.normal() * 2;
      rows[r * f + j] = value;
    }
  }
  return rows;
}

function nextAfter32(x: number, direction: 1 | -1): number {
  const buf = new Float32Array([x]);
  const bits = new Int32Array(buf.buffer);
  if (x === 0) return direction * 2 ** -149;
  bits[0] = bits[0]! + ((x > 0) === (direction > 0) ? 1 : -1);
  return buf[0]!;
}

describe("float32Threshold", () => {
  it("keeps x <= t and x < t unchanged for every float32 x", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.float({ noNaN: true }), (t, x) => {
        expect(x <= float32Threshold(t, "<=")).toBe(x <= t);
        expect(x < float32Threshold(t, "<")).toBe(x < t);
      }),
      { numRuns: 5000 },
    );
  });

  it("also holds for the float32 neighbours of the threshold itself, where nearest rounding fails", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), fc.integer({ min: -2, max: 2 }), (t, step) => {
        let x = Math.fround(t);
        for (let i = 0; i < Math.abs(step); i++) x = nextAfter32(x, step > 0 ? 1 : -1);
        expect(x <= float32Threshold(t, "<=")).toBe(x <= t);
        expect(x < float32Threshold(t, "<")).toBe(x < t);
      }),
      { numRuns: 5000 },
    );
  });

  it("leaves float32 thresholds alone and maps out-of-range ones to the float32 extremes", () => {
    expect(float32Threshold(0.5, "<=")).toBe(0.5);
    expect(float32Threshold(1e300, "<=")).toBe(3.4028234663852886e38);
    expect(float32Threshold(1e300, "<")).toBe(Infinity);
    expect(float32Threshold(-1e300, "<")).toBe(-3.4028234663852886e38);
    expect(float32Threshold(Infinity, "<=")).toBe(Infinity);
  });
});

describe("treeEnsembleOnnx", () => {
  it("declares features [N, F] → score [N, 1] with the ai.onnx.ml opset and the metadata", async () => {
    const bytes = treeEnsembleOnnx(stump(0.5, "<="), { metadata: { source: "test" } });
    const session = await openSession(bytes);
    sessions.push(session);
    expect(session.inputNames).toEqual(["features"]);
    expect(session.outputNames).toEqual(["score"]);
    const text = Buffer.from(bytes).toString("latin1");
    expect(text).toContain("ai.onnx.ml");
    expect(text).toContain("TreeEnsembleRegressor");
    expect(text).toContain("source");
  });

  it("honours custom input and output names", async () => {
    const bytes = treeEnsembleOnnx(stump(0.5, "<="), { inputName: "x", outputName: "y" });
    expect(Array.from(await scoreWithOnnx(bytes, new Float32Array([0, 1]), 1, { input: "x", output: "y" }))).toEqual([1, 2]);
  });

  it("sends x == threshold left for <= and right for <", async () => {
    const rows = new Float32Array([0.25, 0.2499999850988388, 0.2500000298023224]);
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0.25, "<=")), rows, 1))).toEqual([1, 1, 2]);
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0.25, "<")), rows, 1))).toEqual([2, 1, 2]);
  });

  it("routes a float32 input equal to the nearest float32 of a double threshold the way the double comparison does", async () => {
    // 0.1 rounds UP to the float32 0.10000000149…: naive rounding would send that input left.
    const x = Math.fround(0.1);
    expect(x > 0.1).toBe(true);
    const rows = new Float32Array([x]);
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0.1, "<=")), rows, 1))).toEqual([predictRow(stump(0.1, "<="), rows)]);
    expect(predictRow(stump(0.1, "<="), rows)).toBe(2);
    // 0.7 rounds DOWN to 0.69999998…: for "<", an input equal to it must still go left.
    const y = Math.fround(0.7);
    expect(y < 0.7).toBe(true);
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0.7, "<")), new Float32Array([y]), 1))).toEqual([1]);
  });

  it("sends NaN where missingGoesLeft says, for both comparisons", async () => {
    const rows = new Float32Array([Number.NaN]);
    for (const comparison of ["<=", "<"] as const) {
      expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0, comparison, true)), rows, 1))).toEqual([1]);
      expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(stump(0, comparison, false)), rows, 1))).toEqual([2]);
    }
  });

  it("scores single-leaf trees and an empty ensemble", async () => {
    const constant: TreeEnsemble = { trees: [{ nodes: [leaf(0.75)] }, { nodes: [leaf(-0.25)] }], baseScore: 1, numFeatures: 3, comparison: "<=" };
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(constant), new Float32Array(6), 3))).toEqual([1.5, 1.5]);
    const empty: TreeEnsemble = { trees: [], baseScore: 0.5, numFeatures: 2, comparison: "<" };
    expect(Array.from(await scoreWithOnnx(treeEnsembleOnnx(empty), new Float32Array(4), 2))).toEqual([0.5, 0.5]);
  });

  it("refuses a split on a feature the input does not have, or a child that is not there", () => {
    const bad: TreeEnsemble = { trees: [{ nodes: [split(3, 0, 1, 2, false), leaf(0), leaf(1)] }], baseScore: 0, numFeatures: 2, comparison: "<=" };
    expect(() => treeEnsembleOnnx(bad)).toThrow(/feature 3/);
    const dangling: TreeEnsemble = { trees: [{ nodes: [split(0, 0, 1, 5, false), leaf(0)] }], baseScore: 0, numFeatures: 1, comparison: "<" };
    expect(() => treeEnsembleOnnx(dangling)).toThrow(/child 5/);
  });

  it("matches predictRow on random ensembles within 1e-5 (both comparisons, thresholds off the float32 grid, NaN inputs)", async () => {
    let worst = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rng = createRng(seed);
      const comparison = seed % 2 === 0 ? "<=" : "<";
      const { ensemble, thresholds } = randomEnsemble(rng, comparison);
      const rows = adversarialRows(rng, thresholds, 300);
      const onnx = await scoreWithOnnx(treeEnsembleOnnx(ensemble), rows, ensemble.numFeatures);
      worst = Math.max(worst, maxAbsDiff(ensemble, rows, onnx));
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
  }, 60_000); // 40 ensembles through onnxruntime: more than the 5 s default on a loaded machine

  it("is byte-for-byte deterministic", () => {
    const { ensemble } = randomEnsemble(createRng(3), "<=");
    expect(Buffer.from(treeEnsembleOnnx(ensemble)).equals(Buffer.from(treeEnsembleOnnx(ensemble)))).toBe(true);
  });
});
