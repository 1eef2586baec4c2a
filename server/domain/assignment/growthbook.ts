// GrowthBook's deterministic bucketing and experiment evaluation, reimplemented so that a user
// lands in the same variation here as in GrowthBook's SDKs: it passes GrowthBook's cross-SDK
// conformance cases (fixtures/growthbook-cases.json, spec 0.8.0) and, where those are silent,
// follows the JavaScript SDK (@growthbook/growthbook 1.8.0).
//
// Deliberately left out, because a server-side reranker has no use for them: URL targeting and
// query-string overrides, sticky bucketing (and with it fallbackAttribute and bucket versions),
// prerequisite features, tracking callbacks.

import { evalCondition, type Condition, type SavedGroups } from "./condition";

export { evalCondition, type Condition, type SavedGroup, type SavedGroups } from "./condition";

/** Half-open bucket range [start, end) within [0, 1). */
export type VariationRange = readonly [start: number, end: number];

/** [namespace id, start, end]: experiments sharing an id with disjoint ranges never share a user. */
export type Namespace = readonly [id: string, start: number, end: number];

/** GrowthBook's newer replacement for namespaces: the user must hash into one of `ranges`. */
export interface Filter {
  seed: string;
  ranges: readonly VariationRange[];
  /** Defaults to "id". */
  attribute?: string;
  /** Defaults to 2 (unlike experiments, which default to 1). */
  hashVersion?: number;
}

export interface Experiment<T> {
  key: string;
  variations: readonly T[];
  weights?: readonly number[];
  coverage?: number;
  /** Defaults to "id". */
  hashAttribute?: string;
  /**
   * Only consulted by SDKs running a sticky-bucket service; without one (as here) the SDKs ignore
   * it, and so does this module. Accepted so GrowthBook payloads type-check.
   */
  fallbackAttribute?: string;
  /** Defaults to 1, GrowthBook's original (biased) hash, for backwards compatibility. */
  hashVersion?: number;
  /** Defaults to `key`. */
  seed?: string;
  namespace?: Namespace;
  condition?: Condition;
  /** Serve this variation (without counting the user as enrolled) to users who pass coverage. */
  force?: number;
  active?: boolean;
  status?: "draft" | "running" | "stopped";
  /** Extra predicate; a throw counts as false. */
  include?: () => boolean;
  /** When present, replaces `namespace`. */
  filters?: readonly Filter[];
  /** When present, replaces the ranges computed from `weights` and `coverage`. */
  ranges?: readonly VariationRange[];
}

export interface ExperimentContext {
  attributes?: { readonly [name: string]: unknown };
  /** false disables every experiment. */
  enabled?: boolean;
  /** Experiment key → variation index, for QA; wins over everything but `enabled`. */
  forcedVariations?: { readonly [experimentKey: string]: number };
  /** Nobody is enrolled, only forced variations are served. */
  qaMode?: boolean;
  savedGroups?: SavedGroups;
}

export interface ExperimentResult<T> {
  /** The assigned variation, or the first one (the control) when not in the experiment. */
  value: T | undefined;
  inExperiment: boolean;
  /** True only when the variation came from hashing (not forced), i.e. the user should be tracked. */
  hashUsed: boolean;
  variationId: number;
  hashAttribute: string;
  /** The hash attribute's value as hashed, "" when missing. */
  hashValue: string;
  /** The user's hash in [0, 1), present when the variation came from hashing. */
  bucket?: number;
}

const FNV_OFFSET_BASIS = 2166136261;
const FNV_PRIME = 16777619;

// 32-bit FNV-1a over UTF-16 code units. `state` lets callers hash a concatenation a + b as
// fnv(b, fnv(a)) without building the joined string on the per-request path.
function fnv1a32(text: string, state: number = FNV_OFFSET_BASIS): number {
  let h = state;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/**
 * The user's position in [0, 1) for a seed. Version 2 hashes seed + value twice (unbiased, 10,000
 * buckets); version 1 is GrowthBook's original value + seed hash (1,000 buckets). Any other
 * version gives null.
 */
export function hash(seed: string, value: string, version: number): number | null {
  if (version === 2) return (fnv1a32(String(fnv1a32(value, fnv1a32(seed)))) % 10000) / 10000;
  if (version === 1) return (fnv1a32(seed, fnv1a32(value)) % 1000) / 1000;
  return null;
}

export function getEqualWeights(n: number): number[] {
  return n <= 0 ? [] : new Array<number>(n).fill(1 / n);
}

/**
 * One range per variation: variation i owns [w0+…+w(i-1), that + coverage·wi). Ranges start at
 * the cumulative weight rather than being packed, so raising coverage only adds users and never
 * moves an enrolled user to another variation. Coverage is clamped to [0, 1]; weights fall back to
 * equal ones when missing, of the wrong count, or not summing to 1 (±0.01).
 */
export function getBucketRange(numVariations: number, coverage?: number, weights?: readonly number[] | null): VariationRange[] {
  let cover = coverage === undefined ? 1 : coverage;
  if (cover < 0) cover = 0;
  else if (cover > 1) cover = 1;

  let w: readonly number[] = weights ?? getEqualWeights(numVariations);
  if (w.length !== numVariations) w = getEqualWeights(numVariations);
  let total = 0;
  for (const x of w) total += x;
  if (total < 0.99 || total > 1.01) w = getEqualWeights(numVariations);

  let cumulative = 0;
  return w.map((x) => {
    const start = cumulative;
    cumulative += x;
    return [start, start + cover * x] as const;
  });
}

/** Index of the range holding n (ranges are half-open), or -1 when n is in none. */
export function chooseVariation(n: number, ranges: readonly VariationRange[]): number {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (n >= r[0] && n < r[1]) return i;
  }
  return -1;
}

/** Namespaces always hash with version 1 and the seed "__" + id, whatever the experiment uses. */
export function inNamespace(hashValue: string, namespace: Namespace): boolean {
  const n = hash(`__${namespace[0]}`, hashValue, 1);
  return n !== null && n >= namespace[1] && n < namespace[2];
}

const NO_ATTRIBUTES: { readonly [name: string]: unknown } = {};

// The hash attribute is a top-level attribute (not a dot-path). Falsy values (missing, null, "",
// 0, false) mean "no hash attribute" (null), as in the SDK; so does a value that cannot be turned
// into text (where the SDK would throw). Truthiness is judged on the raw value: [] is present and
// hashes as "".
function hashValueOf(attributes: { readonly [name: string]: unknown }, name: string): string | null {
  const raw = Object.hasOwn(attributes, name) ? attributes[name] : undefined;
  if (!raw) return null;
  try {
    return String(raw);
  } catch {
    return null;
  }
}

function isFilteredOut(filters: readonly Filter[], attributes: { readonly [name: string]: unknown }): boolean {
  return filters.some((filter) => {
    const value = hashValueOf(attributes, filter.attribute || "id");
    if (value === null) return true;
    const n = hash(filter.seed, value, filter.hashVersion || 2);
    return n === null || chooseVariation(n, filter.ranges) < 0;
  });
}

function isIncluded(include: () => boolean): boolean {
  try {
    return include();
  } catch {
    return false;
  }
}

/** GrowthBook's experiment evaluation (the SDKs' `run`), in the SDKs' order of checks. */
export function runExperiment<T>(experiment: Experiment<T>, context: ExperimentContext): ExperimentResult<T> {
  const { key, variations } = experiment;
  const attributes = context.attributes ?? NO_ATTRIBUTES;
  const hashAttribute = experiment.hashAttribute || "id";
  const hashValue = hashValueOf(attributes, hashAttribute);
  const hashText = hashValue ?? "";

  const result = (variationId: number, hashUsed: boolean, bucket?: number): ExperimentResult<T> => {
    // An out-of-range variation (e.g. a bad forced index) serves the control, not enrolled.
    const valid = variationId >= 0 && variationId < variations.length;
    const id = valid ? variationId : 0;
    const out: ExperimentResult<T> = { value: variations[id], inExperiment: valid, hashUsed, variationId: id, hashAttribute, hashValue: hashText };
    if (bucket !== undefined) out.bucket = bucket;
    return out;
  };
  const notIn = () => result(-1, false);

  if (variations.length < 2) return notIn();
  if (context.enabled === false) return notIn();

  const forced = context.forcedVariations;
  if (forced && Object.hasOwn(forced, key)) return result(forced[key] ?? -1, false);

  if (experiment.status === "draft" || experiment.active === false) return notIn();
  if (hashValue === null) return notIn();

  if (experiment.filters) {
    if (isFilteredOut(experiment.filters, attributes)) return notIn();
  } else if (experiment.namespace && !inNamespace(hashValue, experiment.namespace)) {
    return notIn();
  }
  if (experiment.include && !isIncluded(experiment.include)) return notIn();
  if (experiment.condition && !evalCondition(attributes, experiment.condition, context.savedGroups)) return notIn();

  const n = hash(experiment.seed || key, hashValue, experiment.hashVersion || 1);
  if (n === null) return notIn();
  const ranges = experiment.ranges ?? getBucketRange(variations.length, experiment.coverage === undefined ? 1 : experiment.coverage, experiment.weights);
  const assigned = chooseVariation(n, ranges);
  if (assigned < 0) return notIn();

  // A forced variation still respects coverage: only users who would be enrolled see it.
  if ("force" in experiment) return result(experiment.force ?? -1, false);
  if (context.qaMode) return notIn();
  if (experiment.status === "stopped") return notIn();

  return result(assigned, true, n);
}
