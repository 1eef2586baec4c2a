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
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: "custom", path, message });
    // The summary must describe one set of values (break test: min 5 / max 1, mean 100 in [0, 1] and sd 0 over a range were stored).
    // A mean and sd computed in floating point carry rounding noise: three 0.1s have mean
    // 0.10000000000000002 (> max) and sd 1.4e-17; numpy's mean of 1,000 × 0.7 is 0.6999999999999998
    // (< min), its std 1.1e-16. Within a relative tolerance (roundingSlack) they describe the values.
    const slack = roundingSlack(d.min, d.max);
    if (d.min > d.max) issue(["min"], `${d.min} is above max (${d.max})`);
    else if (d.mean < d.min - slack || d.mean > d.max + slack) issue(["mean"], `${d.mean} lies outside [min, max] = [${d.min}, ${d.max}]`);
    if (d.min < d.max && d.std === 0) issue(["std"], `0, yet the values range over [${d.min}, ${d.max}]: values that vary have a positive sd`);
    if (d.min === d.max && d.std > slack) issue(["std"], `${d.std}, yet min equals max (${d.min}): a constant has sd 0`);
    // Served values are binned as the float32 the model reads (server/domain/features/drift.ts): two
    // values or edges that are one float32 are one bin, and a served value could never tell them apart.
    const ascending = (a: number[]) => a.findIndex((v, i) => i > 0 && !(Math.fround(v) > Math.fround(a[i - 1]!)));
    if (d.kind === "categories") {
      if (!d.values || !d.shares || d.shares.length !== d.values.length) issue(["shares"], "categories need values and one share per value");
      else if (ascending(d.values) > 0) issue(["values", ascending(d.values)], "values must be distinct and ascending (as float32, the precision the model reads)");
      else {
        const outside = d.values.findIndex((v) => v < d.min || v > d.max);
        if (outside >= 0) issue(["values", outside], `${d.values[outside]} lies outside [min, max] = [${d.min}, ${d.max}]`);
        const empty = d.shares.indexOf(0);
        if (empty >= 0) issue(["shares", empty], `0 for the category ${d.values[empty]}: no training row took it; leave it out (a served value that training never took already counts as unseen)`);
      }
    } else if (d.kind === "quantiles") {
      if (!d.edges || !d.shares || d.shares.length !== d.edges.length + 1) issue(["shares"], "quantiles need edges and one share per bin (edges + 1)");
      else if (d.edges.length === 0) issue(["edges"], "at least one edge: a single bin holds every value, so drift could never show");
      else if (ascending(d.edges) > 0) issue(["edges", ascending(d.edges)], "edges must be distinct and ascending (as float32, the precision the model reads)");
      else quantileProblems(d as Required<typeof d>).forEach((p) => issue(p.path, p.message));
    } else if (d.values || d.edges || d.shares) {
      issue(["kind"], 'say "categories" or "quantiles" for values, edges and shares');
    }
    if (d.shares && Math.abs(d.shares.reduce((s, v) => s + v, 0) - 1) > 1e-4) issue(["shares"], "shares must add up to 1");
  });

/**
 * How far a mean may lie outside [min, max], and a constant's sd above 0, from floating-point
 * rounding alone: 1e-9 of the values' scale (max(|min|, |max|, 1)). Summation error grows with the
 * count of values (~n × 1.1e-16 relative, at worst): 1e-9 covers millions of values, and is far below
 * any real spread a float32 feature can have (its own precision is 6e-8 relative).
 */
function roundingSlack(min: number, max: number): number {
  return 1e-9 * Math.max(Math.abs(min), Math.abs(max), 1);
}

/**
 * Quantile bins that contradict the training range (bin 0 below edges[0], bin b in [edges[b−1],
 * edges[b]), the last from the last edge up): a bin wholly outside [min, max] that holds training
 * values, or one within it that holds none (a single served value there would read as drift). The
 * empty bins below min and above max that describeDistribution adds are what they should be.
 */
function quantileProblems(d: { min: number; max: number; edges: number[]; shares: number[] }): Array<{ path: Array<string | number>; message: string }> {
  const { min, max, edges, shares } = d;
  const k = edges.length;
  const outside = (b: number) => (b < k && edges[b]! <= min) || (b > 0 && edges[b - 1]! > max);
  for (let b = 0; b <= k; b++) {
    if (outside(b) && shares[b]! > 0) {
      // Name the edge that puts the bin outside the range.
      const below = b < k && edges[b]! <= min;
      const edge = below ? b : b - 1;
      return [{ path: ["edges", edge], message: `${edges[edge]} is ${below ? `at or below min (${min}), yet the bin below it` : `above max (${max}), yet the bin above it`} holds a share of ${shares[b]} of the training values` }];
    }
  }
  const empty = shares.findIndex((s, b) => s === 0 && !outside(b));
  if (empty >= 0) return [{ path: ["shares", empty], message: `0 for bin ${empty}, within the training range [${min}, ${max}]: no training value fell in it, so one served value there reads as drift; merge it with a neighbour` }];
  return [];
}

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
      // Matched exactly against a request's inline features and the store's keys: " ctr_7d " matches neither.
      if (f.name.trim() === "") ctx.addIssue({ code: "custom", path: [i, "name"], message: "is blank: name the feature" });
      else if (f.name !== f.name.trim()) ctx.addIssue({ code: "custom", path: [i, "name"], message: `${JSON.stringify(f.name)} has leading or trailing whitespace: a request or the store would have to send it exactly so` });
      if (f.source === "candidate" && f.freshnessSeconds != null) {
        ctx.addIssue({ code: "custom", path: [i, "freshnessSeconds"], message: "a candidate feature comes with each request and is never stale: freshnessSeconds applies to item and user features" });
      }
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
