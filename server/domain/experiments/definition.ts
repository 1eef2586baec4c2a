// Rules of an experiment's definition that follow from the metric catalogue (metrics.ts): which
// metrics the analysis can compare, and which way a guardrail must point to guard anything.

import { METRIC_CATALOGUE, SELECTABLE_METRICS, metricDefinition, type SelectableMetric } from "./metrics";
import { withoutShareNoise } from "../percent";

/**
 * The metrics an experiment can compare as its primary or secondary metric: those the results table
 * computes per arm. p95 latency is a quantile of requests, judged only as a guardrail (with
 * order-statistics intervals) and shown beside the table; as a primary metric it never had a verdict.
 */
export const COMPARED_METRICS = SELECTABLE_METRICS.filter((m) => METRIC_CATALOGUE[m].type !== "quantile") as ReadonlyArray<Exclude<SelectableMetric, "latency_p95">>;

/** Whether `metric` can be an experiment's primary or secondary metric (COMPARED_METRICS). */
export const isComparedMetric = (metric: string): boolean => (COMPARED_METRICS as readonly string[]).includes(metric);

/**
 * The direction in which `metric` gets worse: "decrease" for a metric whose higher values are better
 * (CTR, conversion), "increase" for one whose lower values are (latency, fallback rate). A guardrail
 * guards that direction; one on the other guards an improvement, which nobody wants stopped.
 * @throws RangeError for a metric the catalogue does not know.
 */
export function worseningDirection(metric: string): "increase" | "decrease" {
  return metricDefinition(metric).higherIsBetter ? "decrease" : "increase";
}

/**
 * A definition field's value with its shares (variant weights, coverage, namespace bounds, guardrail
 * thresholds, the minimum detectable effect) beyond floating-point noise (withoutShareNoise); every
 * other value (targeting, seed, constraint overrides) as it is.
 */
export function sharesWithoutNoise(field: string, value: unknown): unknown {
  const share = (x: unknown) => (typeof x === "number" ? withoutShareNoise(x) : x);
  const each = (f: (item: Record<string, unknown>) => Record<string, unknown>) => (Array.isArray(value) ? value.map((item) => (item && typeof item === "object" ? f(item as Record<string, unknown>) : item)) : value);
  switch (field) {
    case "coverage": case "minDetectableEffect": return share(value);
    case "variants": return each((v) => ({ ...v, weight: share(v.weight) }));
    case "guardrails": return each((g) => ({ ...g, threshold: share(g.threshold) }));
    case "namespace": return value && typeof value === "object" ? { ...value, start: share((value as Record<string, unknown>).start), end: share((value as Record<string, unknown>).end) } : value;
    default: return value;
  }
}

/** A stored experiment as getExperiment reads it (the parts its definition is made of). */
export interface StoredExperiment {
  key: string; name: string; surface: { key: string }; kind: string; hypothesis: string; owner: string; hashAttribute: string; hashVersion: number; seed: string;
  coverage: number; namespace: unknown; targeting: unknown; primaryMetric: string; secondaryMetrics: unknown; guardrails: unknown; minDetectableEffect: number | null; analysisMode: string;
  variants: ReadonlyArray<{ key: string; name: string; weight: number; isControl: boolean; modelAlias: string | null; modelVersionId: string | null; constraintOverrides: unknown }>;
}

/**
 * A stored experiment in the shape of its definition (the form's input, with stored nulls): what an
 * edit's audit entry compares, what a restart request pins, and what the edit form sends back as
 * what it loaded (`expectBefore`). Shares stay as stored (fractions, never converted to percentages).
 */
export function storedDefinition(e: StoredExperiment) {
  return {
    key: e.key, name: e.name, surface: e.surface.key, kind: e.kind, hypothesis: e.hypothesis, owner: e.owner, hashAttribute: e.hashAttribute,
    hashVersion: e.hashVersion, seed: e.seed, coverage: e.coverage, namespace: e.namespace, targeting: e.targeting,
    variants: e.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, modelAlias: v.modelAlias, modelVersionId: v.modelVersionId, isControl: v.isControl, constraintOverrides: v.constraintOverrides })),
    primaryMetric: e.primaryMetric, secondaryMetrics: e.secondaryMetrics, guardrails: e.guardrails, minDetectableEffect: e.minDetectableEffect, analysisMode: e.analysisMode,
  };
}
export type StoredDefinition = ReturnType<typeof storedDefinition>;
