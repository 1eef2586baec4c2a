/** One arm's estimate: the point estimate, the variance of that estimate (its se²) and its units. */
export interface ArmEstimate {
  mean: number;
  /** Variance of `mean` as an estimate, i.e. se² (for a plain mean: s²/n). */
  variance: number;
  n: number;
}

/**
 * Welch–Satterthwaite degrees of freedom for the difference of two arm estimates:
 * df = (v₁ + v₂)² / (v₁²/(n₁ − 1) + v₂²/(n₂ − 1)), with vᵢ = sᵢ²/nᵢ the variance of each mean
 * (Welch 1947, "The generalization of 'Student's' problem…"; Satterthwaite 1946).
 * NaN when an arm has fewer than two units; Infinity when both variances are zero.
 */
export function welchDegreesOfFreedom(control: ArmEstimate, treatment: ArmEstimate): number {
  if (control.n < 2 || treatment.n < 2) return NaN;
  const total = control.variance + treatment.variance;
  const denominator = control.variance ** 2 / (control.n - 1) + treatment.variance ** 2 / (treatment.n - 1);
  if (denominator === 0) return Infinity;
  return (total * total) / denominator;
}
