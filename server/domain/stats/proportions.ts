import { normalQuantile } from "./distributions";

// Confidence intervals for a proportion and for the difference of two independent proportions
// that stay inside [0, 1] and behave at 0 and n events (a canary with no fallbacks at all), where
// the Wald interval collapses to a point.

/**
 * Wilson score interval of k events in n trials at `confidence` (Wilson 1927; Newcombe 1998,
 * method 3). n = 0 gives [0, 1]. Throws on k outside [0, n].
 */
export function wilsonInterval(k: number, n: number, confidence = 0.95): { lower: number; upper: number } {
  if (!(k >= 0 && k <= n)) throw new RangeError(`wilsonInterval: ${k} events of ${n} trials`);
  if (n === 0) return { lower: 0, upper: 1 };
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = k / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const denominator = 1 + z2 / n;
  // At 0 and n events the bounds are exactly 0 and 1 (rounding would leave 1e-17).
  return { lower: k === 0 ? 0 : Math.max(0, (centre - half) / denominator), upper: k === n ? 1 : Math.min(1, (centre + half) / denominator) };
}

export interface ProportionDifference {
  /** p₁ − p₂. */
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
}

/**
 * Newcombe's hybrid score interval for p₁ − p₂ of independent proportions k₁/n₁ and k₂/n₂
 * (Newcombe 1998, Statistics in Medicine 17:873, method 10): from the two Wilson intervals,
 * [d − √((p₁ − l₁)² + (u₂ − p₂)²), d + √((u₁ − p₁)² + (p₂ − l₂)²)]. Needs n₁, n₂ > 0.
 */
export function newcombeDifference(k1: number, n1: number, k2: number, n2: number, confidence = 0.95): ProportionDifference {
  if (!(n1 > 0 && n2 > 0)) throw new RangeError("newcombeDifference needs trials in both groups");
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const a = wilsonInterval(k1, n1, confidence);
  const b = wilsonInterval(k2, n2, confidence);
  const estimate = p1 - p2;
  return {
    estimate,
    lower: estimate - Math.sqrt((p1 - a.lower) ** 2 + (b.upper - p2) ** 2),
    upper: estimate + Math.sqrt((a.upper - p1) ** 2 + (p2 - b.lower) ** 2),
    confidence,
  };
}
