import {
  adjustPValues, chanceToBeatControl, compareArms, compareMeans, compareRatios, compareWithCuped, describeMean, describePaired, fiellerLiftInterval, planSampleSize, ratioOfMeans,
  sequentialSignTest, signTest, srmCheck, type CovariateSummary, type EffectResult, type MeanSummary, type RatioSummary, type SampleSizePlan, type SignTestResult,
} from "../stats";
import { normalQuantile } from "../stats/distributions";
import { quantileSorted } from "../stats/describe";
import { judgeLatencyGuardrail, judgeMetricGuardrail, worstStatus, type Guardrail, type GuardrailCheck, type GuardrailStatus } from "./guardrails";
import { METRIC_CATALOGUE, metricDefinition, type MetricDefinition, type MetricKey, type MetricUnit } from "./metrics";
import { adjustedProportionArms, armsWithoutSpread, NO_SPREAD_NOTE, UNBOUNDED_NO_SPREAD_RULE } from "./noSpread";

// The analysis of an experiment, as a pure function of sufficient statistics per variant — the
// split GrowthBook makes between its app (SQL) and gbstats (numbers in, results out). The service
// (server/experiments/results.ts) only queries; everything decided here is unit-tested.
//
// Output promise: no NaN or Infinity anywhere. A figure that cannot be computed is null (or
// absent) and the nearest `reason` / `note` says why.

/** The engine that decides: sequential or fixed-horizon frequentist, or Bayesian (flat prior). */
export type Engine = "sequential" | "fixed" | "bayesian";

export const ENGINE_LABEL: Record<Engine, string> = {
  sequential: "sequential (always-valid, mixture SPRT)",
  fixed: "fixed horizon (Welch t-test)",
  bayesian: "Bayesian (normal posterior, flat prior)",
};

/**
 * The fixed-horizon test is valid only when read once, at a sample size fixed in advance: before it
 * the fixed engine makes no call (an A/A experiment read 50 times shipped 17 %). The sample is the
 * plan's (the minimum detectable effect's units per variant); without a plan, this minimum per arm
 * — GrowthBook's default minimum sample size (DEFAULT_MIN_SAMPLE_SIZE = 150 in its shared
 * constants), counted here in observations of the primary metric, or decisive comparisons for an
 * interleaving experiment. A floor, not a horizon: set a minimum detectable effect for a plan.
 */
export const FIXED_HORIZON_MIN_SAMPLE = 150;

/** Above this share of units seen in more than one arm the results carry a warning. */
export const MULTIPLE_EXPOSURE_WARNING_SHARE = 0.01;
export const MULTIPLE_EXPOSURE_RULE =
  "Units seen in more than one arm (their key changed arm, or a restart reshuffled them) are counted here and excluded from every metric, as GrowthBook does; above 1 % of units the results carry a warning.";

/** Sufficient statistics of one variant, over units seen in this arm only. */
export interface VariantData {
  /** Units analysed (each seen in this arm only). */
  units: number;
  /** Units assigned here that were also seen in another arm: excluded from every metric. */
  multipleExposures: number;
  /** Per unit: Y = clicks, X = impressions. */
  ctr: RatioSummary;
  /** Per unit: 1 if it purchased. */
  conversion: MeanSummary;
  /** Per unit: revenue. */
  revenue: MeanSummary;
  /** Per clicked request: click-based NDCG and reciprocal rank. */
  ndcg: MeanSummary;
  mrr: MeanSummary;
  /** Per request: 1 if a fallback served it. */
  fallback: MeanSummary;
  /** Per unit: Y = clicks in the phase, X = clicks in the days before. */
  clicksCuped: CovariateSummary;
  /** Per-request latency sample (ms), any order. */
  latencyMs: readonly number[];
}

export interface AnalysisInput {
  kind: "ab" | "interleaving";
  engine: Engine;
  /** Two-sided level; default 0.05. */
  alpha?: number;
  variants: ReadonlyArray<{ key: string; weight: number; isControl: boolean }>;
  primaryMetric: string;
  secondaryMetrics?: readonly string[];
  guardrails: readonly Guardrail[];
  /** By variant key; a missing variant has no data yet. */
  data: Readonly<Record<string, VariantData>>;
  /** Interleaving experiments: wins per ranker from the clicked requests. */
  interleaving?: {
    variantA: string; variantB: string; winsA: number; winsB: number; ties: number; requestsWithClicks: number; requests: number; competitive: number;
    /** Clicks at each position by the ranker credited with the item (shared: both rankers put it there). */
    creditByPosition: Array<{ position: number; a: number; b: number; shared: number }>;
  } | null;
  /** For the sample-size plan: the MDE (relative) and how long the phase has run, in days. */
  planning?: { minDetectableEffect: number | null; days: number | null };
}

export interface Interval { estimate: number; ci: [number, number] }

export interface SecondaryReading {
  engine: Engine;
  /** "secondary — not used for the decision" and the engine's name. */
  label: string;
  pValue: number | null;
  chanceToBeat: number | null;
  relativeCi: [number, number] | null;
}

export type Comparison =
  | {
      variant: string;
      available: true;
      engine: Engine;
      absolute: Interval;
      /**
       * The lift, its interval inverting the same test as pValue / chanceToBeat (Fieller's), so
       * both say the same about 0. Null when the control's value is 0 or not distinguishable from
       * 0 (the interval is unbounded): see relativeNote.
       */
      relative: Interval | null;
      relativeNote?: string;
      /** How the arms were read when not by the metric's usual estimate: NO_SPREAD_NOTE (noSpread.ts). */
      note?: string;
      /** Frequentist engines: the p-value of exactly the interval shown. Null for the Bayesian engine. */
      pValue: number | null;
      /** Holm-adjusted p (family: the treatments on the primary metric; all other metrics together). */
      adjustedPValue: number | null;
      /** Bayesian engine: P(treatment better than control), in the metric's direction (lower-is-better: P(lower)). */
      chanceToBeat: number | null;
      /** The configured engine's call, after correction: better, worse or no call. */
      call: "better" | "worse" | "none";
      secondary: SecondaryReading[];
    }
  | { variant: string; available: false; reason: string };

export interface MetricResult {
  metric: MetricKey;
  label: string;
  definition: string;
  unit: MetricUnit;
  higherIsBetter: boolean;
  role: "primary" | "secondary" | "other";
  variants: Array<{ key: string; value: number | null; n: number; note?: string }>;
  comparisons: Comparison[];
}

export interface GuardrailResult extends Guardrail {
  label: string;
  status: GuardrailStatus;
  checks: GuardrailCheck[];
}

export type SrmResult =
  | { available: true; chiSquare: number; df: number; pValue: number; mismatch: boolean; counts: number[]; expected: number[] }
  | { available: false; reason: string };

export interface Verdict {
  decision: "blocked" | "ship" | "do not ship" | "keep running" | "not enough data" | "no difference";
  /** The variant the decision is about, when there is one. */
  variant: string | null;
  engine: Engine;
  /** One paragraph for the page. */
  text: string;
}

export interface ExperimentAnalysis {
  engine: { key: Engine; label: string; alpha: number };
  metrics: MetricResult[];
  srm: SrmResult;
  multipleExposure: { units: number; share: number; warning: boolean; rule: string; byVariant: Array<{ key: string; units: number }> };
  guardrails: GuardrailResult[];
  latency: Array<{ variant: string; p50: number; p95: number; requests: number }>;
  /** The test is the engine's: the always-valid sign test under "sequential", else the exact one (read once, FIXED_HORIZON_MIN_SAMPLE). */
  interleaving: (NonNullable<AnalysisInput["interleaving"]> & { test: (Omit<SignTestResult, "shareA"> & { shareA: number | null; method: string }) | null }) | null;
  plan: SampleSizePlan | null;
  verdict: Verdict;
}

/** One arm's per-unit summary of a metric, tagged with how it is compared (a mean, a ratio, or CUPED-adjusted). */
export type Summary = { kind: "mean"; s: MeanSummary } | { kind: "ratio"; s: RatioSummary } | { kind: "cuped"; s: CovariateSummary };

/** The metrics of the table, in order: each metric's summary per arm. */
const TABLE_METRICS: ReadonlyArray<{ metric: MetricKey; summary: (d: VariantData) => Summary }> = [
  { metric: "ctr", summary: (d) => ({ kind: "ratio", s: d.ctr }) },
  { metric: "conversion", summary: (d) => ({ kind: "mean", s: d.conversion }) },
  { metric: "revenue_per_session", summary: (d) => ({ kind: "mean", s: d.revenue }) },
  { metric: "ndcg", summary: (d) => ({ kind: "mean", s: d.ndcg }) },
  { metric: "mrr", summary: (d) => ({ kind: "mean", s: d.mrr }) },
  { metric: "fallback_rate", summary: (d) => ({ kind: "mean", s: d.fallback }) },
  { metric: "clicks_cuped", summary: (d) => ({ kind: "cuped", s: d.clicksCuped }) },
];

const EMPTY: VariantData = Object.freeze({
  units: 0, multipleExposures: 0,
  ctr: { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 }, conversion: { n: 0, sum: 0, sumSq: 0 }, revenue: { n: 0, sum: 0, sumSq: 0 },
  ndcg: { n: 0, sum: 0, sumSq: 0 }, mrr: { n: 0, sum: 0, sumSq: 0 }, fallback: { n: 0, sum: 0, sumSq: 0 },
  clicksCuped: { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 }, latencyMs: [],
});

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

function armValue(summary: Summary): { value: number | null; n: number; note?: string } {
  const n = summary.s.n;
  if (n === 0) return { value: null, n, note: "no observations yet" };
  if (summary.kind === "mean") return { value: finite(describeMean(summary.s).mean), n };
  const d = describePaired(summary.s);
  if (summary.kind === "cuped") return { value: finite(d.meanY), n };
  return d.meanX === 0 ? { value: null, n, note: "no impressions yet" } : { value: finite(ratioOfMeans(summary.s).mean), n };
}

function compareSummaries(control: Summary, treatment: Summary, analysis: "sequential" | "fixedHorizon", alpha: number, adjusted: ReturnType<typeof adjustedProportionArms>): EffectResult {
  const options = { analysis, alpha };
  if (adjusted) return compareArms(adjusted.control, adjusted.treatment, options);
  if (control.kind === "cuped") return compareWithCuped(control.s, treatment.s as CovariateSummary, options);
  if (control.kind === "ratio") return compareRatios(control.s, treatment.s as RatioSummary, options);
  return compareMeans(control.s, treatment.s as MeanSummary, options);
}

const interval = (estimate: number, ci: readonly [number, number]): Interval | null =>
  Number.isFinite(estimate) && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? { estimate, ci: [ci[0], ci[1]] } : null;

/**
 * One treatment against the control on one metric, read by every engine; the configured one decides:
 * the table's comparison (also each point of the lift over time, liftOverTime.ts). `alpha` is two-sided.
 * Unavailable (with its `reason`) when an arm has no observations, a ratio's arm no denominator, or an
 * unbounded metric's arm no spread.
 * A metric valued in [0, 1] (`unitInterval`) of which any arm shows no spread is read on adjusted
 * proportions in every engine (noSpread.ts): a constant arm's variance of 0 is no estimate of its
 * noise (both constant: no test at all; one constant: Welch on the other arm alone, anti-conservative).
 */
export function compareOne(variant: string, control: Summary, treatment: Summary, engine: Engine, alpha: number, metric: Pick<MetricDefinition, "higherIsBetter" | "unitInterval">): Comparison {
  const higherIsBetter = metric.higherIsBetter;
  if (control.s.n === 0 || treatment.s.n === 0) return { variant, available: false, reason: `no observations yet in ${control.s.n === 0 ? "the control" : variant}` };
  if (control.kind === "ratio" && (describePaired(control.s).meanX === 0 || describePaired(treatment.s as RatioSummary).meanX === 0)) {
    return { variant, available: false, reason: "no impressions yet in one arm" };
  }
  const adjusted = metric.unitInterval && control.kind === "mean" ? adjustedProportionArms(control.s, treatment.s as MeanSummary) : null;
  const fixed = compareSummaries(control, treatment, "fixedHorizon", alpha, adjusted);
  // An unbounded metric (CTR, revenue, CUPED clicks) with a constant arm: no comparison (noSpread.ts).
  const flat = adjusted ? [] : armsWithoutSpread([{ name: "the control", estimate: fixed.control }, { name: variant, estimate: fixed.treatment }]);
  if (flat.length) {
    return { variant, available: false, reason: `no spread in ${flat.join(" nor in ")} (every unit the same value): ${UNBOUNDED_NO_SPREAD_RULE}` };
  }
  const sequential = compareSummaries(control, treatment, "sequential", alpha, adjusted);
  // Bayesian: the flat-prior posterior of each arm's mean is N(estimate, se²) (bayes.ts), so the
  // effect's credible interval is the z interval. P(treatment better) depends only on the sign of
  // the effect, so it is read on the absolute scale, where the normal approximation needs no delta
  // method (on the relative scale the A/A false-positive rate came out at 5.6 %); it is already
  // signed by the metric's direction. The lift's credible interval is Fieller's at z, the posterior
  // interval of the ratio, so it excludes 0 exactly when P(better) is past 1 − α/2 or below α/2.
  const z = normalQuantile(1 - alpha / 2);
  const { estimate, se } = fixed.absolute;
  const posterior = chanceToBeatControl(fixed, { scale: "absolute", higherIsBetter, credibleLevel: 1 - alpha });
  const readings: Record<Engine, { pValue: number | null; chanceToBeat: number | null; absolute: Interval | null; relative: Interval | null; unavailable?: string }> = {
    fixed: { pValue: finite(fixed.pValue), chanceToBeat: null, absolute: interval(fixed.absolute.estimate, fixed.absolute.ci), relative: interval(fixed.relative.estimate, fixed.relative.ci), unavailable: fixed.unavailable },
    sequential: { pValue: finite(sequential.pValue), chanceToBeat: null, absolute: interval(sequential.absolute.estimate, sequential.absolute.ci), relative: interval(sequential.relative.estimate, sequential.relative.ci), unavailable: sequential.unavailable },
    bayesian: {
      pValue: null, chanceToBeat: finite(posterior.chanceToBeatControl), unavailable: fixed.unavailable,
      absolute: se > 0 ? interval(estimate, [estimate - z * se, estimate + z * se]) : null,
      relative: se > 0 ? interval(fixed.relative.estimate, fiellerLiftInterval(fixed.control, fixed.treatment, z)) : null,
    },
  };
  // Two rates differ by at most 1 either way, and a rate falls by at most 100 %: the adjusted arms'
  // normal intervals can pass those ends, which no data could reach (Agresti & Caffo truncate so).
  if (adjusted) {
    for (const r of Object.values(readings)) {
      if (r.absolute) r.absolute.ci = [Math.max(-1, r.absolute.ci[0]), Math.min(1, r.absolute.ci[1])];
      if (r.relative) r.relative.ci = [Math.max(-1, r.relative.ci[0]), r.relative.ci[1]];
    }
  }
  const main = readings[engine];
  if (!main.absolute || (engine !== "bayesian" && main.pValue === null) || (engine === "bayesian" && main.chanceToBeat === null)) {
    return { variant, available: false, reason: main.unavailable ?? "the comparison cannot be computed yet" };
  }
  // The control's value as the table shows it (an adjusted rate is never 0).
  const controlValue = adjusted ? describeMean(control.s as MeanSummary).mean : fixed.control.mean;
  const relativeNote = main.relative ? undefined : controlValue === 0
    ? "the control's value is 0: a relative lift is undefined"
    : "the control's value is not yet distinguishable from 0, so the lift's interval is unbounded (Fieller)";
  const secondary = (Object.keys(readings) as Engine[]).filter((e) => e !== engine).map((e) => ({
    engine: e,
    label: `secondary — ${ENGINE_LABEL[e]}, not used for the decision`,
    pValue: readings[e].pValue,
    chanceToBeat: e === "bayesian" ? readings[e].chanceToBeat : null,
    relativeCi: readings[e].relative?.ci ?? null,
  }));
  let call: "better" | "worse" | "none" = "none";
  if (engine === "bayesian") {
    const p = main.chanceToBeat!;
    call = p >= 1 - alpha / 2 ? "better" : p <= alpha / 2 ? "worse" : "none";
  }
  return {
    variant, available: true, engine, absolute: main.absolute, relative: main.relative, ...(relativeNote ? { relativeNote } : {}), ...(adjusted ? { note: NO_SPREAD_NOTE } : {}),
    pValue: main.pValue, adjustedPValue: null, chanceToBeat: main.chanceToBeat, call, secondary,
  };
}

/** Frequentist calls after Holm's correction within a family of comparisons. */
function correct(family: Comparison[], alpha: number, higherIsBetter: (c: Comparison) => boolean): void {
  const tested = family.filter((c): c is Extract<Comparison, { available: true }> => c.available && c.pValue !== null);
  const adjusted = adjustPValues(tested.map((c) => c.pValue!), "holm");
  tested.forEach((c, i) => {
    c.adjustedPValue = adjusted[i]!;
    const up = c.absolute.estimate > 0;
    c.call = adjusted[i]! < alpha ? (up === higherIsBetter(c) ? "better" : "worse") : "none";
  });
}

function srmOf(input: AnalysisInput, counts: number[]): SrmResult {
  if (input.kind !== "ab") return { available: false, reason: "interleaving serves every unit both rankings: there is no split to check" };
  const total = counts.reduce((s, c) => s + c, 0);
  if (total === 0) return { available: false, reason: "no units yet" };
  const weights = input.variants.map((v) => v.weight);
  // A variant with weight 0 expects no units: any unit there is a mismatch by definition.
  const stray = input.variants.filter((v, i) => v.weight <= 0 && counts[i]! > 0);
  if (stray.length) return { available: true, chiSquare: Number.MAX_VALUE, df: counts.length - 1, pValue: 0, mismatch: true, counts, expected: weights.map((w) => (total * w) / weights.reduce((a, b) => a + b, 0)) };
  const active = input.variants.map((v, i) => ({ w: v.weight, c: counts[i]! })).filter((x) => x.w > 0);
  if (active.length < 2) return { available: false, reason: "fewer than two variants with traffic" };
  const r = srmCheck(active.map((x) => x.c), active.map((x) => x.w));
  return { available: true, chiSquare: r.chiSquare, df: r.df, pValue: r.pValue, mismatch: r.mismatch, counts, expected: weights.map((w) => (total * w) / weights.reduce((a, b) => a + b, 0)) };
}

const pct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;

/** Where a fixed-horizon test stands against the sample it may be read at (see FIXED_HORIZON_MIN_SAMPLE). */
interface Horizon { reached: boolean; progress: string }

/** Null when the deciding test is the sequential one (always valid); the fixed and the Bayesian engines' calls are the same fixed-horizon test (power.ts). */
function horizonOf(input: AnalysisInput, plan: SampleSizePlan | null, primary: MetricResult | undefined, interleaving: ExperimentAnalysis["interleaving"], units: (key: string) => number): Horizon | null {
  if (input.kind === "interleaving") {
    if (input.engine === "sequential" || !interleaving?.test) return null;
    const n = interleaving.test.n;
    return { reached: n >= FIXED_HORIZON_MIN_SAMPLE, progress: `${interleaving.test.method}, ${n} of the ${FIXED_HORIZON_MIN_SAMPLE} decisive comparisons it needs before it is read` };
  }
  if (input.engine === "sequential") return null;
  const arms = plan
    ? input.variants.map((v, i) => ({ key: v.key, n: units(v.key), needed: plan.unitsPerVariant[i]!, what: "planned units" }))
    : (primary?.variants ?? []).map((v) => ({ key: v.key, n: v.n, needed: FIXED_HORIZON_MIN_SAMPLE, what: "observations of the primary metric (the minimum without a plan: set a minimum detectable effect to plan the sample)" }));
  const lagging = arms.reduce<(typeof arms)[number] | null>((w, a) => (!w || a.n / a.needed < w.n / w.needed ? a : w), null);
  if (!lagging) return null;
  return { reached: lagging.n >= lagging.needed, progress: `fixed-horizon test, ${lagging.n} of ${lagging.needed} ${lagging.what} in ${lagging.key}` };
}

function verdictOf(input: AnalysisInput, primary: MetricResult | undefined, srm: SrmResult, guardrails: GuardrailResult[], interleaving: ExperimentAnalysis["interleaving"], control: string, horizon: Horizon | null): Verdict {
  const engine = input.engine;
  if (srm.available && srm.mismatch) {
    return { decision: "blocked", variant: null, engine, text: `Do not trust these results yet: the traffic split does not match the configured weights (sample-ratio mismatch, χ² = ${srm.chiSquare.toFixed(1)}, p = ${srm.pValue.toExponential(1)}). Find the cause (assignment, logging or bot traffic) before reading any metric.` };
  }
  if (input.kind === "interleaving") {
    if (!interleaving?.test) {
      // No decisive comparison: no click at all, or only ties (each clicked request credited both rankers alike).
      const clicked = interleaving?.requestsWithClicks ?? 0;
      const text = clicked === 0
        ? "No clicks on interleaved results yet: keep the experiment running."
        : `${clicked} request${clicked === 1 ? "" : "s"} with clicks, every one a tie (the clicks credited both rankers alike, as when they rank the clicked items the same): no preference yet — keep the experiment running; rankers that agree never separate.`;
      return { decision: "not enough data", variant: null, engine, text };
    }
    const { test } = interleaving;
    const figures = `${interleaving.winsA} vs ${interleaving.winsB} requests with a preference, ${test.method} p = ${test.pValue.toPrecision(2)}`;
    if (horizon && !horizon.reached) return { decision: "keep running", variant: null, engine, text: `No call yet (${figures}): keep running — ${horizon.progress}.` };
    const leader = interleaving.winsA >= interleaving.winsB ? interleaving.variantA : interleaving.variantB;
    return test.significant
      ? { decision: "ship", variant: leader, engine, text: `${leader} wins the interleaved comparison (${figures}): users prefer its ranking.` }
      : { decision: "keep running", variant: null, engine, text: `No clear winner yet (${figures}): keep it running.` };
  }
  // Guardrails are judged per treatment: one treatment's violation does not block another. A
  // violation stands whatever the primary metric says, even when it cannot be compared yet.
  const guardrailsOf = (variant: string, status: GuardrailStatus) => guardrails.filter((g) => g.checks.some((c) => c.variant === variant && c.status === status)).map((g) => g.label);
  const violations = guardrails.flatMap((g) => g.checks.filter((c) => c.status === "violated").map((c) => ({ label: g.label, variant: c.variant })));
  const violatedBy = [...new Set(violations.map((v) => v.variant))];
  const guardText = violations.length ? ` Guardrail violated: ${violations.map((v) => `${v.label} (${v.variant})`).join(", ")} — do not ship ${violatedBy.join(" or ")} without a look.` : "";
  const available = (primary?.comparisons ?? []).filter((c): c is Extract<Comparison, { available: true }> => c.available);
  if (!primary || available.length === 0) {
    const missing = !primary
      ? `The primary metric "${input.primaryMetric}" is not one the table computes.`
      : `Not enough data yet for ${primary.label}: ${primary.comparisons.find((c): c is Extract<Comparison, { available: false }> => !c.available)?.reason ?? "no treatment"}.`;
    return violations.length
      ? { decision: "do not ship", variant: violatedBy[0]!, engine, text: `${missing}${guardText}` }
      : { decision: "not enough data", variant: null, engine, text: missing };
  }
  const describe = (c: (typeof available)[number]) => {
    const lift = c.relative ?? c.absolute;
    const scale = c.relative ? "" : " (absolute)";
    const strength = engine === "bayesian" ? `P(better than ${control}) ${(100 * c.chanceToBeat!).toFixed(1)}%` : `p = ${c.pValue!.toPrecision(2)}${c.adjustedPValue !== null && c.adjustedPValue !== c.pValue ? `, Holm ${c.adjustedPValue.toPrecision(2)}` : ""}`;
    return `${c.variant} vs ${control}: ${primary.label} ${c.relative ? pct(lift.estimate) : lift.estimate.toPrecision(3)}${scale} (95% ${engine === "bayesian" ? "credible" : "CI"} ${c.relative ? pct(lift.ci[0]) : lift.ci[0].toPrecision(3)} to ${c.relative ? pct(lift.ci[1]) : lift.ci[1].toPrecision(3)}; ${strength}; ${ENGINE_LABEL[engine]}${c.note ? `; ${c.note}` : ""})`;
  };
  const described = available.map(describe).join(" ");
  // Guardrails are judged at every look, whatever the engine: a violation stops a fixed-horizon test too.
  if (horizon && !horizon.reached) {
    return violations.length
      ? { decision: "do not ship", variant: violatedBy[0]!, engine, text: `${described}${guardText}` }
      : { decision: "keep running", variant: null, engine, text: `${described} Keep running: ${horizon.progress}.` };
  }
  // The largest improvement first, in the metric's direction (a fall of 83 % beats one of 17 % for a lower-is-better metric).
  const improvement = (c: (typeof available)[number]) => (primary.higherIsBetter ? 1 : -1) * (c.relative?.estimate ?? c.absolute.estimate);
  const winners = available.filter((c) => c.call === "better").sort((a, b) => improvement(b) - improvement(a));
  const unviolated = winners.filter((w) => !violatedBy.includes(w.variant));
  const clean = unviolated.find((w) => guardrailsOf(w.variant, "no data").length === 0);
  if (clean) {
    const inconclusive = guardrailsOf(clean.variant, "inconclusive");
    return { decision: "ship", variant: clean.variant, engine, text: `${describe(clean)}: a difference you can act on.${inconclusive.length ? ` Guardrails still inconclusive for ${clean.variant}: ${inconclusive.join(", ")}.` : ""}${guardText}` };
  }
  if (unviolated.length) {
    const w = unviolated[0]!;
    const missing = guardrailsOf(w.variant, "no data");
    return { decision: "keep running", variant: w.variant, engine, text: `${describe(w)}, but the guardrail${missing.length > 1 ? "s" : ""} ${missing.join(", ")} cannot be judged yet for ${w.variant} (no data): keep running until ${missing.length > 1 ? "they have" : "it has"} data — nothing that cannot be computed passes.${guardText}` };
  }
  if (violations.length) {
    return { decision: "do not ship", variant: winners[0]?.variant ?? violatedBy[0]!, engine, text: `${described}${guardText}` };
  }
  const losers = available.filter((c) => c.call === "worse");
  if (losers.length === available.length) {
    return { decision: "do not ship", variant: losers[0]!.variant, engine, text: `${described}: worse than ${control}.` };
  }
  return { decision: "keep running", variant: null, engine, text: `${described}: no significant difference yet — keep collecting data.` };
}

/**
 * The control's figures a sample-size plan starts from, per randomisation unit, for the primary metric:
 * a 0/1 metric (conversion) as its proportion; a ratio (CTR: clicks ÷ impressions summed over units) as
 * its value and the per-unit variance of its linearisation, n·Var(R̂) by the delta method (Deng et al.
 * 2018, "Applying the delta method in metric analytics", KDD; a unit's impressions are not independent
 * trials, so CTR's Bernoulli variance p(1 − p) per impression would plan in the wrong unit: 10
 * impressions a user at CTR 0.2 planned 6,360 users per arm where 673 give 80 % power); a per-unit mean
 * (revenue, NDCG, MRR, fallback share) as its mean and sample variance. Null for a quantile (latency),
 * CUPED, or a control without the data (fewer than 2 units, a value of 0, no spread).
 */
export function planningBaseline(metric: string, control: VariantData): PlanningBaseline | null {
  const row = TABLE_METRICS.find((m) => m.metric === metric);
  if (!row || metric === "clicks_cuped") return null;
  const summary = row.summary(control);
  return summary.kind === "cuped" ? null : unitBaseline(METRIC_CATALOGUE[row.metric].type, summary.s);
}

/** A sample-size plan's baseline (planSampleSize): a proportion, or a per-unit mean and variance. */
export type PlanningBaseline = { proportion: number } | { n: number; mean: number; variance: number };

/**
 * The baseline of planningBaseline from one arm's per-unit summary of a metric of `type` (a
 * RatioSummary for "ratio", a MeanSummary otherwise); null below 2 units, without a denominator, or
 * with a value of 0 or no spread (nothing to plan a relative effect from).
 */
export function unitBaseline(type: MetricDefinition["type"], s: MeanSummary | RatioSummary): PlanningBaseline | null {
  if (s.n < 2 || type === "quantile") return null;
  let figures: { n: number; mean: number; variance: number };
  if ("sumX" in s) {
    if (!(describePaired(s).meanX > 0)) return null;
    const r = ratioOfMeans(s);
    figures = { n: r.n, mean: r.mean, variance: r.variance * r.n };
  } else {
    figures = describeMean(s);
  }
  if (!(figures.mean !== 0 && figures.variance > 0 && Number.isFinite(figures.mean) && Number.isFinite(figures.variance))) return null;
  if (type === "proportion") return figures.mean > 0 && figures.mean < 1 ? { proportion: figures.mean } : null;
  return figures;
}

/** The whole analysis of one experiment phase. Pure; see the module comment for the output promise. */
export function analyseExperiment(input: AnalysisInput): ExperimentAnalysis {
  const alpha = input.alpha ?? 0.05;
  const control = input.variants.find((v) => v.isControl) ?? input.variants[0];
  if (!control) throw new RangeError("an experiment needs variants");
  const treatments = input.variants.filter((v) => v.key !== control.key).map((v) => v.key);
  const dataOf = (key: string) => input.data[key] ?? EMPTY;
  const columns = input.kind === "interleaving" ? ["interleaved"] : input.variants.map((v) => v.key);
  const secondary = new Set(input.secondaryMetrics ?? []);

  const metrics: MetricResult[] = TABLE_METRICS.map(({ metric, summary }) => {
    const def = METRIC_CATALOGUE[metric];
    const comparisons = input.kind === "interleaving" ? [] : treatments.map((t) => compareOne(t, summary(dataOf(control.key)), summary(dataOf(t)), input.engine, alpha, def));
    return {
      metric, label: def.label, definition: def.definition, unit: def.unit, higherIsBetter: def.higherIsBetter,
      role: metric === input.primaryMetric ? "primary" : secondary.has(metric) ? "secondary" : "other",
      variants: columns.map((k) => ({ key: k, ...armValue(summary(dataOf(k))) })),
      comparisons,
    };
  });
  // Holm: the primary metric across treatments (one treatment: no change), every other metric
  // together across treatments, so reading six metrics does not inflate false wins. The Bayesian
  // engine makes no p-value claims and is not corrected.
  if (input.engine !== "bayesian") {
    const better = (m: MetricResult) => m.higherIsBetter;
    const primaryMetric = metrics.find((m) => m.role === "primary");
    if (primaryMetric) correct(primaryMetric.comparisons, alpha, () => better(primaryMetric));
    const others = metrics.filter((m) => m.role !== "primary");
    const family = others.flatMap((m) => m.comparisons.map((c) => ({ c, m })));
    correct(family.map((x) => x.c), alpha, (c) => better(family.find((x) => x.c === c)!.m));
  }

  const counts = input.variants.map((v) => dataOf(v.key).units);
  const srm = srmOf(input, counts);
  const exposures = input.variants.map((v) => ({ key: v.key, units: dataOf(v.key).multipleExposures }));
  const multiple = exposures.reduce((s, e) => s + e.units, 0);
  const allUnits = multiple + counts.reduce((s, c) => s + c, 0);
  const share = allUnits ? multiple / allUnits : 0;

  const guardrails: GuardrailResult[] = input.kind === "interleaving" ? [] : input.guardrails.map((g) => {
    const def = metricDefinition(g.metric);
    let checks: GuardrailCheck[];
    if (g.metric === "latency_p95") {
      checks = judgeLatencyGuardrail(g, dataOf(control.key).latencyMs, treatments.map((t) => ({ variant: t, samples: dataOf(t).latencyMs })), alpha);
    } else {
      const row = TABLE_METRICS.find((m) => m.metric === g.metric)!;
      const s = (k: string) => row.summary(dataOf(k)).s as MeanSummary | RatioSummary;
      const type = def.type === "proportion" ? "proportion" : def.type === "ratio" ? "ratio" : "mean";
      checks = judgeMetricGuardrail(g, { type, zeroBaselineMargin: def.zeroBaselineMargin, unitInterval: def.unitInterval }, s(control.key), treatments.map((t) => ({ variant: t, summary: s(t) })), alpha);
    }
    return { ...g, label: def.label, status: worstStatus(checks), checks };
  });

  const latency = columns.flatMap((key) => {
    const sorted = [...dataOf(key).latencyMs].sort((a, b) => a - b);
    return sorted.length ? [{ variant: key, p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95), requests: sorted.length }] : [];
  });

  let interleaving: ExperimentAnalysis["interleaving"] = null;
  if (input.kind === "interleaving" && input.interleaving) {
    const i = input.interleaving;
    const sequential = input.engine === "sequential";
    const test = i.winsA + i.winsB > 0 ? (sequential ? sequentialSignTest : signTest)(i.winsA, i.winsB, alpha) : null;
    interleaving = { ...i, test: test ? { ...test, shareA: finite(test.shareA), method: sequential ? "sequential sign test (always valid)" : "exact sign test (fixed horizon)" } : null };
  }

  const primary = metrics.find((m) => m.metric === input.primaryMetric);
  let plan: SampleSizePlan | null = null;
  const baseline = input.kind === "ab" ? planningBaseline(input.primaryMetric, dataOf(control.key)) : null;
  const mde = input.planning?.minDetectableEffect ?? null;
  if (mde && baseline) {
    const days = input.planning?.days ?? null;
    const total = counts.reduce((s, c) => s + c, 0);
    try {
      // The engine reads the result: a sequential test needs more units for the same power than a fixed
      // one. planSampleSize takes the control first (it may sit anywhere among the variants); its units
      // come back in the variants' order.
      const ordered = [control, ...input.variants.filter((v) => v !== control)];
      const planned = planSampleSize({ baseline, minimumDetectableEffect: mde, trafficSplit: ordered.map((v) => v.weight), dailyUnits: days && total ? total / days : undefined, alpha, analysis: input.engine === "sequential" ? "sequential" : "fixedHorizon" });
      plan = { ...planned, unitsPerVariant: input.variants.map((v) => planned.unitsPerVariant[ordered.indexOf(v)]!) };
    } catch {
      plan = null; // an MDE that pushes a rate outside (0, 1), or a baseline of 0: no plan to show
    }
  }

  // A fixed-horizon test read before its sample makes no call, on any metric.
  const horizon = horizonOf(input, plan, primary, interleaving, (key) => dataOf(key).units);
  if (horizon && !horizon.reached) for (const m of metrics) for (const c of m.comparisons) if (c.available) c.call = "none";

  return {
    engine: { key: input.engine, label: ENGINE_LABEL[input.engine], alpha },
    metrics,
    srm,
    multipleExposure: { units: multiple, share, warning: share > MULTIPLE_EXPOSURE_WARNING_SHARE, rule: MULTIPLE_EXPOSURE_RULE, byVariant: exposures },
    guardrails,
    latency,
    interleaving,
    plan,
    verdict: verdictOf(input, primary, srm, guardrails, interleaving, control.key, horizon),
  };
}
