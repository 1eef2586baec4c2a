import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { InvalidInputError } from "../../errors";
import { DEFAULT_ARCHIVE_ENTRIES, packBundleArchive, unpackBundleArchive, type ArchiveLimits } from "./archive";

// A cross-encoder bundle: the ONNX transformer, its tokenizer.json (and tokenizer_config.json when
// the export has one) and reranker.json, the small config this console adds — the maximum sequence
// length and which document fields make the text. A Hugging Face cross-encoder exported with
// optimum (README "Text rerankers") becomes a bundle by adding reranker.json beside its files.

export const crossEncoderConfigSchema = z.object({
  kind: z.literal("cross-encoder"),
  /** Tokens per (query, document) pair, special tokens included: the model's position limit. */
  maxLength: z.number().int().min(8).max(8192),
  /** Object documents are joined from these fields, in this order, with a space. */
  textFields: z.array(z.string().min(1)).min(1).default(["text"]),
  /** The embedding's row count, when known: the tokenizer must not emit an id at or above it. */
  vocabSize: z.number().int().positive().optional(),
  /** The output holding one logit per pair ([batch] or [batch, 1]); the first output when absent. */
  output: z.string().min(1).optional(),
});
export type CrossEncoderConfig = z.infer<typeof crossEncoderConfigSchema>;

export interface CrossEncoderBundle {
  onnx: Uint8Array;
  /** tokenizer.json's text. */
  tokenizerJson: string;
  /** tokenizer_config.json's text, or "{}" when the export has none. */
  tokenizerConfigJson: string;
  config: CrossEncoderConfig;
}

/** Parses reranker.json's text; InvalidInputError naming `config.<field>` when it is wrong. */
export function parseCrossEncoderConfig(text: string): CrossEncoderConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError("config", `reranker.json is not JSON: ${(error as Error).message}`);
  }
  const parsed = crossEncoderConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(["config", ...issue.path.map(String)].join("."), issue.message);
  }
  return parsed.data;
}

/** Reads a bundle folder: model.onnx, tokenizer.json, reranker.json and an optional tokenizer_config.json. */
export async function readCrossEncoderBundle(dir: string): Promise<CrossEncoderBundle> {
  const [onnx, tokenizerJson, configText, tokenizerConfigJson] = await Promise.all([
    readFile(path.join(dir, "model.onnx")),
    readFile(path.join(dir, "tokenizer.json"), "utf8"),
    readFile(path.join(dir, "reranker.json"), "utf8"),
    readFile(path.join(dir, "tokenizer_config.json"), "utf8").catch(() => "{}"),
  ]);
  return { onnx: new Uint8Array(onnx), tokenizerJson, tokenizerConfigJson, config: parseCrossEncoderConfig(configText) };
}

/**
 * A bundle from its archive (an upload's .tar/.tgz/.zip, or the registry's stored tar). InvalidInputError
 * on `file` when the archive is refused or lacks a file, on `config.<field>` when reranker.json is wrong.
 */
export async function bundleFromArchive(bytes: Uint8Array, limits: Pick<ArchiveLimits, "maxBytes"> & Partial<ArchiveLimits>): Promise<CrossEncoderBundle> {
  const files = await unpackBundleArchive(bytes, { maxEntries: DEFAULT_ARCHIVE_ENTRIES, ...limits });
  const missing = (["model.onnx", "tokenizer.json", "reranker.json"] as const).filter((name) => !files.has(name));
  if (missing.length > 0) {
    throw new InvalidInputError("file", `the bundle has no ${missing.join(", ")}; a cross-encoder bundle holds model.onnx, tokenizer.json and reranker.json (tokenizer_config.json optional)`);
  }
  const text = (name: "tokenizer.json" | "reranker.json" | "tokenizer_config.json") => new TextDecoder().decode(files.get(name));
  return { onnx: files.get("model.onnx")!, tokenizerJson: text("tokenizer.json"), tokenizerConfigJson: files.has("tokenizer_config.json") ? text("tokenizer_config.json") : "{}", config: parseCrossEncoderConfig(text("reranker.json")) };
}

/** The registry's stored form of a bundle (archive.ts packBundleArchive): reranker.json is written from the parsed config. */
export function bundleToArchive(bundle: CrossEncoderBundle): Uint8Array {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const files = new Map<string, Uint8Array>([
    ["model.onnx", bundle.onnx],
    ["tokenizer.json", utf8(bundle.tokenizerJson)],
    ["reranker.json", utf8(JSON.stringify(bundle.config, null, 2))],
  ]);
  if (bundle.tokenizerConfigJson !== "{}") files.set("tokenizer_config.json", utf8(bundle.tokenizerConfigJson));
  return packBundleArchive(files);
}

/** The text of one document: a string as is, an object's `fields` (rank_fields or the bundle's textFields) joined. */
export function documentText(document: string | Record<string, unknown>, fields: readonly string[]): string {
  if (typeof document === "string") return document;
  return fields
    // Own fields only: rank_fields ["title", "__proto__"] must not add Object.prototype ("{}") to the text.
    .map((f) => (Object.hasOwn(document, f) ? document[f] : undefined))
    .filter((v) => v !== undefined && v !== null)
    .map((v) => (typeof v === "string" ? v : JSON.stringify(v)))
    .join(" ");
}
