import { z } from "zod";
import { targetingRuleProblem } from "../domain/assignment/targetingRules";
import { isComparedMetric, worseningDirection } from "../domain/experiments/definition";
import { SELECTABLE_METRICS } from "../domain/experiments/metrics";
import { constraintConfigSchema } from "../surfaces/constraints.schema";
import { decimal, float32, idString, int32, jsonValue, text, visibleCount } from "../validation";

// What a product manager defines. Once an experiment has started, its allocation fields (variants
// and weights, coverage, namespace, hash attribute and version, seed, targeting) and its decision
// rule (primary metric, guardrails, analysis engine, minimum detectable effect) change only by a
// restart, which opens a new analysis phase (server/experiments/service.ts).

/** The metrics a product manager can choose: the catalogue's (server/domain/experiments/metrics.ts). */
export const METRICS = SELECTABLE_METRICS;

/** Text a reader sees something of (a name, an owner): not only spaces or invisible characters (visibleCount). */
const visibleText = (max: number) => text(max, 1).refine((s) => visibleCount(s) > 0, "must have a visible character (not only spaces or invisible ones)");

const targetingRule = z
  .strictObject({
    // A request's context.attributes refuses a key "__proto__" (server/validation.ts record): a rule on it could never match.
    attribute: text(64, 1).refine((a) => a !== "__proto__", 'may not be "__proto__" (a request cannot carry an attribute of that name)'),
    op: z.enum(["eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "exists", "regex"]),
    // Compared with request attributes on every request: small, shallow JSON (a value, a list, a pattern).
    value: jsonValue({ maxDepth: 4, maxBytes: 16_384 }).optional(),
  })
  .superRefine((rule, ctx) => {
    // A rule that can never match would enrol nobody, silently.
    const problem = targetingRuleProblem(rule);
    if (problem) ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
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
    // A guardrail on the metric's improvement ("CTR must not rise") stops nothing a product manager fears.
    const worse = worseningDirection(g.metric);
    if (g.direction !== worse) {
      ctx.addIssue({ code: "custom", path: ["direction"], message: `${g.metric} gets worse when it ${worse === "increase" ? "rises" : "falls"}: a guardrail on it ${g.direction === "increase" ? "rising" : "falling"} would guard an improvement; use "${worse}"` });
    }
    if (g.direction === "decrease" && g.threshold >= 1) {
      ctx.addIssue({ code: "custom", path: ["threshold"], message: `a fall of ${g.threshold * 100} % or more cannot happen to ${g.metric}, which is never negative: the guardrail could never fire (below 1, i.e. 100 %)` });
    }
  });

const variant = z.strictObject({
  key: text(32).regex(/^[a-z0-9_-]{1,32}$/, "lower-case letters, digits, '_' or '-'"),
  name: visibleText(100),
  // A variant of weight 0 is never served: its arm stays empty and the sample-ratio check fails.
  weight: decimal(0, 1).refine((w) => w > 0, "must be above 0 (a variant of weight 0 is never served; remove it instead)"),
  isControl: z.boolean().default(false),
  modelAlias: idString(32).optional(),
  modelVersionId: idString().optional(),
  constraintOverrides: constraintConfigSchema.default({}),
});

const experimentFields = z.strictObject({
  key: text(63).regex(/^[a-z0-9][a-z0-9_-]{1,62}$/, "lower-case letters, digits, '_' or '-', 2–63 characters"),
  name: visibleText(200),
  surface: idString(),
  kind: z.enum(["ab", "interleaving"]).default("ab"),
  hypothesis: text(5000).default(""),
  owner: visibleText(200),
  hashAttribute: z.enum(["userKey", "sessionKey"]).default("userKey"),
  hashVersion: z.union([z.literal(1), z.literal(2)]).default(2),
  seed: text(100, 1).optional(),
  coverage: decimal(0, 1).refine((c) => c > 0, "must be above 0 (coverage 0 enrols nobody)").default(1),
  namespace: z.strictObject({ id: text(64, 1), start: decimal(0, 1), end: decimal(0, 1) }).refine((n) => n.start < n.end, "start must be below end").nullable().optional(),
  targeting: z.array(targetingRule).max(20).default([]),
  variants: z.array(variant).min(2, "an experiment needs at least two variants").max(8),
  primaryMetric: z.enum(METRICS).refine(isComparedMetric, { error: (issue) => `${String(issue.input)} is judged as a guardrail only (the results table does not compare it): choose another primary metric` }).default("ctr"),
  secondaryMetrics: z.array(z.enum(METRICS)).max(METRICS.length).default([]),
  guardrails: z.array(guardrail).max(20).default([]),
  minDetectableEffect: decimal(0, 10).positive().nullable().optional(),
  /** The engine that decides the verdict; the others are shown as secondary readings. */
  analysisMode: z.enum(["sequential", "fixed", "bayesian"]).default("sequential"),
});

/** The rules across a definition's fields (unique variant keys, one control, weights summing to 1…), each issue at its field. */
function checkDefinition(e: z.output<typeof experimentFields>, ctx: z.RefinementCtx) {
  const keys = new Set<string>();
  e.variants.forEach((v, i) => {
    if (keys.has(v.key)) ctx.addIssue({ code: "custom", path: ["variants", i, "key"], message: `"${v.key}" is used by another variant` });
    keys.add(v.key);
    if (!v.modelAlias && !v.modelVersionId) ctx.addIssue({ code: "custom", path: ["variants", i, "modelAlias"], message: "a variant needs a model alias or a model version" });
    // A pinned version wins over an alias in serving: the alias would be shown and never used.
    if (v.modelAlias && v.modelVersionId) ctx.addIssue({ code: "custom", path: ["variants", i, "modelVersionId"], message: "a variant serves a model alias or a pinned version, not both" });
  });
  const seen = new Set<string>();
  e.secondaryMetrics.forEach((m, i) => {
    if (!isComparedMetric(m)) ctx.addIssue({ code: "custom", path: ["secondaryMetrics", i], message: `${m} is judged as a guardrail only (the results table does not compare it)` });
    else if (m === e.primaryMetric) ctx.addIssue({ code: "custom", path: ["secondaryMetrics", i], message: `${m} is the primary metric` });
    else if (seen.has(m)) ctx.addIssue({ code: "custom", path: ["secondaryMetrics", i], message: `${m} is listed twice` });
    seen.add(m);
  });
  const guarded = new Set<string>();
  e.guardrails.forEach((g, i) => {
    const rule = `${g.metric} ${g.direction}`;
    if (guarded.has(rule)) ctx.addIssue({ code: "custom", path: ["guardrails", i], message: `another guardrail already guards ${g.metric} against a ${g.direction}: keep one threshold` });
    guarded.add(rule);
  });
  // Interleaving judges by credited clicks only (one interleaved list per request: no arm has metrics of its own).
  if (e.kind === "interleaving" && e.guardrails.length) ctx.addIssue({ code: "custom", path: ["guardrails"], message: "an interleaving experiment is judged by credited clicks only: it has no guardrails (run an A/B test to guard metrics)" });
  if (e.kind === "interleaving" && e.secondaryMetrics.length) ctx.addIssue({ code: "custom", path: ["secondaryMetrics"], message: "an interleaving experiment is judged by credited clicks only: it has no secondary metrics" });
  const total = e.variants.reduce((s, v) => s + v.weight, 0);
  if (Math.abs(total - 1) > 0.001) ctx.addIssue({ code: "custom", path: ["variants"], message: `weights sum to ${total.toFixed(3)}, not 1` });
  if (e.variants.filter((v) => v.isControl).length !== 1) ctx.addIssue({ code: "custom", path: ["variants"], message: "exactly one variant must be the control" });
  if (e.kind === "interleaving" && e.variants.length !== 2) ctx.addIssue({ code: "custom", path: ["variants"], message: "an interleaving experiment compares exactly two variants" });
}

export const experimentInputSchema = experimentFields.superRefine(checkDefinition);
export type ExperimentInput = z.infer<typeof experimentInputSchema>;

// What a page showed of a stored experiment, sent back with a lever so that a change made since is
// refused (409) instead of applied over it (server/experiments/service.ts). Compared with what is
// stored, never applied: typed loosely (any stored value passes, as stored: shares as fractions) and bounded.
const shownVariant = z.strictObject({
  key: text(32), weight: float32(), isControl: z.boolean(), modelAlias: text(100).nullable(), modelVersionId: text(100).nullable(),
  // As large as a stored override can be (the request body's 1 MiB bounds the whole): a 64 KB cap refused every pinned save of a variant blocking ~6,000 ids.
  constraintOverrides: jsonValue({ maxDepth: 8, maxBytes: 1_048_576 }),
});
const shownAllocationFields = {
  kind: text(32), coverage: float32(), namespace: jsonValue({ maxDepth: 2, maxBytes: 1_024 }), hashAttribute: text(32), hashVersion: int32(), seed: text(100),
  targeting: jsonValue({ maxDepth: 6, maxBytes: 400_000 }),
};

/** An experiment's allocation as a page showed it (the shape of experimentAllocation): `expectAllocation`. */
export const shownAllocationSchema = z.strictObject({ ...shownAllocationFields, variants: z.array(shownVariant).max(8) });

const shownDecisionFields = {
  primaryMetric: text(64), guardrails: jsonValue({ maxDepth: 3, maxBytes: 16_384 }), minDetectableEffect: float32().nullable(), analysisMode: text(32),
};

/** An experiment's decision rule as a page showed it (the shape of experimentDecision: primary metric, guardrails, engine, MDE): `expectDecision`. */
export const shownDecisionSchema = z.strictObject(shownDecisionFields);

/**
 * An experiment as a page (the edit form) loaded it: its phase, its status and its stored definition
 * (storedDefinition, server/domain/experiments/definition.ts): `expectBefore` of an edit or a restart.
 */
export const shownExperimentSchema = z.strictObject({
  phase: int32(),
  status: text(16),
  definition: z.strictObject({
    ...shownAllocationFields,
    key: text(63), name: text(200), surface: text(100), hypothesis: text(5000), owner: text(200),
    variants: z.array(shownVariant.extend({ name: text(100) })).max(8),
    ...shownDecisionFields, secondaryMetrics: jsonValue({ maxDepth: 2, maxBytes: 4_096 }),
  }),
});

/** An edit: the whole definition, and `expectBefore`, the experiment as the form loaded it (absent: not checked). */
export const experimentUpdateSchema = experimentFields.extend({ expectBefore: shownExperimentSchema.optional() }).superRefine(checkDefinition);

/**
 * What the ship dialog showed, sent with a ship (experiments.ship) or its request (experiment_ship):
 * the version it named (shipTarget's), the analysis phase whose results it read, and the keys of the
 * checks it showed blocking (ShipBlock.key). Each omitted: not checked.
 */
export const shownShipFields = {
  expectVersionId: idString().optional(),
  expectPhase: int32(1).optional(),
  expectBlockers: z.array(text(200)).max(100).optional(),
};
