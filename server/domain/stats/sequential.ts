// Always-valid inference for a difference of arm estimates, so the result can be looked at after
// every batch without inflating the false-positive rate.
//
// Mixture SPRT (Robbins 1970; Johari, Koomen, Pekelis & Walsh 2022, "Always Valid Inference:
// Continuous Monitoring of A/B Tests", Operations Research 70(3)): treat the estimate Δ̂ with
// variance V as Gaussian and mix the likelihood ratio over effects θ ~ N(0, τ²):
//   Λ = √(V/(V + τ²)) · exp( (Δ̂ − θ₀)²·τ² / (2V(V + τ²)) ).
// Λ is a nonnegative martingale under H₀: θ = θ₀, so by Ville's inequality P(∃ look: Λ ≥ 1/α) ≤ α.
// The always-valid p-value is 1/Λ, and the confidence sequence is the set of θ₀ with Λ(θ₀) < 1/α:
//   Δ̂ ± √( V(V + τ²)/τ² · (2·ln(1/α) + ln((V + τ²)/V)) ).
// With V estimated from the data this is Howard, Ramdas, McAuliffe & Sekhon's (2021) normal-mixture
// boundary used asymptotically (Waudby-Smith et al. 2021, "Time-uniform central limit theory"),
// which is what GrowthBook's "sequential testing" computes.
//
// We report 1/Λ and the interval at the current look only (no running minimum/intersection over
// past looks): each is valid at any stopping time on its own, they always agree with each other,
// and the caller needs no history — at the cost of being slightly less tight than the running one.

/**
 * Ratio τ²/V* that makes the confidence sequence tightest when the estimate's variance is V*:
 * minimising the half-width over τ² gives r = −2 ln α + ln(1 + r), approximated by
 * r* = −2 ln α + ln(1 − 2 ln α) (Howard et al. 2021; GrowthBook's tuning with N* = target units).
 */
export function mixtureTuningRatio(alpha: number): number {
  const twoLogInvAlpha = -2 * Math.log(alpha);
  return twoLogInvAlpha + Math.log(1 + twoLogInvAlpha);
}

/** Mixing variance τ² tuned so the confidence sequence is tightest at the target sample size. */
export function mixtureVariance(alpha: number, varianceAtTarget: number): number {
  return mixtureTuningRatio(alpha) * varianceAtTarget;
}

/** ln Λ, the log mixture likelihood ratio of H₁ (θ ~ N(0, τ²) around θ₀) against H₀: θ = θ₀. */
export function logMixtureLikelihoodRatio(estimate: number, variance: number, tau2: number, nullValue = 0): number {
  const d = estimate - nullValue;
  return 0.5 * Math.log(variance / (variance + tau2)) + (d * d * tau2) / (2 * variance * (variance + tau2));
}

/** Always-valid p-value min(1, 1/Λ). */
export function alwaysValidPValue(estimate: number, variance: number, tau2: number, nullValue = 0): number {
  return Math.min(1, Math.exp(-logMixtureLikelihoodRatio(estimate, variance, tau2, nullValue)));
}

/** Half-width of the (1 − α) confidence sequence at the current look. */
export function confidenceSequenceHalfWidth(variance: number, tau2: number, alpha: number): number {
  return Math.sqrt(((variance * (variance + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((variance + tau2) / variance)));
}
