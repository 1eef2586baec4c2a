import { relativeLift, ratioOfMeans } from "./delta";
import { studentTQuantile, studentTTwoSidedPValue } from "./distributions";
import { confidenceSequenceHalfWidth, alwaysValidPValue, mixtureVariance } from "./sequential";
import { describeMean, type MeanSummary, type RatioSummary } from "./summary";
import { welchDegreesOfFreedom, type ArmEstimate } from "./welch";

// Treatment-vs-control comparisons. Every metric type reduces each arm to an estimate and the
// variance of that estimate (a mean: s²/n; a ratio: delta method; CUPED: adjusted mean), and
// compareArms turns the pair into the effect on both scales with either analysis.

/**
 * "sequential" (the default): always-valid p-value and confidence interval (mixture SPRT), safe to
 * look at after every batch. "fixedHorizon": the classical Welch test, valid only when read once,
 * at a sample size fixed in advance.
 */
export type Analysis = "sequential" | "fixedHorizon";

export interface CompareOptions {
  /** Two-sided significance level; default 0.05. */
  alpha?: number;
  /** Default "sequential". */
  analysis?: Analysis;
  /**
   * Sequential only: units per variant at which the interval should be tightest (the planned
   * sample size, e.g. from {@link planSampleSize}). Default 5,000. Any value keeps the test valid;
   * it only moves where its power is best.
   */
  targetUnitsPerVariant?: number;
}

export const DEFAULT_ALPHA = 0.05;
/**
 * Units per arm before a sequential result is reported. The mixture boundary treats the estimate
 * as Gaussian with a known variance; with a handful of units neither holds, and the interval came
 * out narrower than the fixed-horizon t interval (control n = 2 vs treatment n = 1,000: issue #13).
 */
export const MIN_SEQUENTIAL_UNITS_PER_ARM = 30;
export const DEFAULT_TARGET_UNITS_PER_VARIANT = 5000;

export type Interval = readonly [lower: number, upper: number];

export interface EffectEstimate {
  estimate: number;
  ci: Interval;
  /** Standard error of the estimate (not widened by the sequential boundary). */
  se: number;
}

export interface EffectResult {
  analysis: Analysis;
  alpha: number;
  control: { mean: number; n: number };
  treatment: { mean: number; n: number };
  /** Treatment − control. */
  absolute: EffectEstimate;
  /** Treatment / control − 1. */
  relative: EffectEstimate;
  /** Two-sided p-value of "no difference", from the absolute difference. */
  pValue: number;
  /** pValue < alpha (equivalently, the absolute interval excludes 0). */
  significant: boolean;
  /** Welch–Satterthwaite df of the absolute difference (the fixed-horizon reference distribution). */
  df: number;
  /** Why there is no interval or p-value (then both are NaN), in words for the page. */
  unavailable?: string;
}

export function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
}

const NO_INTERVAL: Interval = [NaN, NaN];

/** Compare two arms' estimates (each with the variance of the estimate). */
export function compareArms(control: ArmEstimate, treatment: ArmEstimate, options: CompareOptions = {}): EffectResult {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  checkAlpha(alpha);
  const analysis = options.analysis ?? "sequential";
  const target = options.targetUnitsPerVariant ?? DEFAULT_TARGET_UNITS_PER_VARIANT;
  if (!(target > 0)) throw new RangeError(`targetUnitsPerVariant must be positive, got ${target}`);

  const difference = treatment.mean - control.mean;
  const variance = control.variance + treatment.variance;
  const lift = relativeLift(control, treatment);
  const df = welchDegreesOfFreedom(control, treatment);
  const arms = { control: { mean: control.mean, n: control.n }, treatment: { mean: treatment.mean, n: treatment.n } };

  // No spread (or fewer than two units in an arm) means no information about the noise: report
  // the point estimates but no interval, p-value or verdict, rather than a spurious certainty.
  const informative = variance > 0 && Number.isFinite(variance) && Number.isFinite(difference) && !Number.isNaN(df);
  const tooFewForSequential = analysis === "sequential" && Math.min(control.n, treatment.n) < MIN_SEQUENTIAL_UNITS_PER_ARM;
  if (!informative || tooFewForSequential) {
    const unavailable = Math.min(control.n, treatment.n) < 2
      ? "each arm needs at least 2 units"
      : !informative
        ? "no spread in either arm: the noise cannot be estimated"
        : `a sequential result needs at least ${MIN_SEQUENTIAL_UNITS_PER_ARM} units per arm`;
    return {
      unavailable,
      analysis,
      alpha,
      ...arms,
      absolute: { estimate: difference, ci: NO_INTERVAL, se: Math.sqrt(variance) },
      relative: { estimate: lift.estimate, ci: NO_INTERVAL, se: Math.sqrt(lift.variance) },
      pValue: NaN,
      significant: false,
      df,
    };
  }

  const se = Math.sqrt(variance);
  const relativeSe = Math.sqrt(lift.variance);
  let pValue: number;
  let absoluteHalfWidth: number;
  let relativeHalfWidth: number;
  if (analysis === "fixedHorizon") {
    // Welch's t-test: t = Δ/se on df degrees of freedom; the relative interval uses the same
    // quantile on the delta-method se (as GrowthBook's frequentist engine does).
    const q = studentTQuantile(1 - alpha / 2, df);
    pValue = studentTTwoSidedPValue(difference / se, df);
    absoluteHalfWidth = q * se;
    relativeHalfWidth = q * relativeSe;
  } else {
    // τ² is tuned to the variance the estimate would have at the target size: each arm's per-unit
    // variance (v·n) spread over the target units.
    const atTarget = (arm: ArmEstimate): ArmEstimate => ({ ...arm, variance: (arm.variance * arm.n) / target });
    const tau2 = mixtureVariance(alpha, atTarget(control).variance + atTarget(treatment).variance);
    // Never narrower than the fixed-horizon interval (nor a smaller p): the mixture boundary is a
    // normal approximation, and with unequal, small arms the t interval can be the wider one.
    const q = studentTQuantile(1 - alpha / 2, df);
    pValue = Math.max(alwaysValidPValue(difference, variance, tau2), studentTTwoSidedPValue(difference / se, df));
    absoluteHalfWidth = Math.max(confidenceSequenceHalfWidth(variance, tau2, alpha), q * se);
    const relativeTau2 = mixtureVariance(alpha, relativeLift(atTarget(control), atTarget(treatment)).variance);
    relativeHalfWidth = relativeSe > 0 ? Math.max(confidenceSequenceHalfWidth(lift.variance, relativeTau2, alpha), q * relativeSe) : NaN;
  }

  return {
    analysis,
    alpha,
    ...arms,
    absolute: { estimate: difference, ci: [difference - absoluteHalfWidth, difference + absoluteHalfWidth], se },
    relative: { estimate: lift.estimate, ci: [lift.estimate - relativeHalfWidth, lift.estimate + relativeHalfWidth], se: relativeSe },
    pValue,
    significant: pValue < alpha,
    df,
  };
}

/** A plain mean's estimate: ȳ with variance s²/n. */
export function meanEstimate(summary: MeanSummary): ArmEstimate {
  const d = describeMean(summary);
  return { mean: d.mean, variance: d.variance / d.n, n: d.n };
}

/**
 * Compare a per-unit mean metric (e.g. clicks per user, revenue per user). With
 * `analysis: "fixedHorizon"` this is Welch's unequal-variance t-test.
 */
export function compareMeans(control: MeanSummary, treatment: MeanSummary, options?: CompareOptions): EffectResult {
  return compareArms(meanEstimate(control), meanEstimate(treatment), options);
}

/**
 * Compare a ratio metric (e.g. CTR = Σclicks/Σimpressions, revenue per session) whose units of
 * randomisation are users: each arm's ratio carries its delta-method variance.
 */
export function compareRatios(control: RatioSummary, treatment: RatioSummary, options?: CompareOptions): EffectResult {
  return compareArms(ratioOfMeans(control), ratioOfMeans(treatment), options);
}
