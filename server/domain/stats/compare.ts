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
  /** Each arm's estimate, the variance of that estimate (se²) and its units. */
  control: ArmEstimate;
  treatment: ArmEstimate;
  /** Treatment − control. */
  absolute: EffectEstimate;
  /**
   * Treatment / control − 1. `se` is the delta-method standard error; `ci` is Fieller's interval
   * for the same test as `pValue` (see {@link fiellerLiftInterval}), so it excludes 0 exactly when
   * the result is significant. NaN ends when that set is unbounded (the control's mean is not
   * distinguishable from 0 at this level).
   */
  relative: EffectEstimate;
  /** Two-sided p-value of "no difference", from the absolute difference. */
  pValue: number;
  /** pValue < alpha (equivalently, the absolute interval and the relative one exclude 0). */
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

/**
 * Fieller's interval for the lift L = μ_T/μ_C − 1 (Fieller 1954, "Some problems in interval
 * estimation", JRSS B 16(2); von Luxburg & Franz 2009, Statistica Sinica 19, for the geometry):
 * the ratios ρ that the test of "μ_T − ρ·μ_C = 0" does not reject at the critical value k,
 *   (m_T − ρ·m_C)² < k²·(v_T + ρ²·v_C),
 * with m, v each arm's estimate and its variance. At ρ = 1 this is the test of the difference with
 * the same k, so the interval excludes 0 exactly when that test rejects — the p-value and the
 * interval shown together cannot disagree, as they did with a symmetric delta-method interval
 * (10/1,000 vs 30/1,000 conversions: p = 0.0014 beside [−13 %, +413 %]). The set is an interval iff
 * a = m_C² − k²·v_C > 0 (the control's mean is distinguishable from 0); its ends solve the quadratic:
 *   ρ = (m_T·m_C ± k·√(m_C²·v_T + m_T²·v_C − k²·v_C·v_T)) / a.
 * Otherwise it is unbounded and both ends are NaN. With k = z and flat priors it is also the
 * equal-tailed posterior interval of μ_T/μ_C: P(μ_T/μ_C < ρ) = Φ((ρ·m_C − m_T)/√(v_T + ρ²·v_C)) for μ_C > 0.
 */
export function fiellerLiftInterval(control: ArmEstimate, treatment: ArmEstimate, critical: number): Interval {
  const { mean: mc, variance: vc } = control;
  const { mean: mt, variance: vt } = treatment;
  const k2 = critical * critical;
  const a = mc * mc - k2 * vc;
  if (!(a > 0) || !Number.isFinite(a)) return NO_INTERVAL;
  const half = critical * Math.sqrt(Math.max(0, mc * mc * vt + mt * mt * vc - k2 * vc * vt));
  return [(mt * mc - half) / a - 1, (mt * mc + half) / a - 1];
}

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
  const arms = { control, treatment };

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
  let pValue: number;
  let absoluteHalfWidth: number;
  if (analysis === "fixedHorizon") {
    // Welch's t-test: t = Δ/se on df degrees of freedom.
    pValue = studentTTwoSidedPValue(difference / se, df);
    absoluteHalfWidth = studentTQuantile(1 - alpha / 2, df) * se;
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
  }
  return {
    analysis,
    alpha,
    ...arms,
    absolute: { estimate: difference, ci: [difference - absoluteHalfWidth, difference + absoluteHalfWidth], se },
    // The relative interval inverts the same test: Fieller's set at the critical value just used
    // (for the sequential test, the boundary's multiplier; with equal arms τ²/V is the same for
    // every contrast μ_T − ρ·μ_C, so this is the exact inversion of that family of always-valid tests).
    relative: { estimate: lift.estimate, ci: fiellerLiftInterval(control, treatment, absoluteHalfWidth / se), se: Math.sqrt(lift.variance) },
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
