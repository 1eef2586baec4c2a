import type { Actor } from "../audit/actor";
import type { Db } from "../db/client";
import { InvalidInputError, NotFoundError } from "../errors";
import { createRng } from "../domain/random";
import { describeZodError } from "../validation";
import { importModel } from "./importModel";
import { modelNameSchema, uploadFieldsSchema } from "./schema";
import { createVersion, maxModelBytes } from "./versions";

// The upload endpoint's work: multipart form → validated fields → (import) → checks → stored version.
// Every refusal names what to fix; nothing is written unless every check passed.

export interface UploadForm {
  file: File | null;
  fields: Record<string, string>;
}

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
 * Rows the converted model is checked on: zeros, then seeded uniform values in [0, 1] and a spread
 * beyond it, so that splits on both sides of typical thresholds are exercised.
 */
function sampleRows(featureCount: number, rows = 64): Float32Array {
  const rng = createRng(featureCount);
  const data = new Float32Array(rows * featureCount);
  for (let i = featureCount; i < data.length; i++) data[i] = i % 7 === 0 ? rng.normal() * 10 : rng.next();
  return data;
}

export async function uploadVersion(db: Db, modelName: string, form: UploadForm, actor: Actor) {
  // The name comes from the URL: checked like any input before it reaches a query.
  if (!modelNameSchema.safeParse(modelName).success) throw new InvalidInputError("model", `${JSON.stringify(modelName.slice(0, 80))} is not a model name (lower-case letters, digits, '.', '_' or '-', 2–63 characters)`);
  const model = await db.model.findUnique({ where: { name: modelName }, select: { id: true } });
  if (!model) throw new NotFoundError("model", modelName);
  if (!form.file) throw new InvalidInputError("file", "no file was attached");
  if (form.file.size > maxModelBytes()) {
    throw new InvalidInputError("file", `${(form.file.size / 1048576).toFixed(1)} MiB exceeds the ${(maxModelBytes() / 1048576).toFixed(1)} MiB limit (MODEL_MAX_BYTES)`);
  }
  const parsed = uploadFieldsSchema.safeParse({
    format: form.fields.format || undefined,
    featureSpec: parseJsonField(form.fields, "featureSpec"),
    metadata: parseJsonField(form.fields, "metadata"),
    metrics: parseJsonField(form.fields, "metrics"),
    parentVersion: form.fields.parentVersion ? Number(form.fields.parentVersion) : undefined,
  });
  if (!parsed.success) throw new InvalidInputError(parsed.error.issues[0]?.path[0]?.toString() ?? "input", describeZodError(parsed.error));
  const input = parsed.data;
  let parentVersionId: string | null = null;
  if (input.parentVersion) {
    const parent = await db.modelVersion.findUnique({ where: { modelId_version: { modelId: model.id, version: input.parentVersion } }, select: { id: true } });
    if (!parent) throw new InvalidInputError("parentVersion", `${modelName} has no version ${input.parentVersion}`);
    parentVersionId = parent.id;
  }
  let bytes = new Uint8Array(await form.file.arrayBuffer());
  let metadata: Record<string, unknown> = { ...input.metadata, fileName: form.file.name };
  if (input.format !== "onnx") {
    if (bytes.length === 0) throw new InvalidInputError("file", "the file is empty");
    const rows = 64;
    const converted = await importModel(input.format, new TextDecoder().decode(bytes), (features) => sampleRows(features, rows), rows);
    if (converted.numFeatures !== input.featureSpec.length) {
      throw new InvalidInputError("featureSpec", `the ${input.format} model takes ${converted.numFeatures} features but the feature spec declares ${input.featureSpec.length}`);
    }
    bytes = new Uint8Array(converted.onnx);
    metadata = { ...metadata, importedFrom: input.format, objective: converted.objective, nativeFeatureNames: converted.featureNames.slice(0, 50), conversionMaxAbsDiff: converted.maxAbsDiff };
  }
  return createVersion(db, {
    modelId: model.id, bytes, featureSpec: input.featureSpec, source: input.format === "onnx" ? "upload" : input.format,
    metadata, metrics: input.metrics, parentVersionId, actor,
  });
}
