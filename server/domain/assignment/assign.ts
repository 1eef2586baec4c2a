// Experiment assignment for reranking requests: which variant (reranker) a user or session gets.
// It is GrowthBook's bucketing applied to our experiment definitions, so an assignment here equals
// what a GrowthBook SDK computes for an experiment with the same key, seed, hash version,
// normalised weights, coverage, namespace and targeting, with `hashAttribute` holding the same
// value. Assignment is deterministic, hence sticky: a user keeps their variant for as long as the
// allocation is unchanged, with nothing stored.
//
// Differences from running the GrowthBook SDK directly, all on purpose:
// - targeting sees `ctx.attributes` only, not userKey/sessionKey;
// - fewer than two variants enrols nobody (reported as "coverage": nobody is covered);
// - phase is carried for analysis and does not affect hashing; re-randomising takes a new seed.

import { evalCondition, type Condition } from "./condition";
import { chooseVariation, getBucketRange, hash, inNamespace, type Namespace, type VariationRange } from "./growthbook";

export interface ExperimentDefinition {
  key: string;
  /** Hash seed; an empty seed falls back to the key, as in GrowthBook. */
  seed: string;
  hashVersion: 1 | 2;
  hashAttribute: "userKey" | "sessionKey";
  /** Share of (namespace-eligible, targeted) traffic enrolled, in [0, 1]. */
  coverage: number;
  /** Weights are relative: they are normalised to sum to 1. */
  variants: Array<{ key: string; weight: number }>;
  namespace?: { id: string; start: number; end: number } | null;
  /** All rules must pass. */
  targeting: TargetingRule[];
  phase: number;
}

export type TargetingRule = {
  /** Attribute name; dots address nested attributes ("custom.segment"). */
  attribute: string;
  op: "eq" | "neq" | "in" | "nin" | "gt" | "gte" | "lt" | "lte" | "exists" | "regex";
  /** For "exists", false means "must be absent"; missing means true. */
  value?: unknown;
};

export interface AssignmentContext {
  userKey?: string;
  sessionKey?: string;
  /** Request attributes for targeting: country, device, returning, locale, custom… */
  attributes: Record<string, unknown>;
}

export type Assignment =
  | { experiment: string; phase: number; variant: string; variantIndex: number; /** bucket in [0, 1) */ hashValue: number; inExperiment: true }
  | { experiment: string; inExperiment: false; reason: "no_hash_attribute" | "targeting" | "namespace" | "coverage" };

const OPERATORS: Record<TargetingRule["op"], string> = {
  eq: "$eq",
  neq: "$ne",
  in: "$in",
  nin: "$nin",
  gt: "$gt",
  gte: "$gte",
  lt: "$lt",
  lte: "$lte",
  exists: "$exists",
  regex: "$regex",
};

/**
 * The GrowthBook condition for a rule list: an $and of one operator per rule. The $and keeps two
 * rules on one attribute from overwriting each other. eq/neq are GrowthBook's strict $eq/$ne, so
 * the string "1" does not equal the number 1.
 */
export function targetingCondition(rules: readonly TargetingRule[]): Condition {
  return {
    $and: rules.map((rule) => ({ [rule.attribute]: { [OPERATORS[rule.op]]: rule.op === "exists" ? (rule.value ?? true) : rule.value } })),
  };
}

/**
 * Weights scaled to sum to 1. Unusable weights (negative, non-finite, or all zero) give
 * undefined, which GrowthBook turns into equal weights.
 */
export function normalisedWeights(variants: ReadonlyArray<{ weight: number }>): number[] | undefined {
  let total = 0;
  for (const v of variants) {
    if (!(v.weight >= 0) || !Number.isFinite(v.weight)) return undefined;
    total += v.weight;
  }
  return total > 0 ? variants.map((v) => v.weight / total) : undefined;
}

/** What assignment needs from a definition, computed once rather than on every request. */
interface PreparedExperiment {
  seed: string;
  ranges: VariationRange[];
  namespace: Namespace | null;
  condition: Condition | null;
}

// Definitions are immutable snapshots (allocation fields are locked while an experiment runs and a
// change starts a new phase), so preparing one per definition object is safe; the WeakMap lets
// retired definitions be collected.
const preparedByDefinition = new WeakMap<ExperimentDefinition, PreparedExperiment>();

function prepare(def: ExperimentDefinition): PreparedExperiment {
  let prepared = preparedByDefinition.get(def);
  if (!prepared) {
    const ns = def.namespace;
    prepared = {
      seed: def.seed || def.key,
      ranges: def.variants.length < 2 ? [] : getBucketRange(def.variants.length, def.coverage, normalisedWeights(def.variants)),
      namespace: ns ? [ns.id, ns.start, ns.end] : null,
      condition: def.targeting.length > 0 ? targetingCondition(def.targeting) : null,
    };
    preparedByDefinition.set(def, prepared);
  }
  return prepared;
}

/** The variant for this request, checked in GrowthBook's order: hash attribute, namespace, targeting, coverage. */
export function assignVariant(def: ExperimentDefinition, ctx: AssignmentContext): Assignment {
  const prepared = prepare(def);
  const raw: unknown = ctx[def.hashAttribute];
  if (!raw) return { experiment: def.key, inExperiment: false, reason: "no_hash_attribute" };
  // Untyped callers may pass a number; GrowthBook hashes its text, and so do we.
  const hashValue = typeof raw === "string" ? raw : String(raw);
  if (prepared.namespace && !inNamespace(hashValue, prepared.namespace)) return { experiment: def.key, inExperiment: false, reason: "namespace" };
  if (prepared.condition && !evalCondition(ctx.attributes, prepared.condition)) return { experiment: def.key, inExperiment: false, reason: "targeting" };

  const n = hash(prepared.seed, hashValue, def.hashVersion);
  const variantIndex = n === null ? -1 : chooseVariation(n, prepared.ranges);
  const variant = def.variants[variantIndex];
  if (n === null || !variant) return { experiment: def.key, inExperiment: false, reason: "coverage" };
  return { experiment: def.key, phase: def.phase, variant: variant.key, variantIndex, hashValue: n, inExperiment: true };
}

/**
 * Every experiment's assignment, each decided independently. Experiments on one surface that must
 * not share users take disjoint ranges of one namespace; that, not this function, keeps them apart.
 */
export function assignAll(defs: readonly ExperimentDefinition[], ctx: AssignmentContext): Assignment[] {
  const out: Assignment[] = new Array<Assignment>(defs.length);
  for (let i = 0; i < defs.length; i++) out[i] = assignVariant(defs[i]!, ctx);
  return out;
}
