import { createHash } from "node:crypto";
import { bundleFromArchive, bundleToArchive, type CrossEncoderConfig } from "../inference/crossEncoder/bundle";
import { CrossEncoder } from "../inference/crossEncoder/model";
import type { ValidatedArtifact } from "./validateArtifact";

// The checks a cross-encoder bundle passes before it is stored (the text counterpart of
// validateArtifact.ts): the archive unpacks within its bounds, reranker.json parses, the tokenizer
// loads, the ONNX loads with a cross-encoder's inputs, the tokenizer's ids fit the model's
// embedding, and sample pairs score one finite logit each (CrossEncoder.open). No database, so the
// upload's worker thread runs it.

/** What the registry keeps of a checked bundle beside its archive (the version's metadata.crossEncoder). */
export interface CrossEncoderSummary extends CrossEncoderConfig {
  /** The model's inputs, e.g. [input_ids, attention_mask, token_type_ids]. */
  inputs: string[];
  /** Tokens the tokenizer can emit (added tokens included). */
  tokenizerTokens: number;
}

export interface ValidatedCrossEncoder {
  /** The registry's stored form: a plain tar of the bundle's files (archive.ts). */
  bytes: Uint8Array;
  validated: ValidatedArtifact;
  summary: CrossEncoderSummary;
}

/**
 * Unpacks `archive` (.tar, .tgz or .zip, at most `maxBytes` unpacked) and checks the bundle.
 * Refusals are InvalidInputError naming `file` (archive), `config.<field>`, `tokenizer` (not
 * loadable, or a mismatched tokenizer) or `model` (not loadable, wrong inputs, bad scores).
 */
export async function validateCrossEncoderArchive(archive: Uint8Array, maxBytes: number): Promise<ValidatedCrossEncoder> {
  const bundle = await bundleFromArchive(archive, { maxBytes });
  const model = await CrossEncoder.open(bundle, 1);
  const inputs = ["input_ids", "attention_mask", ...(model.takesTokenTypes ? ["token_type_ids"] : [])];
  const summary: CrossEncoderSummary = { ...bundle.config, inputs, tokenizerTokens: model.encoder.vocabSize };
  const outputName = model.outputName;
  await model.release();
  const bytes = bundleToArchive(bundle);
  return { bytes, validated: { inputName: "input_ids", outputName, sha256: createHash("sha256").update(bytes).digest("hex") }, summary };
}
