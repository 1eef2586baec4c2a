import { z } from "zod";
import type { FeatureSpec } from "../domain/features/featureSpec";

// Inputs of the model registry, validated at the edge (tRPC and the upload endpoint).

export const modelNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, "lower-case letters, digits, '.', '_' or '-', 2–63 characters");
export const aliasNameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "lower-case letters, digits, '_' or '-', starting with a letter");

const share = z.number().min(0).max(1);

/** A feature's training distribution: the summary, and optionally the bins drift is measured on (see FeatureDistribution). */
const distributionSchema = z
  .strictObject({
    mean: z.number(),
    std: z.number().min(0),
    min: z.number(),
    max: z.number(),
    kind: z.enum(["categories", "quantiles"]).optional(),
    values: z.array(z.number()).max(1000).optional(),
    edges: z.array(z.number()).max(1000).optional(),
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
      name: z.string().min(1).max(128),
      source: z.enum(["candidate", "item", "user"]),
      type: z.literal("float").default("float"),
      default: z.number(),
      freshnessSeconds: z.number().int().positive().nullable().optional(),
      description: z.string().max(500).optional(),
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
