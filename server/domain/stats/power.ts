import { checkAlpha, DEFAULT_ALPHA, type Analysis } from "./compare";
import { normalCdf, normalQuantile } from "./distributions";
import { mixtureTuningRatio } from "./sequential";

// Sample size for the two-sided test of treatment vs control, for the engine that will read it.
// Each engine calls a difference when |Δ̂|/√V exceeds a critical value c (criticalZ), so for a
// difference Δ with per-unit variances σ_C², σ_T² and units n_C, n_T it reaches power 1 − β when
//   V = Var(Δ̂) = σ_C²/n_C + σ_T²/n_T = (Δ / (c + z_{1−β}))²
// (normal approximation, ignoring the far tail; Chow, Shao & Wang, "Sample Size Calculations in
// Clinical Research", 2nd ed., §3.2.1). With traffic weights w, n_g = w_g·T for T units entering the
// experiment, so T = (c + z_{1−β})²·(σ_C²/w_C + σ_T²/w_T)/Δ².
//
// - Fixed horizon (Welch, read once): c = z_{1−α/2}; with equal arms this is Kohavi et al.'s
//   n ≈ 16σ²/Δ² ("Trustworthy Online Controlled Experiments", ch. 17). The Bayesian engine's call,
//   P(better) ≥ 1 − α/2 under a flat prior, is the same test.
// - Sequential (mixture SPRT, the default; sequential.ts): rejecting when Λ ≥ 1/α with the mixing
//   variance τ² = ρ·V gives c = √((1 + ρ)/ρ · (2 ln(1/α) + ln(1 + ρ))), and the plan tunes τ² to its
//   own size (ρ = r*, mixtureTuningRatio), as compareArms does with targetUnitsPerVariant: at α = 0.05
//   c = 3.035 instead of 1.960, about 1.9 times the fixed-horizon units at 80 % power. This is the
//   power of reading the result once, at the planned size; the boundary is valid at every look, so
//   looks before it can only add chances to stop early (30 looks: ≈ 86 %, power.test.ts).

/** Baseline of the metric in the control arm: a per-unit mean with its variance, or a proportion. */
export type Baseline = { mean: number; variance: number } | { proportion: number };

export interface SampleSizeOptions {
  baseline: Baseline;
  /** Smallest relative change worth detecting, e.g. 0.05 for +5%. */
  minimumDetectableEffect: number;
  /** Two-sided significance level per comparison; default 0.05. */
  alpha?: number;
  /** Probability of detecting an effect of exactly the MDE; default 0.8. */
  power?: number;
  /** Variants including control; default 2 (ignored when trafficSplit is given). */
  variants?: number;
  /** Traffic weights per variant, control first; default equal. */
  trafficSplit?: readonly number[];
  /** Units entering the experiment per day, all variants together; gives `days`. */
  dailyUnits?: number;
  /** The engine that reads the result: "sequential" (default, as in compareArms) or "fixedHorizon" (also the Bayesian engine's call). */
  analysis?: Analysis;
}

export interface SampleSizePlan {
  /** The engine the plan is for. */
  analysis: Analysis;
  /**
   * Sequential plans: the targetUnitsPerVariant to pass to compareArms so its mixing variance τ² is
   * the one planned for (tightest at the planned size); null for a fixed-horizon plan.
   */
  targetUnitsPerVariant: number | null;
  /** Units needed in each variant, control first. */
  unitsPerVariant: number[];
  totalUnits: number;
  /** Days at `dailyUnits`, or null when no daily traffic was given. */
  days: number | null;
  /** Absolute effect the plan detects: baseline mean × MDE. */
  absoluteEffect: number;
  /** Power actually reached by the rounded-up plan under its engine (the weakest treatment-vs-control comparison). */
  power: number;
}

interface Variances {
  mean: number;
  control: number;
  treatment: number;
}

function variancesOf(baseline: Baseline, mde: number): Variances {
  if ("proportion" in baseline) {
    const p = baseline.proportion;
    const q = p * (1 + mde);
    if (!(p > 0 && p < 1)) throw new RangeError(`proportion must be in (0, 1), got ${p}`);
    if (!(q > 0 && q < 1)) throw new RangeError(`the treatment proportion ${q} is outside (0, 1)`);
    // Each arm's Bernoulli variance at its own rate (the unpooled form, as the Welch test uses).
    return { mean: p, control: p * (1 - p), treatment: q * (1 - q) };
  }
  if (!(baseline.variance > 0)) throw new RangeError(`variance must be positive, got ${baseline.variance}`);
  if (baseline.mean === 0 || !Number.isFinite(baseline.mean)) throw new RangeError("a relative MDE needs a non-zero baseline mean");
  // A mean metric's spread is assumed unchanged by the treatment.
  return { mean: baseline.mean, control: baseline.variance, treatment: baseline.variance };
}

/**
 * The |Δ̂|/√V above which the engine calls a difference at two-sided level α. Fixed horizon:
 * z_{1−α/2}. Sequential: the mixture SPRT rejects when Λ ≥ 1/α, and with τ² = ρ·V
 *   ln Λ = −½·ln(1 + ρ) + Z²·ρ/(2(1 + ρ))   (sequential.ts, Johari et al. 2022),
 * so when Z² ≥ (1 + ρ)/ρ · (2 ln(1/α) + ln(1 + ρ)). ρ = τ²/V defaults to the tuning ratio r* (τ²
 * tuned to this look's variance). RangeError for α outside (0, 1) or ρ ≤ 0.
 */
export function criticalZ(analysis: Analysis, alpha = DEFAULT_ALPHA, rho = mixtureTuningRatio(alpha)): number {
  checkAlpha(alpha);
  if (analysis === "fixedHorizon") return normalQuantile(1 - alpha / 2);
  if (!(rho > 0)) throw new RangeError(`the ratio τ²/V must be positive, got ${rho}`);
  return Math.sqrt(((1 + rho) / rho) * (2 * Math.log(1 / alpha) + Math.log(1 + rho)));
}

/**
 * Power of the engine's two-sided test at one look, for a true difference `effect` with
 * Var(Δ̂) = `variance` (sequential: with τ² = `tau2`, by default tuned to this variance).
 */
export function powerForVariance(effect: number, variance: number, options: { alpha?: number; analysis?: Analysis; tau2?: number } = {}): number {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const c = criticalZ(options.analysis ?? "sequential", alpha, options.tau2 === undefined ? undefined : options.tau2 / variance);
  const shift = Math.abs(effect) / Math.sqrt(variance);
  // P(reject) = Φ(|Δ|/se − c) + Φ(−|Δ|/se − c): both tails, so a fixed-horizon test's is α when Δ = 0.
  return normalCdf(shift - c) + normalCdf(-shift - c);
}

/** Power the engine's test has at the given units per arm (sequential: τ² tuned to them), read once there. */
export function powerAt(options: Omit<SampleSizeOptions, "power" | "variants" | "trafficSplit" | "dailyUnits">, controlUnits: number, treatmentUnits: number): number {
  const v = variancesOf(options.baseline, options.minimumDetectableEffect);
  return powerForVariance(v.mean * options.minimumDetectableEffect, v.control / controlUnits + v.treatment / treatmentUnits, options);
}

/** Units per variant (and days) to detect the MDE with the requested power under the engine (`analysis`; default sequential). */
export function planSampleSize(options: SampleSizeOptions): SampleSizePlan {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const analysis = options.analysis ?? "sequential";
  const power = options.power ?? 0.8;
  checkAlpha(alpha);
  if (!(power > 0 && power < 1)) throw new RangeError(`power must be in (0, 1), got ${power}`);
  const mde = options.minimumDetectableEffect;
  if (!(mde !== 0 && Number.isFinite(mde))) throw new RangeError(`minimumDetectableEffect must be non-zero, got ${mde}`);
  const variants = options.trafficSplit?.length ?? options.variants ?? 2;
  const split = options.trafficSplit ?? new Array<number>(variants).fill(1);
  if (!(split.length >= 2)) throw new RangeError("an experiment needs a control and at least one treatment");
  for (const w of split) if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`traffic weights must be positive, got ${w}`);
  const weightSum = split.reduce((a, b) => a + b, 0);
  const weights = split.map((w) => w / weightSum);

  const v = variancesOf(options.baseline, mde);
  const effect = v.mean * mde;
  const zSum = criticalZ(analysis, alpha) + normalQuantile(power);
  const controlWeight = weights[0]!;
  // The experiment runs until the hungriest treatment-vs-control comparison has enough units.
  const totalNeeded = Math.max(...weights.slice(1).map((w) => (zSum ** 2 * (v.control / controlWeight + v.treatment / w)) / effect ** 2));
  const unitsPerVariant = weights.map((w) => Math.ceil(w * totalNeeded));
  const totalUnits = unitsPerVariant.reduce((a, b) => a + b, 0);

  let days: number | null = null;
  if (options.dailyUnits !== undefined) {
    if (!(options.dailyUnits > 0)) throw new RangeError(`dailyUnits must be positive, got ${options.dailyUnits}`);
    days = Math.ceil(totalUnits / options.dailyUnits);
  }
  const control = unitsPerVariant[0]!;
  const variances = unitsPerVariant.slice(1).map((n) => v.control / control + v.treatment / n);
  // compareArms sets τ² = r*·(σ_C² + σ_T²)/target: the target that makes it r*·V for the weakest comparison.
  const weakest = Math.max(...variances);
  const targetUnitsPerVariant = analysis === "sequential" ? Math.round((v.control + v.treatment) / weakest) : null;
  const tau2 = targetUnitsPerVariant === null ? undefined : (mixtureTuningRatio(alpha) * (v.control + v.treatment)) / targetUnitsPerVariant;
  const achieved = Math.min(...variances.map((variance) => powerForVariance(effect, variance, { alpha, analysis, tau2 })));
  return { analysis, targetUnitsPerVariant, unitsPerVariant, totalUnits, days, absoluteEffect: effect, power: achieved };
}
