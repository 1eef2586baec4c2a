import * as ort from "onnxruntime-node";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { evaluateLightGbm, parseLightGbm } from "../domain/importers/lightgbm";
import { ModelImportError } from "../domain/importers/treeShape";
import { evaluateXgboost, parseXgboostJson, readXgboostText } from "../domain/importers/xgboost";
import type { TreeEnsemble } from "../domain/trees/ensemble";
import { InvalidInputError } from "../errors";
import { openSession } from "../inference/sessions";

// Importing a LightGBM or XGBoost model: parse it, write it as ONNX, and before handing the ONNX
// back, score sample rows both ways — in onnxruntime exactly as serving will, and with the walker
// that follows the library's own arrays and rules — so a converter mistake is refused here rather
// than found in production rankings. Lives in the registry, not the domain, because it runs
// onnxruntime.

export type ModelKind = "lightgbm" | "xgboost";

/** The largest difference between onnxruntime's and the library's own score accepted on any row. */
export const IMPORT_TOLERANCE = 1e-5;

export interface ImportedModel {
  onnx: Uint8Array;
  ensemble: TreeEnsemble;
  numFeatures: number;
  featureNames: string[];
  objective: string;
  /** Max |onnxruntime − native| over the sample rows. */
  maxAbsDiff: number;
}

/** The converted model scores the sample rows differently from the library's own evaluation. */
export class ConversionMismatchError extends InvalidInputError {
  constructor(readonly maxAbsDiff: number, readonly row: number, readonly native: number, readonly onnx: number) {
    super("file", `the converted model differs from the original by up to ${maxAbsDiff} (row ${row}: original ${native}, ONNX ${onnx}); the limit is ${IMPORT_TOLERANCE}`);
  }
}

/**
 * Converts `content` (model.txt for LightGBM, model.json for XGBoost) to ONNX and checks it on
 * `rows` sample rows (`sampleRows`, row-major, numFeatures columns, NaN = missing). Unreadable or
 * unsupported models throw InvalidInputError naming the line or field.
 */
export async function importModel(
  kind: ModelKind,
  content: string,
  /** Row-major rows, or a function making them once the model's feature count is known. */
  sampleRowsOrMaker: Float32Array | ((numFeatures: number) => Float32Array),
  rows: number,
  options: { metadata?: Record<string, string> } = {},
): Promise<ImportedModel> {
  let parsed: { ensemble: TreeEnsemble; numFeatures: number; featureNames: string[]; objective: string; evaluate: (row: Float32Array) => number };
  try {
    if (kind === "lightgbm") {
      const model = parseLightGbm(content);
      parsed = { ...model, evaluate: (row) => evaluateLightGbm(model.native, row) };
    } else {
      const model = parseXgboostJson(readXgboostText(content));
      parsed = { ...model, evaluate: (row) => evaluateXgboost(model.native, row) };
    }
  } catch (error) {
    if (error instanceof ModelImportError) throw Object.assign(new InvalidInputError("file", `not an importable ${kind} model: ${error.message}`), { cause: error });
    throw error;
  }
  const { ensemble, numFeatures, featureNames, objective } = parsed;
  const sampleRows = typeof sampleRowsOrMaker === "function" ? sampleRowsOrMaker(numFeatures) : sampleRowsOrMaker;
  if (!Number.isInteger(rows) || rows < 1) throw new InvalidInputError("sampleRows", "at least one sample row is needed to check the conversion");
  if (sampleRows.length !== rows * numFeatures) {
    throw new InvalidInputError("sampleRows", `${sampleRows.length} values for ${rows} rows, but the model has ${numFeatures} features (expected ${rows * numFeatures})`);
  }

  const onnx = treeEnsembleOnnx(ensemble, { metadata: { importedFrom: kind, objective, ...options.metadata } });
  const session = await openSession(onnx);
  let scores: Float32Array;
  try {
    const output = await session.run({ features: new ort.Tensor("float32", sampleRows, [rows, numFeatures]) });
    scores = output.score!.data as Float32Array;
  } finally {
    await session.release().catch(() => {});
  }

  let worst = { diff: 0, row: 0, native: 0, onnx: 0 };
  for (let r = 0; r < rows; r++) {
    const expected = parsed.evaluate(sampleRows.subarray(r * numFeatures, (r + 1) * numFeatures));
    const got = scores[r]!;
    // A NaN on either side is a mismatch, not a zero difference.
    const diff = Number.isNaN(expected - got) ? Infinity : Math.abs(expected - got);
    if (diff > worst.diff) worst = { diff, row: r, native: expected, onnx: got };
  }
  if (worst.diff > IMPORT_TOLERANCE) throw new ConversionMismatchError(worst.diff, worst.row, worst.native, worst.onnx);
  return { onnx, ensemble, numFeatures, featureNames, objective, maxAbsDiff: worst.diff };
}
