import type { EffectResult } from "./compare";
import { normalCdf, normalDensity, normalQuantile } from "./distributions";

// Bayesian read-out on the normal approximation (as GrowthBook's Bayesian engine does with its
// default flat prior): the effect's likelihood is N(estimate, se²); with a prior N(m, σ²) the
// posterior is normal with precision 1/se² + 1/σ² and mean (estimate/se² + m/σ²)/precision
// (conjugate normal update; Gelman et al., Bayesian Data Analysis, 3rd ed., §2.5). Without a
// prior (flat) the posterior is N(estimate, se²).

export interface BayesOptions {
  /** Which effect to put the posterior on; default "relative" (lift). */
  scale?: "relative" | "absolute";
  /** Weakly-informative prior on the effect (same scale), e.g. { mean: 0, sd: 0.3 } for lifts. Default flat. */
  prior?: { mean: number; sd: number };
  /** False for metrics where lower is better (latency, bounce rate). Default true. */
  higherIsBetter?: boolean;
  /** Credible-interval level; default 0.95. */
  credibleLevel?: number;
}

export interface BayesResult {
  /** P(treatment better than control | data). */
  chanceToBeatControl: number;
  /**
   * Expected loss (GrowthBook's "risk"), in effect units, of each decision: how much worse off we
   * would be on average if the decision turned out wrong.
   */
  expectedLoss: { chooseTreatment: number; keepControl: number };
  posterior: { mean: number; sd: number };
  credibleInterval: readonly [number, number];
}

/** Posterior read-out for an effect estimate with standard error `se`. */
export function bayesianEffect(estimate: number, se: number, options: BayesOptions = {}): BayesResult {
  const level = options.credibleLevel ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`credibleLevel must be in (0, 1), got ${level}`);
  if (!(se > 0) || !Number.isFinite(estimate)) {
    return { chanceToBeatControl: NaN, expectedLoss: { chooseTreatment: NaN, keepControl: NaN }, posterior: { mean: NaN, sd: NaN }, credibleInterval: [NaN, NaN] };
  }
  let mean = estimate;
  let sd = se;
  if (options.prior) {
    const { mean: m, sd: s } = options.prior;
    if (!(s > 0)) throw new RangeError(`prior sd must be positive, got ${s}`);
    const precision = 1 / se ** 2 + 1 / s ** 2;
    mean = (estimate / se ** 2 + m / s ** 2) / precision;
    sd = Math.sqrt(1 / precision);
  }
  // Work with the gain δ (effect signed so that positive is good).
  const gain = options.higherIsBetter === false ? -mean : mean;
  const z = gain / sd;
  // For δ ~ N(μ, s²): E[max(0, −δ)] = s·φ(μ/s) − μ·Φ(−μ/s) and E[max(0, δ)] = s·φ(μ/s) + μ·Φ(μ/s)
  // (the normal partial expectation; their difference is E[δ] = μ, a handy check).
  const chooseTreatment = sd * normalDensity(z) - gain * normalCdf(-z);
  const keepControl = sd * normalDensity(z) + gain * normalCdf(z);
  const q = normalQuantile(1 - (1 - level) / 2);
  return {
    chanceToBeatControl: normalCdf(z),
    expectedLoss: { chooseTreatment: Math.max(0, chooseTreatment), keepControl: Math.max(0, keepControl) },
    posterior: { mean, sd },
    credibleInterval: [mean - q * sd, mean + q * sd],
  };
}

/** Chance to beat control (and expected loss) for a comparison's relative or absolute effect. */
export function chanceToBeatControl(result: EffectResult, options: BayesOptions = {}): BayesResult {
  const effect = (options.scale ?? "relative") === "relative" ? result.relative : result.absolute;
  return bayesianEffect(effect.estimate, effect.se, options);
}
