import { createHash } from "node:crypto";
import { absentValue, type FeatureSpec } from "../domain/features/featureSpec";
import { checkSignature } from "../domain/models/signature";
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
 * scores sample rows: the defaults, the training means where the spec has them, and every feature
 * missing where the spec says missing values reach the model as NaN — together, the first alone, and
 * 7 and 100 at once (one finite score per row each time). InvalidInputError names the problem.
 */
export async function validateArtifact(bytes: Uint8Array, featureSpec: FeatureSpec, maxBytes: number): Promise<ValidatedArtifact> {
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
    const rows = smokeRows(featureSpec);
    // Also one row alone, seven and a hundred at once: an output whose length is fixed (a constant of the
    // sample's row count, a slice of the first rows) passes one batch size and fails every real request of another.
    const repeated = (n: number) => Array.from({ length: n }, (_, i) => rows[i % rows.length]!);
    for (const batch of [rows, rows.slice(0, 1), repeated(7), repeated(100)]) {
      try {
        await runScores({ session, inputName, outputName }, Float32Array.from(batch.flat()), batch.length, featureSpec.length);
      } catch (error) {
        throw new InvalidInputError("file", `the smoke inference on ${batch.length} sample row${batch.length === 1 ? "" : "s"} failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }
    return { inputName, outputName, sha256: createHash("sha256").update(bytes).digest("hex") };
  } finally {
    await session.release().catch(() => {});
  }
}

function smokeRows(featureSpec: FeatureSpec): number[][] {
  const rows = [featureSpec.map((f) => f.default), featureSpec.map((f) => f.distribution?.mean ?? f.default)];
  // The row serving sends when nothing is known about a candidate.
  if (featureSpec.some((f) => f.missing === "nan")) rows.push(featureSpec.map(absentValue));
  return rows;
}
