import { describePaired, type RatioSummary } from "./summary";
import type { ArmEstimate } from "./welch";

// Delta-method variances: a smooth function g of estimates with known covariance has
// Var g(θ̂) ≈ ∇g(θ)ᵀ Σ ∇g(θ) (first-order Taylor expansion; Casella & Berger, Statistical Inference,
// 2nd ed., §5.5.4). Used for ratio metrics (a ratio of two means on the same units) and for the
// relative lift (a ratio of two independent arm estimates).

/**
 * A ratio metric's estimate for one arm, R = Ȳ/X̄ = ΣY/ΣX (e.g. clicks per impression), and its
 * delta-method variance (Deng, Knoblich & Lu 2018, eq. 4):
 *   Var(R) ≈ (1/n)·( s²_Y/μ_X² − 2·μ_Y·s_XY/μ_X³ + μ_Y²·s²_X/μ_X⁴ ).
 * The unit of randomisation (the user) is the unit of analysis, so correlated impressions within a
 * user are accounted for — treating each impression as independent would understate the variance.
 */
export function ratioOfMeans(summary: RatioSummary): ArmEstimate {
  const d = describePaired(summary);
  const ratio = d.meanY / d.meanX;
  const variance =
    (d.varianceY / d.meanX ** 2 - (2 * d.meanY * d.covariance) / d.meanX ** 3 + (d.meanY ** 2 * d.varianceX) / d.meanX ** 4) / d.n;
  // Rounding can leave a perfectly proportional arm (Y = c·X) a hair below zero.
  return { mean: ratio, variance: Math.max(0, variance), n: d.n };
}

/**
 * Relative lift L = μ_T/μ_C − 1 and its delta-method variance for independent arms:
 *   Var(L) ≈ v_T/μ_C² + μ_T²·v_C/μ_C⁴,
 * with v the variance of each arm's estimate (as in GrowthBook's frequentist engine, and Deng et
 * al. 2018 §3.3). NaN when the control mean is zero: a lift over nothing is undefined.
 */
export function relativeLift(control: ArmEstimate, treatment: ArmEstimate): { estimate: number; variance: number } {
  const mc = control.mean;
  const mt = treatment.mean;
  if (mc === 0 || !Number.isFinite(mc)) return { estimate: NaN, variance: NaN };
  return {
    estimate: mt / mc - 1,
    variance: treatment.variance / mc ** 2 + (mt ** 2 * control.variance) / mc ** 4,
  };
}
