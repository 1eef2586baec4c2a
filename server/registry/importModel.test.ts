import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  CONSTANT_TREE_PALETTE, expectedScores, LARGE_LEAF_ROWS, LETOR_FEATURES, letorTestRows, paletteRows, readFixture, SINGLE_TREE_PALETTE, withNans, XGBOOST_RUBY_PALETTE,
} from "../domain/importers/fixtures/rows";
import { InvalidInputError } from "../errors";
import { openSession } from "../inference/sessions";
import { ConversionMismatchError, importModel } from "./importModel";

/** The most an imported model's score may differ from the library's own on these fixtures (absolute). */
const IMPORT_TOLERANCE = 1e-5;

async function onnxScores(bytes: Uint8Array, data: Float32Array, rows: number, features: number): Promise<Float32Array> {
  const session = await openSession(bytes);
  try {
    const out = await session.run({ features: new ort.Tensor("float32", data, [rows, features]) });
    return out.score!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe("importModel on the LETOR test rows", () => {
  const { data, rows } = letorTestRows();
  const expected = expectedScores("letor-expected.json").models;

  for (const [kind, file, nans] of [
    ["lightgbm", "letor-lightgbm.txt", false],
    ["lightgbm", "letor-lightgbm-nan.txt", true],
    ["xgboost", "letor-xgboost.json", false],
    ["xgboost", "letor-xgboost-nan.json", true],
    ["xgboost", "letor-xgboost-early-stopping.json", false],
    ["xgboost", "letor-xgboost-parallel.json", false],
  ] as const) {
    it(`${file}: the ONNX scores every rank.test row within ${IMPORT_TOLERANCE} of the native walker and of the library itself`, async () => {
      const sample = nans ? withNans(data, LETOR_FEATURES) : data;
      const imported = await importModel(kind, readFixture(file), sample, rows);
      expect(imported.numFeatures).toBe(LETOR_FEATURES);
      expect(imported.featureNames).toHaveLength(LETOR_FEATURES);
      expect(imported.maxAbsDiff).toBeLessThanOrEqual(IMPORT_TOLERANCE);

      const scores = await onnxScores(imported.onnx, sample, rows, LETOR_FEATURES);
      const library = expected[file]!.scores!;
      let worst = 0;
      for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(scores[i]! - library[i]!));
      expect(worst).toBeLessThanOrEqual(IMPORT_TOLERANCE);
    });
  }

  it("serves an XGBoost model saved after early stopping as its predict() does: 2 of its 12 trees, ≤ 1e-6 relative (issue 14 point 5)", async () => {
    const file = "letor-xgboost-early-stopping.json";
    const want = expected[file]! as Required<(typeof expected)[string]>;
    expect([want.bestIteration, want.trees]).toEqual([1, 12]);
    const imported = await importModel("xgboost", readFixture(file), data, rows);
    expect(imported.notes.join(" ")).toMatch(/best_iteration 1, so the first 2 of the 12 trees serve/);
    const scores = await onnxScores(imported.onnx, data, rows, LETOR_FEATURES);
    let worstRelative = 0;
    let farFromAllTrees = 0;
    for (let i = 0; i < rows; i++) {
      worstRelative = Math.max(worstRelative, Math.abs(scores[i]! - want.scores[i]!) / Math.abs(want.scores[i]!));
      farFromAllTrees = Math.max(farFromAllTrees, Math.abs(scores[i]! - want.allTrees[i]!));
    }
    expect(worstRelative).toBeLessThanOrEqual(1e-6);
    // All 12 trees would be far off: the bug the issue reports.
    expect(farFromAllTrees).toBeGreaterThan(0.5);
  });

  it("counts num_parallel_tree trees per round when cutting at best_iteration", async () => {
    const imported = await importModel("xgboost", readFixture("letor-xgboost-parallel.json"), data, rows);
    expect(imported.notes.join(" ")).toMatch(/best_iteration 8, so the first 18 of the 38 trees serve \(9 rounds × 2 parallel trees\)/);
  });

  it("keeps the documents' order within each query as the library's scores give it", async () => {
    const imported = await importModel("lightgbm", readFixture("letor-lightgbm.txt"), data, rows);
    const scores = await onnxScores(imported.onnx, data, rows, LETOR_FEATURES);
    const library = expected["letor-lightgbm.txt"]!.scores!;
    // Every pair the library separates by more than the tolerance keeps its order.
    let inverted = 0;
    for (let i = 0; i + 1 < rows; i++) if ((library[i]! - library[i + 1]!) * (scores[i]! - scores[i + 1]!) < 0 && Math.abs(library[i]! - library[i + 1]!) > 2 * IMPORT_TOLERANCE) inverted++;
    expect(inverted).toBe(0);
  });
});

describe("a LightGBM model with a leaf of 300.123456789 (issue 14 point 5)", () => {
  it("imports, and scores ≤ 1e-6 relative to LightGBM's raw score", async () => {
    const data = Float32Array.from(LARGE_LEAF_ROWS.flatMap((r) => r.row));
    const imported = await importModel("lightgbm", readFixture("large-leaf-lightgbm.model.txt"), data, LARGE_LEAF_ROWS.length);
    expect(imported.featureNames).toEqual(["price", "stock", "rating"]);
    const scores = await onnxScores(imported.onnx, data, LARGE_LEAF_ROWS.length, 3);
    LARGE_LEAF_ROWS.forEach(({ score }, i) => expect(Math.abs(scores[i]! - score) / Math.abs(score), `row ${i}`).toBeLessThanOrEqual(1e-6));
    // What float32 does to 300.123456789: 1.3e-5 absolute, 4e-8 relative.
    expect(Math.abs(scores[0]! - LARGE_LEAF_ROWS[0]!.score)).toBeGreaterThan(1e-5);
  });
});

describe("importModel on the copied public models", () => {
  it("lleaves single tree, treelite constant tree and xgboost-ruby import within tolerance", async () => {
    const cases = [
      ["lightgbm", "lleaves-single-tree.model.txt", SINGLE_TREE_PALETTE, 10],
      ["lightgbm", "treelite-constant-tree.model.txt", CONSTANT_TREE_PALETTE, 126],
      ["xgboost", "xgboost-ruby.model.json", XGBOOST_RUBY_PALETTE, 4],
    ] as const;
    for (const [kind, file, palette, features] of cases) {
      const imported = await importModel(kind, readFixture(file), paletteRows([...palette], 48, features), 48);
      expect(imported.maxAbsDiff, file).toBeLessThanOrEqual(IMPORT_TOLERANCE);
    }
  });

  it("writes where the model came from into the ONNX metadata", async () => {
    const imported = await importModel("xgboost", readFixture("xgboost-ruby.model.json"), paletteRows([...XGBOOST_RUBY_PALETTE], 4, 4), 4, { metadata: { model: "ruby" } });
    const text = Buffer.from(imported.onnx).toString("latin1");
    for (const word of ["importedFrom", "xgboost", "reg:squarederror", "ruby"]) expect(text).toContain(word);
  });
});

describe("importModel refusals", () => {
  const good = readFixture("lleaves-single-tree.model.txt");
  const rows = paletteRows([...SINGLE_TREE_PALETTE], 8, 10);

  it("imports leaves of any size float32 can hold: scores around 123,456 differ by float32 rounding only", async () => {
    const large = good.replace(/^leaf_value=.*$/m, (line) => line.replace(/0\.(\d+)/g, (_, digits: string) => `123456.${digits}`));
    const imported = await importModel("lightgbm", large, rows, 8);
    expect(imported.maxRelDiff).toBeLessThan(1e-7);
    expect(imported.maxAbsDiff).toBeGreaterThan(1e-5); // what the old absolute 1e-5 refused
  });

  it("throws ConversionMismatchError when ONNX cannot reproduce the model: a leaf beyond float32's range", async () => {
    const huge = good.replace(/^leaf_value=.*$/m, (line) => line.replace(/0\.(\d+)/g, (_, digits: string) => `1${digits.slice(0, 3)}e36`));
    let caught: unknown;
    try {
      await importModel("lightgbm", huge, rows, 8);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConversionMismatchError);
    expect(caught).toBeInstanceOf(InvalidInputError);
    const mismatch = caught as ConversionMismatchError;
    expect(mismatch.onnx).toBe(Infinity);
    expect(mismatch.message).toMatch(/^file: the converted model differs from the original by Infinity on sample row \d+ \(original 1\.\d+e\+39, ONNX Infinity\); float32 rounding explains at most/);
  });

  it("reports a model it cannot read as invalid input naming the line", async () => {
    await expect(importModel("lightgbm", good.replace("num_cat=0", "num_cat=2"), rows, 8)).rejects.toThrow(/file: not an importable lightgbm model: line \d+: .*categorical/);
    await expect(importModel("xgboost", "{]", rows, 8)).rejects.toThrow(InvalidInputError);
  });

  it("needs sample rows of the model's width", async () => {
    await expect(importModel("lightgbm", good, new Float32Array(9), 1)).rejects.toThrow(/sampleRows: 9 values for 1 rows, but the model has 10 features/);
    await expect(importModel("lightgbm", good, new Float32Array(0), 0)).rejects.toThrow(/at least one sample row/);
  });
});
