import { compareArms, type CompareOptions, type EffectResult } from "./compare";
import { describePaired, type CovariateSummary } from "./summary";
import type { ArmEstimate } from "./welch";

// CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online Controlled
// Experiments by Utilizing Pre-Experiment Data", WSDM): compare Y − θ(X − X̄) instead of Y, where X
// is the unit's pre-experiment value of the metric. Randomisation makes X independent of the arm,
// so the adjustment leaves the effect unbiased, and with θ = cov(Y, X)/var(X) it removes the share
// ρ² of the variance that X explains.
//
// θ is estimated once, pooled across both arms, from within-arm (centred) cross-products:
//   θ = Σ_arms Σ(x − x̄_arm)(y − ȳ_arm) / Σ_arms Σ(x − x̄_arm)².
// Centring within each arm keeps a treatment effect on Y from leaking into θ; one shared θ keeps
// the adjustment identical in both arms (GrowthBook also pools θ). θ is then treated as known,
// the standard approximation whose error is O(1/n).
//
// Only mean metrics are adjusted here: CUPED for a ratio metric needs the joint moments of four
// per-unit quantities (numerator and denominator, now and pre-period), which these summaries lack.

export interface CupedResult extends EffectResult {
  cuped: {
    /** Regression coefficient of the metric on its pre-experiment value, pooled within arms. */
    theta: number;
    /** 1 − Var(adjusted difference)/Var(unadjusted difference): the share of variance removed. */
    varianceReduction: number;
  };
}

/** Compare a mean metric adjusted by its pre-experiment covariate (CUPED). */
export function compareWithCuped(control: CovariateSummary, treatment: CovariateSummary, options?: CompareOptions): CupedResult {
  const c = describePaired(control);
  const t = describePaired(treatment);
  // Within-arm centred sums: S_xy = (n − 1)·s_xy and S_xx = (n − 1)·s²_x; arms with n < 2 add nothing.
  const centred = (d: typeof c, value: number) => (d.n >= 2 ? (d.n - 1) * value : 0);
  const sxy = centred(c, c.covariance) + centred(t, t.covariance);
  const sxx = centred(c, c.varianceX) + centred(t, t.varianceX);
  // A covariate with no spread carries no information: fall back to the unadjusted comparison.
  const theta = sxx > 0 ? sxy / sxx : 0;
  const pooledMeanX = (c.meanX * c.n + t.meanX * t.n) / (c.n + t.n);

  const adjust = (d: typeof c): ArmEstimate => ({
    mean: d.meanY - theta * (d.meanX - pooledMeanX),
    // Var(Y − θX) = s²_Y − 2θ·s_XY + θ²·s²_X, per unit; divided by n for the arm's mean.
    variance: Math.max(0, d.varianceY - 2 * theta * d.covariance + theta * theta * d.varianceX) / d.n,
    n: d.n,
  });
  const adjustedControl = adjust(c);
  const adjustedTreatment = adjust(t);
  const unadjustedVariance = c.varianceY / c.n + t.varianceY / t.n;
  const varianceReduction = 1 - (adjustedControl.variance + adjustedTreatment.variance) / unadjustedVariance;

  return { ...compareArms(adjustedControl, adjustedTreatment, options), cuped: { theta, varianceReduction } };
}
