import { z } from "zod";
import { SELECTABLE_METRICS } from "../domain/experiments/metrics";
import { constraintConfigSchema } from "../surfaces/constraints.schema";
import { decimal, float32, idString, jsonValue, text } from "../validation";

// What a product manager defines. Allocation fields (variants and weights, coverage, namespace,
// hash attribute and version, seed, targeting) are locked while an experiment runs: changing them
// needs a restart, which opens a new analysis phase.

/** The metrics a product manager can choose: the catalogue's (server/domain/experiments/metrics.ts). */
export const METRICS = SELECTABLE_METRICS;

const targetingRule = z.strictObject({
  // A request's context.attributes refuses a key "__proto__" (server/validation.ts record): a rule on it could never match.
  attribute: text(64, 1).refine((a) => a !== "__proto__", 'may not be "__proto__" (a request cannot carry an attribute of that name)'),
  op: z.enum(["eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "exists", "regex"]),
  // Compared with request attributes on every request: small, shallow JSON (a value, a list, a pattern).
  value: jsonValue({ maxDepth: 4, maxBytes: 16_384 }).optional(),
});

// A guardrail's threshold is the worsening it tolerates in its direction, relative to the control
// (0.2: "must not rise by more than 20 %"; 0 tolerates none; on a zero baseline the metric's absolute
// margin, server/domain/experiments/guardrails.ts). A negative one would demand an improvement, which
// is the primary metric's job; every metric is never negative, so a fall of 100 % or more can never
// be seen and such a guardrail could never fire.
const guardrail = z
  .strictObject({
    metric: z.enum(METRICS),
    direction: z.enum(["increase", "decrease"]),
    threshold: float32().min(0, "must not be negative: a threshold is the change tolerated in the guarded direction (0.2 = 20 %, 0 = none)"),
  })
  .superRefine((g, ctx) => {
    if (g.direction === "decrease" && g.threshold >= 1) {
      ctx.addIssue({ code: "custom", path: ["threshold"], message: `a fall of ${g.threshold * 100} % or more cannot happen to ${g.metric}, which is never negative: the guardrail could never fire (below 1, i.e. 100 %)` });
    }
  });

const variant = z.strictObject({
  key: text(32).regex(/^[a-z0-9_-]{1,32}$/, "lower-case letters, digits, '_' or '-'"),
  name: text(100, 1),
  weight: decimal(0, 1),
  isControl: z.boolean().default(false),
  modelAlias: idString(32).optional(),
  modelVersionId: idString().optional(),
  constraintOverrides: constraintConfigSchema.default({}),
});

export const experimentInputSchema = z
  .strictObject({
    key: text(63).regex(/^[a-z0-9][a-z0-9_-]{1,62}$/, "lower-case letters, digits, '_' or '-', 2–63 characters"),
    name: text(200, 1),
    surface: idString(),
    kind: z.enum(["ab", "interleaving"]).default("ab"),
    hypothesis: text(5000).default(""),
    owner: text(200, 1),
    hashAttribute: z.enum(["userKey", "sessionKey"]).default("userKey"),
    hashVersion: z.union([z.literal(1), z.literal(2)]).default(2),
    seed: text(100, 1).optional(),
    coverage: decimal(0, 1).default(1),
    namespace: z.strictObject({ id: text(64, 1), start: decimal(0, 1), end: decimal(0, 1) }).refine((n) => n.start < n.end, "start must be below end").nullable().optional(),
    targeting: z.array(targetingRule).max(20).default([]),
    variants: z.array(variant).min(2, "an experiment needs at least two variants").max(8),
    primaryMetric: z.enum(METRICS).default("ctr"),
    secondaryMetrics: z.array(z.enum(METRICS)).max(METRICS.length).default([]),
    guardrails: z.array(guardrail).max(20).default([]),
    minDetectableEffect: decimal(0, 10).positive().nullable().optional(),
    /** The engine that decides the verdict; the others are shown as secondary readings. */
    analysisMode: z.enum(["sequential", "fixed", "bayesian"]).default("sequential"),
  })
  .superRefine((e, ctx) => {
    const keys = new Set<string>();
    e.variants.forEach((v, i) => {
      if (keys.has(v.key)) ctx.addIssue({ code: "custom", path: ["variants", i, "key"], message: `"${v.key}" is used by another variant` });
      keys.add(v.key);
      if (!v.modelAlias && !v.modelVersionId) ctx.addIssue({ code: "custom", path: ["variants", i, "modelAlias"], message: "a variant needs a model alias or a model version" });
    });
    const total = e.variants.reduce((s, v) => s + v.weight, 0);
    if (Math.abs(total - 1) > 0.001) ctx.addIssue({ code: "custom", path: ["variants"], message: `weights sum to ${total.toFixed(3)}, not 1` });
    if (e.variants.filter((v) => v.isControl).length !== 1) ctx.addIssue({ code: "custom", path: ["variants"], message: "exactly one variant must be the control" });
    if (e.kind === "interleaving" && e.variants.length !== 2) ctx.addIssue({ code: "custom", path: ["variants"], message: "an interleaving experiment compares exactly two variants" });
  });

export type ExperimentInput = z.infer<typeof experimentInputSchema>;
