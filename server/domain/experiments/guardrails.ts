import { compareMeans, compareRatios, describeMean, describePaired, ratioOfMeans, type MeanSummary, type RatioSummary } from "../stats";
import { normalQuantile } from "../stats/distributions";
import { quantileInterval } from "../stats/quantiles";
import { adjustedProportionArms, armsWithoutSpread } from "./noSpread";

// Guardrails: "fallback rate must not rise by more than 20 %", judged with uncertainty.
//
// Rule, for each treatment against the control, with d the change in the guarded direction and
// [lo, hi] its 1 − α interval:
// - violated: d is past the threshold AND lo > 0 (the treatment is worse beyond noise);
// - ok: hi is within the threshold (the data rule out a change as large as the threshold);
// - inconclusive: anything else — the data cannot tell yet;
// - no data: an arm has no observations, or (metrics not bounded by [0, 1]) an arm shows no
//   spread, so the difference has no honest interval: "not enough spread".
// A value that cannot be computed (NaN) is never "ok".
//
// The threshold is relative to the control's value (margin = threshold × control). On a zero
// baseline a relative change is undefined (and any rise is infinite), so an absolute rule takes
// over: the metric's zeroBaselineMargin from the catalogue (1 point for rates), or, for a metric
// without one, the threshold read in the metric's unit. Issue #13, point 3.
//
// Guardrails are judged on fixed-horizon intervals at every look, whatever the decision engine:
// repeated looks can only make them fire more often, the safe direction for a guardrail.
// Rates use the Agresti–Caffo interval (one success and one failure added to each arm; Agresti &
// Caffo 2000), which stays sensible at 0 % and 100 % where Wald's has no width; so do the other
// metrics valued in [0, 1] when any arm shows no spread (noSpread.ts), rather than reading a
// constant arm's variance of 0 as a known value (one constant arm made Welch anti-conservative).
//
// A metric not bounded by [0, 1] (revenue, CTR) with a constant arm has no such bound: that arm's
// standard error of 0 is no information about its noise, not certainty (both constant: the
// difference's is 0; one constant: the interval is the other arm's alone, too narrow).
// The check is then "no data" with "not enough spread", never a zero-width interval read as exact.
// GrowthBook does the same in gbstats: a test whose variance is not positive returns its
// uninformative default result with the error ZERO_NEGATIVE_VARIANCE (no interval, no call). Here
// that is "no data" rather than "inconclusive" because nothing that cannot be computed passes: a
// ship is held until the metric varies (shipGate.ts), e.g. until someone in either arm buys.

export interface Guardrail {
  metric: string;
  direction: "increase" | "decrease";
  /** Relative change that must not be exceeded, e.g. 0.2 for 20 %. */
  threshold: number;
}

export type GuardrailStatus = "ok" | "inconclusive" | "violated" | "no data";

export interface GuardrailCheck {
  variant: string;
  status: GuardrailStatus;
  /** The change in the guarded direction (positive = worse), and its interval, in the rule's scale; null when not computable. */
  change: { estimate: number; lower: number; upper: number } | null;
  /** The margin compared with, in the same scale. */
  margin: number | null;
  rule: "relative" | "absolute (zero baseline)" | "relative p95, order statistics";
  /** One sentence with the figures. */
  detail: string;
}

const SEVERITY: Record<GuardrailStatus, number> = { ok: 0, "no data": 1, inconclusive: 2, violated: 3 };

/** The worst status over treatments (violated > inconclusive > no data > ok). */
export function worstStatus(checks: readonly GuardrailCheck[]): GuardrailStatus {
  return checks.reduce<GuardrailStatus>((w, c) => (SEVERITY[c.status] > SEVERITY[w] ? c.status : w), checks.length ? "ok" : "no data");
}

function classify(change: { estimate: number; lower: number; upper: number }, margin: number): GuardrailStatus {
  if (![change.estimate, change.lower, change.upper, margin].every(Number.isFinite)) return "inconclusive";
  if (change.estimate > margin && change.lower > 0) return "violated";
  if (change.upper <= margin) return "ok";
  return "inconclusive";
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/** Agresti–Caffo interval for p_T − p_C. */
function agrestiCaffo(control: MeanSummary, treatment: MeanSummary, alpha: number): { estimate: number; lower: number; upper: number } {
  const pc = describeMean(control).mean;
  const pt = describeMean(treatment).mean;
  const ac = (control.n * pc + 1) / (control.n + 2);
  const at = (treatment.n * pt + 1) / (treatment.n + 2);
  const se = Math.sqrt((ac * (1 - ac)) / (control.n + 2) + (at * (1 - at)) / (treatment.n + 2));
  const z = normalQuantile(1 - alpha / 2);
  const centre = at - ac;
  return { estimate: pt - pc, lower: centre - z * se, upper: centre + z * se };
}

/**
 * Fixed-horizon interval of the difference (Welch, or the delta method for a ratio), in the metric's
 * unit; the arms without spread (armsWithoutSpread: n ≥ 2 and a standard error of 0) when there are
 * any; null when an arm has fewer than 2 observations or the figures are not finite.
 */
function welchDifference(control: MeanSummary | RatioSummary, treatment: MeanSummary | RatioSummary, variant: string, alpha: number): { estimate: number; lower: number; upper: number } | { noSpread: string[] } | null {
  const effect = "sumX" in control ? compareRatios(control, treatment as RatioSummary, { analysis: "fixedHorizon", alpha }) : compareMeans(control, treatment as MeanSummary, { analysis: "fixedHorizon", alpha });
  const flat = armsWithoutSpread([{ name: "the control", estimate: effect.control }, { name: variant, estimate: effect.treatment }]);
  if (flat.length) return { noSpread: flat };
  if (Number.isFinite(effect.absolute.ci[0])) return { estimate: effect.absolute.estimate, lower: effect.absolute.ci[0], upper: effect.absolute.ci[1] };
  return null;
}

function armValue(s: MeanSummary | RatioSummary): number {
  return "sumX" in s ? ratioOfMeans(s).mean : describeMean(s).mean;
}

/**
 * Judge a guardrail on a rate, ratio or mean metric for each treatment.
 * `type` "proportion" uses the Agresti–Caffo interval, as does a `unitInterval` metric of which any
 * arm shows no spread (noSpread.ts); others the fixed-horizon Welch/delta interval, and "no data"
 * ("not enough spread") when either arm is constant (see the module comment).
 * @param control, treatments per-unit summaries (MeanSummary, or RatioSummary for a ratio metric).
 * @param alpha two-sided level of the intervals (default 0.05).
 * @returns one check per treatment; `change` and `margin` in the metric's unit (rates as fractions).
 */
export function judgeMetricGuardrail(
  guardrail: Guardrail,
  metric: { type: "proportion" | "ratio" | "mean"; zeroBaselineMargin?: number; unitInterval?: boolean },
  control: MeanSummary | RatioSummary,
  treatments: ReadonlyArray<{ variant: string; summary: MeanSummary | RatioSummary }>,
  alpha = 0.05,
): GuardrailCheck[] {
  const type = metric.type;
  const sign = guardrail.direction === "increase" ? 1 : -1;
  return treatments.map(({ variant, summary }) => {
    const noData = (why: string): GuardrailCheck => ({ variant, status: "no data", change: null, margin: null, rule: "relative", detail: why });
    if (control.n === 0 || summary.n === 0) return noData(`no observations yet in ${control.n === 0 ? "the control" : variant}`);
    if ("sumX" in control && (describePaired(control).meanX === 0 || describePaired(summary as RatioSummary).meanX === 0)) return noData("no denominator yet (e.g. no impressions)");
    const base = armValue(control);
    const zeroBaseline = base === 0;
    const margin = zeroBaseline ? (metric.zeroBaselineMargin ?? guardrail.threshold) : guardrail.threshold * Math.abs(base);
    const rule = zeroBaseline ? "absolute (zero baseline)" : "relative";
    const asProportions = type === "proportion" || (metric.unitInterval === true && !("sumX" in control) && adjustedProportionArms(control, summary as MeanSummary) !== null);
    const diff = asProportions ? agrestiCaffo(control as MeanSummary, summary as MeanSummary, alpha) : welchDifference(control, summary, variant, alpha);
    if (diff && "noSpread" in diff) {
      const which = diff.noSpread.length === 2 ? `neither the control nor ${variant} shows` : `${diff.noSpread[0]} shows`;
      return { variant, status: "no data", change: null, margin, rule, detail: `not enough spread: ${which} any spread between units (${fmt(base)} vs ${fmt(armValue(summary))}), so the difference has no honest interval; it cannot be judged until the values vary` };
    }
    if (!diff) return { variant, status: "inconclusive", change: null, margin, rule, detail: "each arm needs at least 2 observations with some spread for an interval" };
    // Signed so that positive means a move in the guarded (bad) direction.
    const change = sign > 0 ? diff : { estimate: -diff.estimate, lower: -diff.upper, upper: -diff.lower };
    const status = classify(change, margin);
    // Read as the page shows a metric: the treatment minus the control, with the side that violates it.
    const signed = (v: number) => `${v > 0 ? "+" : ""}${fmt(v)}`;
    const limit = `${guardrail.direction === "increase" ? "a rise past +" : "a fall past −"}${fmt(margin)}`;
    const detail = `${variant}: ${signed(diff.estimate)} against the control (95% CI ${signed(diff.lower)} to ${signed(diff.upper)}); ${limit} violates it${zeroBaseline ? " (the control is 0: a relative threshold of nothing is nothing, so an absolute margin applies)" : ` (${fmt(guardrail.threshold * 100)}% of the control's ${fmt(base)})`}`;
    return { variant, status, change, margin, rule, detail };
  });
}

/**
 * Judge a guardrail on a latency percentile (p95) for each treatment, from per-request samples
 * (ascending or not). Each arm's p95 gets a distribution-free interval at 1 − α/2 from order
 * statistics; the relative change's interval [lo_T/hi_C − 1, hi_T/lo_C − 1] then covers at ≥ 1 − α
 * (Bonferroni), with no assumption about the latency distribution.
 */
export function judgeLatencyGuardrail(
  guardrail: Guardrail,
  control: readonly number[],
  treatments: ReadonlyArray<{ variant: string; samples: readonly number[] }>,
  alpha = 0.05,
  q = 0.95,
): GuardrailCheck[] {
  const rule = "relative p95, order statistics" as const;
  const sortedControl = [...control].sort((a, b) => a - b);
  const c = quantileInterval(sortedControl, q, 1 - alpha / 2);
  return treatments.map(({ variant, samples }) => {
    if (sortedControl.length === 0 || samples.length === 0) return { variant, status: "no data", change: null, margin: guardrail.threshold, rule, detail: `no requests yet in ${sortedControl.length === 0 ? "the control" : variant}` };
    const t = quantileInterval([...samples].sort((a, b) => a - b), q, 1 - alpha / 2);
    if (!c || !t || !(c.lower > 0) || !(c.estimate > 0)) {
      return { variant, status: "inconclusive", change: null, margin: guardrail.threshold, rule, detail: `too few requests for an interval of the p95 (about 75 per arm needed; control ${sortedControl.length}, ${variant} ${samples.length})` };
    }
    const up = { estimate: t.estimate / c.estimate - 1, lower: t.lower / c.upper - 1, upper: t.upper / c.lower - 1 };
    const change = guardrail.direction === "increase" ? up : { estimate: -up.estimate, lower: -up.upper, upper: -up.lower };
    const status = classify(change, guardrail.threshold);
    const pctText = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;
    const detail = `${variant}: p95 ${fmt(t.estimate)} vs ${fmt(c.estimate)} ms, change ${pctText(up.estimate)} (95% CI ${pctText(up.lower)} to ${pctText(up.upper)}) against ${pctText(guardrail.direction === "increase" ? guardrail.threshold : -guardrail.threshold)}`;
    return { variant, status, change, margin: guardrail.threshold, rule, detail };
  });
}
