import * as ort from "onnxruntime-node";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { evaluateLightGbm, parseLightGbm } from "../domain/importers/lightgbm";
import { checkConversion, type ScoredRow } from "../domain/importers/conversionCheck";
import { ModelImportError, type ImportLimits } from "../domain/importers/treeShape";
import { evaluateXgboost, parseXgboostJson, readXgboostText } from "../domain/importers/xgboost";
import type { TreeEnsemble } from "../domain/trees/ensemble";
import { InvalidInputError } from "../errors";
import { openSession } from "../inference/sessions";

// Importing a LightGBM or XGBoost model: parse it, write it as ONNX, and before handing the ONNX
// back, score sample rows both ways — in onnxruntime exactly as serving will, and with the walker
// that follows the library's own arrays and rules — so a converter mistake is refused here rather
// than found in production rankings. The two may differ by float32 rounding only
// (server/domain/importers/conversionCheck.ts). Lives in the registry, not the domain, because it runs
// onnxruntime.

export type ModelKind = "lightgbm" | "xgboost";

export interface ImportedModel {
  onnx: Uint8Array;
  numFeatures: number;
  featureNames: string[];
  objective: string;
  /** Max |onnxruntime − native| over the sample rows. */
  maxAbsDiff: number;
  /** Max |onnxruntime − native| / Σ|terms| over the sample rows (see conversionCheck.ts). */
  maxRelDiff: number;
  /** What the import did beyond a plain conversion (e.g. trees cut at best_iteration), in words. */
  notes: string[];
}

/** The converted model scores a sample row differently from the library's own evaluation, beyond float32 rounding. */
export class ConversionMismatchError extends InvalidInputError {
  constructor(readonly maxAbsDiff: number, readonly row: number, readonly native: number, readonly onnx: number, readonly allowed: number) {
    super("file", `the converted model differs from the original by ${maxAbsDiff} on sample row ${row} (original ${native}, ONNX ${onnx}); float32 rounding explains at most ${allowed.toPrecision(3)}`);
  }
}

/**
 * Converts `content` (model.txt for LightGBM, model.json for XGBoost) to ONNX and checks it on
 * `rows` sample rows (`sampleRows`, row-major, numFeatures columns, NaN = missing): each row's
 * ONNX score must equal the native walker's within float32 rounding of the terms it adds
 * (checkConversion). Unreadable or unsupported models, and counts beyond `limits`, throw
 * InvalidInputError naming the line or field.
 */
export async function importModel(
  kind: ModelKind,
  content: string,
  /** Row-major rows, or a function making them once the model's feature count is known. */
  sampleRowsOrMaker: Float32Array | ((numFeatures: number) => Float32Array),
  rows: number,
  options: { metadata?: Record<string, string>; limits?: ImportLimits } = {},
): Promise<ImportedModel> {
  let parsed: { ensemble: TreeEnsemble; numFeatures: number; featureNames: string[]; objective: string; notes: string[]; evaluate: (row: Float32Array, terms: number[]) => number };
  try {
    if (kind === "lightgbm") {
      const model = parseLightGbm(content, options.limits);
      parsed = { ...model, notes: [], evaluate: (row, terms) => evaluateLightGbm(model.native, row, terms) };
    } else {
      const model = parseXgboostJson(readXgboostText(content), options.limits);
      parsed = { ...model, evaluate: (row, terms) => evaluateXgboost(model.native, row, terms) };
    }
  } catch (error) {
    if (error instanceof ModelImportError) throw Object.assign(new InvalidInputError("file", `not an importable ${kind} model: ${error.message}`), { cause: error });
    throw error;
  }
  const { ensemble, numFeatures, featureNames, objective, notes } = parsed;
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

  const scored: ScoredRow[] = [];
  for (let r = 0; r < rows; r++) {
    const terms: number[] = [];
    const native = parsed.evaluate(sampleRows.subarray(r * numFeatures, (r + 1) * numFeatures), terms);
    scored.push({ native, onnx: scores[r]!, terms });
  }
  const check = checkConversion(scored);
  if (!check.agrees) throw new ConversionMismatchError(Math.abs(check.worst.native - check.worst.onnx), check.worst.row, check.worst.native, check.worst.onnx, check.worst.allowed);
  return { onnx, numFeatures, featureNames, objective, maxAbsDiff: check.maxAbsDiff, maxRelDiff: check.maxRelDiff, notes };
}
