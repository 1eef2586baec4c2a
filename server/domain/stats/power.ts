import { checkAlpha, DEFAULT_ALPHA } from "./compare";
import { normalCdf, normalQuantile } from "./distributions";

// Sample size for the fixed-horizon two-sided test of treatment vs control. For a difference Δ
// with per-unit variances σ_C², σ_T² and units n_C, n_T, the test reaches power 1 − β when
//   Var(Δ̂) = σ_C²/n_C + σ_T²/n_T = (Δ / (z_{1−α/2} + z_{1−β}))²
// (normal approximation, ignoring the far tail; Chow, Shao & Wang, "Sample Size Calculations in
// Clinical Research", 2nd ed., §3.2.1; with equal arms it is Kohavi et al.'s n ≈ 16σ²/Δ² rule of
// thumb in "Trustworthy Online Controlled Experiments", ch. 17). With traffic weights w, n_g = w_g·T
// for T units entering the experiment, so T = (z_{1−α/2} + z_{1−β})²·(σ_C²/w_C + σ_T²/w_T)/Δ².
//
// The sequential (default) analysis pays for its freedom to peek: to be read once at this size it
// needs more units. Plan with this figure and pass it as targetUnitsPerVariant so the sequential
// interval is tightest there.

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
}

export interface SampleSizePlan {
  /** Units needed in each variant, control first. */
  unitsPerVariant: number[];
  totalUnits: number;
  /** Days at `dailyUnits`, or null when no daily traffic was given. */
  days: number | null;
  /** Absolute effect the plan detects: baseline mean × MDE. */
  absoluteEffect: number;
  /** Power actually reached by the rounded-up plan (the weakest treatment-vs-control comparison). */
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

/** Power of the two-sided fixed-horizon test for a true difference `effect` with Var(Δ̂) = `variance`. */
export function powerForVariance(effect: number, variance: number, alpha = DEFAULT_ALPHA): number {
  checkAlpha(alpha);
  const z = normalQuantile(1 - alpha / 2);
  const shift = Math.abs(effect) / Math.sqrt(variance);
  // P(reject) = Φ(|Δ|/se − z) + Φ(−|Δ|/se − z): both tails, so it is α when Δ = 0.
  return normalCdf(shift - z) + normalCdf(-shift - z);
}

/** Power the fixed-horizon test has at the given units per arm. */
export function powerAt(options: Omit<SampleSizeOptions, "power" | "variants" | "trafficSplit" | "dailyUnits">, controlUnits: number, treatmentUnits: number): number {
  const v = variancesOf(options.baseline, options.minimumDetectableEffect);
  return powerForVariance(v.mean * options.minimumDetectableEffect, v.control / controlUnits + v.treatment / treatmentUnits, options.alpha);
}

/** Units per variant (and days) to detect the MDE with the requested power. */
export function planSampleSize(options: SampleSizeOptions): SampleSizePlan {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
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
  const zSum = normalQuantile(1 - alpha / 2) + normalQuantile(power);
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
  const achieved = Math.min(...unitsPerVariant.slice(1).map((n) => powerForVariance(effect, v.control / control + v.treatment / n, alpha)));
  return { unitsPerVariant, totalUnits, days, absoluteEffect: effect, power: achieved };
}
