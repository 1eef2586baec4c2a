import type { Actor } from "../audit/actor";
import type { Db } from "../db/client";
import { InvalidInputError, NotFoundError } from "../errors";
import { env } from "../config";
import { describeZodError, fieldPath } from "../validation";
import { importInWorker } from "./importInWorker";
import { modelNameSchema, uploadFieldsSchema } from "./schema";
import { createVersion } from "./versions";
import { unstoredFeatureWarnings, type FeatureSpec } from "../domain/features/featureSpec";
import { storeSampleRows, type StoreSample } from "../domain/models/smokeTest";

/** Rows of each feature store whose keys an upload's spec is checked against (bounded: an upload never scans a large store). */
const STORE_SAMPLE_ROWS = 10_000;

/** The feature names the first STORE_SAMPLE_ROWS rows of the item and user stores carry, and how many rows were read. */
async function storedFeatureNames(db: Db): Promise<Record<"item" | "user", { keys: Set<string>; sampled: number }>> {
  const read = async (table: "item_features" | "user_features") => {
    const rows = await db.$queryRawUnsafe<Array<{ key: string | null; sampled: bigint }>>(
      `WITH s AS (SELECT values FROM ${table} LIMIT ${STORE_SAMPLE_ROWS})
       SELECT k.key, (SELECT count(*) FROM s) AS sampled FROM (SELECT DISTINCT jsonb_object_keys(values) AS key FROM s WHERE jsonb_typeof(values) = 'object') k
       UNION ALL SELECT NULL, (SELECT count(*) FROM s)`,
    );
    return { keys: new Set(rows.flatMap((r) => (r.key === null ? [] : [r.key]))), sampled: Number(rows[0]?.sampled ?? 0) };
  };
  const [item, user] = await Promise.all([read("item_features"), read("user_features")]);
  return { item, user };
}

/** Items (and users) of the feature store whose values the upload's smoke test scores: drawn at random from the rows above. */
const STORE_SCORED_ROWS = 64;

/**
 * Rows of the model's input made from STORE_SCORED_ROWS items drawn at random from the first
 * STORE_SAMPLE_ROWS of the item store (each with a user's values, drawn the same way, when the spec
 * has user features); undefined when the spec reads neither store or the item store is empty.
 */
async function storeSample(db: Db, spec: FeatureSpec): Promise<StoreSample | undefined> {
  if (!spec.some((f) => f.source !== "candidate")) return undefined;
  const draw = (table: "item_features" | "user_features", key: "item_id" | "user_key") =>
    db.$queryRawUnsafe<Array<{ id: string; values: Record<string, unknown> }>>(
      `WITH s AS (SELECT ${key} AS id, values FROM ${table} LIMIT ${STORE_SAMPLE_ROWS})
       SELECT id, values FROM s WHERE jsonb_typeof(values) = 'object' ORDER BY random() LIMIT ${STORE_SCORED_ROWS}`,
    );
  const [items, users] = await Promise.all([draw("item_features", "item_id"), spec.some((f) => f.source === "user") ? draw("user_features", "user_key") : Promise.resolve([])]);
  return items.length ? storeSampleRows(spec, items, users) : undefined;
}

// The upload endpoint's work: multipart form on disk → validated fields → (import) and checks in a
// worker thread → stored version.
// Every refusal names what to fix; nothing is written unless every check passed.

export interface UploadForm {
  /** The uploaded file, streamed to disk (server/http/multipart.ts); null when the form had none. */
  file: { path: string; name: string; size: number } | null;
  fields: Record<string, string>;
}

/** The text fields an upload form takes, beside its `file`. */
const UPLOAD_FIELDS: readonly string[] = ["format", "featureSpec", "metadata", "metrics", "parentVersion"];

function parseJsonField(fields: Record<string, string>, name: string): unknown {
  const raw = fields[name];
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new InvalidInputError(name, `not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Registers an uploaded file as a new version of `modelName`: the fields are validated here, then
 * the file is read, converted (LightGBM / XGBoost) and smoke-tested in a worker thread within the
 * MODEL_MAX_* counts, MODEL_IMPORT_MEMORY_MB and MODEL_IMPORT_TIMEOUT_MS, on the spec's sample
 * rows and rows of the feature store (storeSample; validateArtifact says what is refused); nothing is
 * written unless every check passed. Import notes (e.g. trees cut at XGBoost's best_iteration) go into the
 * version's metadata.
 */
export async function uploadVersion(db: Db, modelName: string, form: UploadForm, actor: Actor) {
  // The name comes from the URL: checked like any input before it reaches a query.
  if (!modelNameSchema.safeParse(modelName).success) throw new InvalidInputError("model", `${JSON.stringify(modelName.slice(0, 80))} is not a model name (lower-case letters, digits, '.', '_' or '-', 2–63 characters)`);
  const model = await db.model.findUnique({ where: { name: modelName }, select: { id: true } });
  if (!model) throw new NotFoundError("model", modelName);
  if (!form.file) throw new InvalidInputError("file", "no file was attached");
  const config = env();
  if (form.file.size > config.MODEL_MAX_BYTES) {
    throw new InvalidInputError("file", `${(form.file.size / 1048576).toFixed(1)} MiB exceeds the ${(config.MODEL_MAX_BYTES / 1048576).toFixed(1)} MiB limit (MODEL_MAX_BYTES)`);
  }
  if (form.file.size === 0) throw new InvalidInputError("file", "the file is empty");
  // A misspelt field (parent_version, metric) is refused, not ignored: the version would be stored without it (break test).
  const unknown = Object.keys(form.fields).find((name) => !UPLOAD_FIELDS.includes(name));
  if (unknown !== undefined) throw new InvalidInputError(unknown.slice(0, 64), `unknown field (the form takes file, ${UPLOAD_FIELDS.join(", ")})`);
  // A field sent is read as sent: an empty format or version is refused, not taken as absent, and a
  // version is decimal digits only (Number() took "0x1" and "1e0" as version 1).
  if (form.fields.format === "") throw new InvalidInputError("format", "empty: leave the field out for onnx, or name a format");
  const parentVersion = form.fields.parentVersion;
  if (parentVersion !== undefined && !/^[1-9][0-9]{0,9}$/.test(parentVersion)) throw new InvalidInputError("parentVersion", `${JSON.stringify(parentVersion.slice(0, 40))} is not a version number (1, 2, …); leave the field out for none`);
  const parsed = uploadFieldsSchema.safeParse({
    format: form.fields.format,
    featureSpec: parseJsonField(form.fields, "featureSpec"),
    metadata: parseJsonField(form.fields, "metadata"),
    metrics: parseJsonField(form.fields, "metrics"),
    parentVersion: parentVersion === undefined ? undefined : Number(parentVersion),
  });
  if (!parsed.success) {
    // The first issue's whole path (`featureSpec[0].source`), so the message names it once.
    const first = parsed.error.issues[0];
    const field = first?.path.length ? fieldPath(first.path) : "input";
    const message = describeZodError(parsed.error);
    throw new InvalidInputError(field, message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message);
  }
  const input = parsed.data;
  let parentVersionId: string | null = null;
  if (input.parentVersion) {
    const parent = await db.modelVersion.findUnique({ where: { modelId_version: { modelId: model.id, version: input.parentVersion } }, select: { id: true } });
    if (!parent) throw new InvalidInputError("parentVersion", `${modelName} has no version ${input.parentVersion}`);
    parentVersionId = parent.id;
  }
  // XGBoost and LightGBM treat an absent feature as missing (NaN → the split's missing branch), not 0:
  // stated in the stored spec, so serving and evaluation give the model what the library would.
  const spec = input.featureSpec ?? [];
  const featureSpec = input.format === "onnx" || input.format === "cross-encoder" ? spec : spec.map((f) => ({ ...f, missing: f.missing ?? ("nan" as const) }));
  const limits = { maxFeatures: config.MODEL_MAX_FEATURES, maxTrees: config.MODEL_MAX_TREES, maxNodes: config.MODEL_MAX_NODES };
  if (spec.length > limits.maxFeatures) {
    throw new InvalidInputError("featureSpec", `${spec.length} features; the limit is ${limits.maxFeatures} (MODEL_MAX_FEATURES)`);
  }
  const sample = featureSpec.length > 0 ? await storeSample(db, featureSpec as FeatureSpec) : undefined;
  const result = await importInWorker(
    { format: input.format, filePath: form.file.path, featureSpec, limits, maxBytes: config.MODEL_MAX_BYTES, storeSample: sample },
    { timeoutMs: config.MODEL_IMPORT_TIMEOUT_MS, memoryMb: config.MODEL_IMPORT_MEMORY_MB },
    form.file.size,
  );
  const warnings = featureSpec.length > 0 ? unstoredFeatureWarnings(featureSpec as FeatureSpec, await storedFeatureNames(db)) : [];
  let metadata: Record<string, unknown> = { ...input.metadata, fileName: form.file.name, ...(warnings.length ? { uploadWarnings: warnings } : {}) };
  if (result.crossEncoder) metadata = { ...metadata, crossEncoder: result.crossEncoder };
  if (result.conversion) {
    const c = result.conversion;
    metadata = {
      ...metadata, importedFrom: input.format, objective: c.objective, nativeFeatureNames: c.featureNames,
      conversionMaxAbsDiff: c.maxAbsDiff, conversionMaxRelDiff: c.maxRelDiff, ...(c.notes.length ? { importNotes: c.notes } : {}),
    };
  }
  const version = await createVersion(db, {
    modelId: model.id, bytes: result.bytes, featureSpec, source: input.format === "onnx" || input.format === "cross-encoder" ? "upload" : input.format, format: input.format === "cross-encoder" ? "cross-encoder" : "onnx",
    metadata, metrics: input.metrics, parentVersionId, actor, validated: result.validated,
  });
  return { ...version, warnings };
}
