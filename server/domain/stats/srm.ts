import { chiSquareUpperTail } from "./distributions";

// Sample-ratio mismatch: assignment counts that stray from the configured split mean the
// randomisation or logging is broken, and every metric comparison is suspect. Pearson's
// goodness-of-fit test: χ² = Σ (O − E)²/E with E = N·wᵢ/Σw, on k − 1 degrees of freedom (Pearson
// 1900; Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments",
// KDD, who recommend the strict p < 0.001 threshold used here so it rarely fires by chance).

export const SRM_P_VALUE_THRESHOLD = 0.001;

export interface SrmResult {
  chiSquare: number;
  df: number;
  pValue: number;
  /** pValue < 0.001. */
  mismatch: boolean;
  expectedCounts: number[];
}

/** Chi-square test of observed units per variant against the configured traffic weights. */
export function srmCheck(observedCounts: readonly number[], expectedWeights: readonly number[]): SrmResult {
  if (observedCounts.length !== expectedWeights.length) {
    throw new RangeError(`${observedCounts.length} counts but ${expectedWeights.length} weights`);
  }
  if (observedCounts.length < 2) throw new RangeError("an SRM check needs at least two variants");
  for (const c of observedCounts) if (!(Number.isInteger(c) && c >= 0)) throw new RangeError(`counts must be non-negative integers, got ${c}`);
  for (const w of expectedWeights) if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`weights must be positive, got ${w}`);

  const total = observedCounts.reduce((a, b) => a + b, 0);
  const weightSum = expectedWeights.reduce((a, b) => a + b, 0);
  const expectedCounts = expectedWeights.map((w) => (total * w) / weightSum);
  const df = observedCounts.length - 1;
  // No units yet: nothing can be mismatched.
  if (total === 0) return { chiSquare: 0, df, pValue: 1, mismatch: false, expectedCounts };
  const chiSquare = observedCounts.reduce((acc, o, i) => {
    const e = expectedCounts[i]!;
    return acc + ((o - e) * (o - e)) / e;
  }, 0);
  const pValue = chiSquareUpperTail(chiSquare, df);
  return { chiSquare, df, pValue, mismatch: pValue < SRM_P_VALUE_THRESHOLD, expectedCounts };
}
