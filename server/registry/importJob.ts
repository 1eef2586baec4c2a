import { readFile } from "node:fs/promises";
import type { FeatureSpec } from "../domain/features/featureSpec";
import type { ImportLimits } from "../domain/importers/treeShape";
import type { StoreSample } from "../domain/models/smokeTest";
import { createRng } from "../domain/random";
import { InvalidInputError } from "../errors";
import { importModel } from "./importModel";
import { validateArtifact, type ValidatedArtifact } from "./validateArtifact";
import { validateCrossEncoderArchive, type CrossEncoderSummary } from "./validateCrossEncoder";

// The CPU- and memory-heavy part of an upload — reading the file, parsing and converting a tree
// model, loading the ONNX and scoring sample rows — as one function of plain data, so it runs in a
// worker thread (importInWorker.ts) with its own heap limit and a deadline, away from serving.

export interface ImportJob {
  format: "onnx" | "lightgbm" | "xgboost" | "cross-encoder";
  /** The uploaded file, already on disk. */
  filePath: string;
  featureSpec: FeatureSpec;
  limits: ImportLimits;
  /** MODEL_MAX_BYTES: the largest artifact stored. */
  maxBytes: number;
  /** Rows made from the feature store's values (storeSampleRows), scored by the smoke test; none for an empty store. */
  storeSample?: StoreSample;
}

export interface ImportJobResult {
  /** The artifact to store: ONNX, or a cross-encoder bundle's tar. */
  bytes: Uint8Array;
  validated: ValidatedArtifact;
  /** For LightGBM / XGBoost uploads: what the conversion found. */
  conversion: {
    objective: string;
    numFeatures: number;
    /** The model's own feature names (first 50). */
    featureNames: string[];
    maxAbsDiff: number;
    maxRelDiff: number;
    notes: string[];
  } | null;
  /** For cross-encoder bundles: their config, inputs and tokenizer size (the version's metadata.crossEncoder). */
  crossEncoder?: CrossEncoderSummary;
}

const SAMPLE_ROWS = 64;

/**
 * Rows the converted model is checked on: zeros, then seeded uniform values in [0, 1] and a spread
 * beyond it, so that splits on both sides of typical thresholds are exercised.
 */
function sampleRows(featureCount: number, rows = SAMPLE_ROWS): Float32Array {
  const rng = createRng(featureCount);
  const data = new Float32Array(rows * featureCount);
  for (let i = featureCount; i < data.length; i++) data[i] = i % 7 === 0 ? rng.normal() * 10 : rng.next();
  return data;
}

/** Reads, converts (LightGBM / XGBoost) and validates an uploaded model. InvalidInputError names the problem. */
export async function runImportJob(job: ImportJob): Promise<ImportJobResult> {
  const file = new Uint8Array(await readFile(job.filePath));
  if (file.length === 0) throw new InvalidInputError("file", "the file is empty");
  if (job.format === "cross-encoder") {
    const checked = await validateCrossEncoderArchive(file, job.maxBytes);
    return { bytes: checked.bytes, validated: checked.validated, conversion: null, crossEncoder: checked.summary };
  }
  if (job.format === "onnx") {
    return { bytes: file, validated: await validateArtifact(file, job.featureSpec, job.maxBytes, job.storeSample), conversion: null };
  }
  const converted = await importModel(job.format, new TextDecoder().decode(file), (features) => {
    // Checked before the sample rows are made: the spec must describe the model's inputs.
    if (features !== job.featureSpec.length) {
      throw new InvalidInputError("featureSpec", `the ${job.format} model takes ${features} features but the feature spec declares ${job.featureSpec.length}`);
    }
    return sampleRows(features);
  }, SAMPLE_ROWS, { limits: job.limits });
  const validated = await validateArtifact(converted.onnx, job.featureSpec, job.maxBytes, job.storeSample);
  return {
    bytes: converted.onnx,
    validated,
    conversion: {
      objective: converted.objective, numFeatures: converted.numFeatures, featureNames: converted.featureNames.slice(0, 50),
      maxAbsDiff: converted.maxAbsDiff, maxRelDiff: converted.maxRelDiff, notes: converted.notes,
    },
  };
}
