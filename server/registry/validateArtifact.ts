import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import { absentValue, type FeatureSpec } from "../domain/features/featureSpec";
import { checkSignature } from "../domain/models/signature";
import { describeRow, positionDependence, type ScoredBatch, type StoreSample } from "../domain/models/smokeTest";
import { InvalidInputError } from "../errors";
import { openSession, runScores } from "../inference/sessions";

// The checks an artifact passes before it is stored: it loads in onnxruntime, its signature matches
// the feature spec, and it scores sample rows. Kept apart from versions.ts (no database) so the
// upload's worker thread can run it.

export interface ValidatedArtifact {
  inputName: string;
  outputName: string;
  sha256: string;
}

/**
 * Loads `bytes` (an ONNX model of at most `maxBytes`) in onnxruntime, checks it against the spec and
 * scores sample rows: the defaults, the training means where the spec has them, every feature
 * missing where the spec says missing values reach the model as NaN, and `storeSample` (rows made
 * from the feature store's values, storeSampleRows) — together, the first alone, 7 and 100 at once
 * and in reverse order. InvalidInputError (field "file") names the problem: a batch that fails or
 * returns other than one finite score per row; a store row scored non-finite (its item id and
 * features: every real request with such an item would fall back); a row whose score depends on
 * its position in the batch (positionDependence: the model ranks candidates by each other's scores).
 */
export async function validateArtifact(bytes: Uint8Array, featureSpec: FeatureSpec, maxBytes: number, storeSample?: StoreSample): Promise<ValidatedArtifact> {
  if (bytes.length === 0) throw new InvalidInputError("file", "the file is empty");
  if (bytes.length > maxBytes) throw new InvalidInputError("file", `${(bytes.length / 1048576).toFixed(1)} MiB exceeds the ${(maxBytes / 1048576).toFixed(1)} MiB limit (MODEL_MAX_BYTES)`);
  let session;
  try {
    session = await openSession(bytes);
  } catch (error) {
    throw new InvalidInputError("file", `not a loadable ONNX model: ${(error as Error).message.split("\n")[0]}`);
  }
  try {
    const problems = checkSignature(session.inputMetadata, session.outputMetadata, featureSpec.length);
    if (problems.length) throw new InvalidInputError("featureSpec", `the model does not match its feature spec: ${problems.join("; ")}`);
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    const cols = featureSpec.length;
    if (storeSample && storeSample.ids.length > 0) await checkStoreRows({ session, inputName, outputName }, featureSpec, storeSample);
    const rows = smokeRows(featureSpec);
    if (storeSample) for (let r = 0; r < storeSample.ids.length; r++) rows.push(Array.from(storeSample.data.subarray(r * cols, (r + 1) * cols)));
    // Also one row alone, seven and a hundred at once: an output whose length is fixed (a constant of the
    // sample's row count, a slice of the first rows) passes one batch size and fails every real request of another.
    // And in reverse: with the others, an output reordered along the batch scores a row differently by where it sits.
    const indices = (n: number) => Array.from({ length: n }, (_, i) => i % rows.length);
    const layouts = [indices(rows.length), [0], indices(7), indices(100), indices(rows.length).reverse()];
    const scored: ScoredBatch[] = [];
    for (const layout of layouts) {
      try {
        const scores = await runScores({ session, inputName, outputName }, Float32Array.from(layout.flatMap((i) => rows[i]!)), layout.length, cols);
        scored.push({ rows: layout, scores });
      } catch (error) {
        throw new InvalidInputError("file", `the smoke inference on ${layout.length} sample row${layout.length === 1 ? "" : "s"} failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }
    const moved = positionDependence(scored[0]!.scores, scored.slice(1));
    if (moved) {
      throw new InvalidInputError(
        "file",
        `the model's scores depend on the row's position in the batch: sample row ${moved.row} scored ${moved.referenceScore} at position ${moved.row} of ${moved.referenceSize} ` +
          `and ${moved.score} at position ${moved.position} of ${moved.batchSize}; a ranker must score each candidate from its own row (an output reordered or mixed along the batch ranks candidates by each other's scores)`,
      );
    }
    return { inputName, outputName, sha256: createHash("sha256").update(bytes).digest("hex") };
  } finally {
    await session.release().catch(() => {});
  }
}

/**
 * Scores the store's rows together and refuses the model when any score is not finite, naming the
 * first such row's item and features. Run raw (not runScores, which throws on the first non-finite
 * score without saying whose row it was); a wrong number of scores is left to the batches above.
 */
async function checkStoreRows(handle: { session: ort.InferenceSession; inputName: string; outputName: string }, spec: FeatureSpec, sample: StoreSample): Promise<void> {
  const rows = sample.ids.length;
  let scores: ArrayLike<number> | undefined;
  try {
    const output = await handle.session.run({ [handle.inputName]: new ort.Tensor("float32", sample.data, [rows, spec.length]) });
    scores = output[handle.outputName]?.data as ArrayLike<number> | undefined;
  } catch (error) {
    throw new InvalidInputError("file", `the smoke inference on ${rows} rows of the feature store failed: ${(error as Error).message.split("\n")[0]}`);
  }
  if (!scores || scores.length !== rows) return;
  const bad: number[] = [];
  for (let r = 0; r < rows; r++) if (!Number.isFinite(scores[r])) bad.push(r);
  if (bad.length === 0) return;
  const first = bad[0]!;
  throw new InvalidInputError(
    "file",
    `the model scored ${bad.length} of ${rows} rows sampled from the feature store non-finite (${scores[first]}), so every request with such an item would fall back: ` +
      `item ${JSON.stringify(sample.ids[first])} with ${describeRow(spec, sample.data, first)}`,
  );
}

function smokeRows(featureSpec: FeatureSpec): number[][] {
  const rows = [featureSpec.map((f) => f.default), featureSpec.map((f) => f.distribution?.mean ?? f.default)];
  // The row serving sends when nothing is known about a candidate.
  if (featureSpec.some((f) => f.missing === "nan")) rows.push(featureSpec.map(absentValue));
  return rows;
}
