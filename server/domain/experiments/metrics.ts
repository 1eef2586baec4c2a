// The metric catalogue: every metric the console computes, defined once. The experiment schema,
// the experiment form, the results page and the executive page read their names, definitions,
// units and directions from here, so "conversion" means the same thing everywhere (issue #13,
// point 9: the executive page once showed purchases ÷ sessions as a percent, 186.82 %).

export type MetricUnit = "rate" | "currency" | "score" | "ms" | "count";

/**
 * How a metric is estimated per arm:
 * - proportion: the share of units (or requests) for which something happened (0/1 per unit);
 * - ratio: Σ numerator / Σ denominator over units, delta-method variance (units are randomised,
 *   not the events inside them);
 * - mean: the mean of a per-unit (or per-request) value;
 * - quantile: a percentile of per-request values, with an order-statistics interval.
 */
export type MetricType = "proportion" | "ratio" | "mean" | "quantile";

export interface MetricDefinition {
  /** Short name, for table headers and selects. */
  label: string;
  /** What is counted and divided, in a sentence. */
  definition: string;
  unit: MetricUnit;
  higherIsBetter: boolean;
  type: MetricType;
  /** What one observation is: the randomisation unit (a user or a session) or a request. */
  observation: "unit" | "request" | "clicked request";
  /** Can be chosen as a primary, secondary or guardrail metric (false: computed for the analysis only). */
  selectable: boolean;
  /**
   * The change that counts for a guardrail when the control's value is 0, in the metric's unit: a
   * relative threshold of nothing is nothing, so an absolute rule takes over (issue #13, point 3).
   */
  zeroBaselineMargin?: number;
  /**
   * Every observation's value lies in [0, 1] by definition (a 0/1 outcome, or a share of a unit's
   * requests): when neither arm shows any spread, the comparison and the guardrail read the arms
   * as proportions (noSpread.ts). Not CTR: a ratio of per-unit sums (delta method), whose
   * observation is a unit's clicks and impressions, not a value in [0, 1].
   */
  unitInterval?: boolean;
}

/** NDCG's cut-off for the click-based ranking metrics. */
export const NDCG_K = 10;
/** Days before the phase started whose clicks per unit serve as CUPED's covariate. */
export const CUPED_PRE_DAYS = 14;

/**
 * Click-through rate by its standard definition, as the executive and rollout figures count it: a
 * click counts only on an item its request showed, at most as often as it was shown, so it lies in
 * [0, 1]. The experiment rollups count a unit's clicks, not which items they were on: experiment CTR
 * counts a unit's clicks up to its impressions (METRIC_CATALOGUE.ctr), which bounds it the same way.
 */
export const CLICK_THROUGH_DEFINITION = "clicks ÷ impressions, a click counting only on an item its request showed (at most once per impression)";

export const METRIC_CATALOGUE = {
  ctr: {
    label: "CTR",
    definition: "clicks ÷ impressions, summed over the randomisation units of an arm, each unit's clicks counting up to its impressions",
    unit: "rate", higherIsBetter: true, type: "ratio", observation: "unit", selectable: true, zeroBaselineMargin: 0.01,
  },
  conversion: {
    label: "Conversion",
    definition: "share of units (users, or sessions without a user) with at least one purchase",
    unit: "rate", higherIsBetter: true, type: "proportion", observation: "unit", selectable: true, zeroBaselineMargin: 0.01, unitInterval: true,
  },
  revenue_per_session: {
    label: "Revenue per unit",
    definition: "purchase revenue ÷ units (users, or sessions without a user)",
    unit: "currency", higherIsBetter: true, type: "mean", observation: "unit", selectable: true,
  },
  ndcg: {
    label: `NDCG@${NDCG_K} from clicks`,
    definition: `mean over requests with a click of NDCG@${NDCG_K}, clicked items counting as relevant; a ratio of per-unit sums (delta method), n is units`,
    unit: "score", higherIsBetter: true, type: "mean", observation: "unit", selectable: true, zeroBaselineMargin: 0.01, unitInterval: true,
  },
  mrr: {
    label: "MRR from clicks",
    definition: "mean over requests with a click of 1 ÷ the position of the first click; a ratio of per-unit sums (delta method), n is units",
    unit: "score", higherIsBetter: true, type: "mean", observation: "unit", selectable: true, zeroBaselineMargin: 0.01, unitInterval: true,
  },
  latency_p95: {
    label: "p95 latency",
    definition: "95th percentile of the request's server-side latency, in ms",
    unit: "ms", higherIsBetter: false, type: "quantile", observation: "request", selectable: true,
  },
  fallback_rate: {
    label: "Fallback rate",
    definition: "share of requests served by a fallback (cascade model or retrieval order); a ratio of per-unit sums (delta method), n is units",
    // One point, the tolerance the canary analysis also allows a fallback rate. A mean of per-unit
    // linearised values (perUnit.ts), not a proportion of independent requests.
    unit: "rate", higherIsBetter: false, type: "mean", observation: "unit", selectable: true, zeroBaselineMargin: 0.01, unitInterval: true,
  },
  clicks_cuped: {
    label: "Clicks per unit (CUPED)",
    definition: `clicks per unit, adjusted by the same unit's clicks in the ${CUPED_PRE_DAYS} days before the experiment first started (CUPED)`,
    unit: "count", higherIsBetter: true, type: "mean", observation: "unit", selectable: false,
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRIC_CATALOGUE;

/** The metrics a product manager can choose (primary, secondary, guardrail), in catalogue order. */
export const SELECTABLE_METRICS = ["ctr", "conversion", "revenue_per_session", "ndcg", "mrr", "latency_p95", "fallback_rate"] as const satisfies readonly MetricKey[];
export type SelectableMetric = (typeof SELECTABLE_METRICS)[number];

export function metricDefinition(key: string): MetricDefinition {
  const definition = (METRIC_CATALOGUE as Record<string, MetricDefinition>)[key];
  if (!definition) throw new RangeError(`unknown metric "${key}"; known: ${Object.keys(METRIC_CATALOGUE).join(", ")}`);
  return definition;
}

/** A metric value in its unit: a rate as a percent, money with two decimals, a score with four, ms with two. */
export function formatMetricValue(key: string, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "—";
  switch (metricDefinition(key).unit) {
    case "rate":
      return `${(value * 100).toFixed(2)}%`;
    case "currency":
      return value.toFixed(2);
    case "score":
      return value.toFixed(4);
    case "ms":
      return `${value.toFixed(2)} ms`;
    case "count":
      return value.toFixed(3);
  }
}
