import { z } from "zod";
import type { FeatureSpec } from "../domain/features/featureSpec";

// Inputs of the model registry, validated at the edge (tRPC and the upload endpoint).

export const modelNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, "lower-case letters, digits, '.', '_' or '-', 2–63 characters");
export const aliasNameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "lower-case letters, digits, '_' or '-', starting with a letter");

export const featureSpecSchema = z
  .array(
    z.strictObject({
      name: z.string().min(1).max(128),
      source: z.enum(["candidate", "item", "user"]),
      type: z.literal("float").default("float"),
      default: z.number(),
      freshnessSeconds: z.number().int().positive().nullable().optional(),
      description: z.string().max(500).optional(),
      distribution: z.strictObject({ mean: z.number(), std: z.number().min(0), min: z.number(), max: z.number() }).optional(),
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

export const versionMetadataSchema = z
  .strictObject({
    trainingData: z.string().max(2000).optional(),
    hyperparameters: z.record(z.string(), z.unknown()).optional(),
    commit: z.string().max(100).optional(),
    notes: z.string().max(5000).optional(),
  })
  .catchall(z.unknown());

export const createModelSchema = z.strictObject({
  name: modelNameSchema,
  owner: z.string().min(1).max(200),
  description: z.string().max(2000).default(""),
  surface: z.string().min(1).max(100).optional(),
});

export const uploadFieldsSchema = z.strictObject({
  format: z.enum(["onnx", "lightgbm", "xgboost"]).default("onnx"),
  featureSpec: featureSpecSchema,
  metadata: versionMetadataSchema.default({}),
  metrics: z.record(z.string(), z.number()).default({}),
  parentVersion: z.number().int().min(1).optional(),
});
