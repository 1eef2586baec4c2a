import { z } from "zod";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { float32, idString, int32, jsonProblem, jsonValue, keepingEveryKey, record, text } from "../validation";

// Inputs of the model registry, validated at the edge (tRPC and the upload endpoint).

export const modelNameSchema = text(63).regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, "lower-case letters, digits, '.', '_' or '-', 2–63 characters");
export const aliasNameSchema = text(32).regex(/^[a-z][a-z0-9_-]{0,31}$/, "lower-case letters, digits, '_' or '-', starting with a letter");

const share = z.number().min(0).max(1);

/** A feature's training distribution: the summary, and optionally the bins drift is measured on (see FeatureDistribution). */
const distributionSchema = z
  .strictObject({
    mean: float32(),
    std: float32().min(0),
    min: float32(),
    max: float32(),
    kind: z.enum(["categories", "quantiles"]).optional(),
    values: z.array(float32()).max(1000).optional(),
    edges: z.array(float32()).max(1000).optional(),
    shares: z.array(share).max(1001).optional(),
  })
  .superRefine((d, ctx) => {
    const ascending = (a: number[]) => a.every((v, i) => i === 0 || v > a[i - 1]!);
    if (d.kind === "categories") {
      if (!d.values || !d.shares || d.shares.length !== d.values.length) ctx.addIssue({ code: "custom", path: ["shares"], message: "categories need values and one share per value" });
      else if (!ascending(d.values)) ctx.addIssue({ code: "custom", path: ["values"], message: "values must be distinct and ascending" });
    } else if (d.kind === "quantiles") {
      if (!d.edges || !d.shares || d.shares.length !== d.edges.length + 1) ctx.addIssue({ code: "custom", path: ["shares"], message: "quantiles need edges and one share per bin (edges + 1)" });
      else if (!ascending(d.edges)) ctx.addIssue({ code: "custom", path: ["edges"], message: "edges must be distinct and ascending" });
    } else if (d.values || d.edges || d.shares) {
      ctx.addIssue({ code: "custom", path: ["kind"], message: 'say "categories" or "quantiles" for values, edges and shares' });
    }
    if (d.shares && Math.abs(d.shares.reduce((s, v) => s + v, 0) - 1) > 1e-4) ctx.addIssue({ code: "custom", path: ["shares"], message: "shares must add up to 1" });
  });

export const featureSpecSchema = z
  .array(
    z.strictObject({
      // "__proto__" cannot be sent inline (a rerank request refuses that key) nor shown by a page (superjson refuses it).
      name: text(128, 1).refine((n) => n !== "__proto__", 'may not be "__proto__" (a request cannot send it, a page cannot show it)'),
      source: z.enum(["candidate", "item", "user"]),
      type: z.literal("float").default("float"),
      // Defaults go into the model's float32 input as they are.
      default: float32(),
      freshnessSeconds: int32(1).nullable().optional(),
      description: text(500).optional(),
      distribution: distributionSchema.optional(),
      missing: z.enum(["default", "nan"]).optional(),
    }),
  )
  .min(1, "a model needs at least one feature")
  .max(4096)
  .superRefine((spec, ctx) => {
    const seen = new Map<string, number>();
    spec.forEach((f, i) => {
      const first = seen.get(f.name);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "name"], message: `"${f.name}" is already feature ${first}` });
      else seen.set(f.name, i);
    });
  }) satisfies z.ZodType<FeatureSpec>;

/**
 * Metadata keys the registry writes itself (the upload, an import, a cross-encoder's check): a
 * caller's value for one would pass for the server's — a fake upload warning, a conversion's error
 * bound, a cross-encoder's config on a tabular model — and a value of another shape broke the
 * version's page for everyone (re-break: `{"uploadWarnings":"boom"}` made it a 500, for good).
 */
export const SERVER_METADATA_KEYS = ["fileName", "uploadWarnings", "crossEncoder", "importedFrom", "objective", "nativeFeatureNames", "conversionMaxAbsDiff", "conversionMaxRelDiff", "importNotes"] as const;

export const versionMetadataSchema = keepingEveryKey(z
  .strictObject({
    trainingData: text(2000).optional(),
    hyperparameters: record(text(128), jsonValue({ maxDepth: 8, maxBytes: 16_384 })).optional(),
    commit: text(100).optional(),
    notes: text(5000).optional(),
  })
  .catchall(jsonValue({ maxDepth: 8, maxBytes: 16_384 }))
  // Stored beside the version (jsonb) and shown on its card.
  .check((ctx) => {
    const problem = jsonProblem(ctx.value, { maxDepth: 9, maxBytes: 65_536 });
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    for (const key of SERVER_METADATA_KEYS) {
      if (Object.hasOwn(ctx.value, key)) ctx.issues.push({ code: "custom", path: [key], message: "set by the registry itself, not by the uploader", input: ctx.value });
    }
  }));

export const createModelSchema = z.strictObject({
  name: modelNameSchema,
  owner: text(200, 1),
  description: text(2000).default(""),
  surface: text(100, 1).optional(),
});

/** What an upload may be: an ONNX tabular model, a tree model to convert, or a cross-encoder bundle (.tar/.tgz/.zip). */
export const modelFormats = ["onnx", "lightgbm", "xgboost", "cross-encoder"] as const;

export const uploadFieldsSchema = z.strictObject({
  format: z.enum(modelFormats).default("onnx"),
  /** Required for tabular formats; a cross-encoder reads text, not features, and takes none. */
  featureSpec: featureSpecSchema.optional(),
  metadata: versionMetadataSchema.default({}),
  metrics: record(text(128, 1), float32(), { maxKeys: 256, tooMany: "at most 256 metrics" }).default({}),
  parentVersion: int32(1).optional(),
}).superRefine((fields, ctx) => {
  if (fields.format === "cross-encoder" && fields.featureSpec) ctx.addIssue({ code: "custom", path: ["featureSpec"], message: "a cross-encoder bundle takes no feature spec: it scores (query, document) text" });
  if (fields.format !== "cross-encoder" && !fields.featureSpec) ctx.addIssue({ code: "custom", path: ["featureSpec"], message: `a ${fields.format} model needs its feature spec (a JSON array of features)` });
});

/**
 * The version a page showed an alias on (null: unset), sent with a move of it (an alias move, a
 * ship, a rollback). Given, the move is refused (409) if the alias points elsewhere when it is
 * applied, directly or on approval: nobody moves an alias from a state they did not see. Omitted: not checked.
 */
export const expectFromVersionIdSchema = idString().nullable().optional();
