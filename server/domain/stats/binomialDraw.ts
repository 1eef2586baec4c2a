import type { Rng } from "../random";

// A sampler for simulations (unit tests of the statistics), kept beside them so every simulation
// draws sufficient statistics the same way.

/**
 * Exact Binomial(n, p) draw by inversion from one uniform: the number of clicking users among n
 * independent users — the sufficient statistic their per-unit rows would sum to. Used where a
 * simulation needs tens of millions of units (one uniform per unit costs ~0.25 µs under vitest's
 * module transform, which would blow the time budget). Weights relative to the mode follow
 * pmf(k + 1)/pmf(k) = (n − k)·p/((k + 1)(1 − p)); the mass beyond ±12σ of the mode (< 1e-30) is dropped.
 */
export function binomial(rng: Rng, n: number, p: number): number {
  // Small means: walk the CDF up from 0 (a handful of steps, no allocation).
  if (n * p < 20 && p < 0.5) {
    let u = rng.next();
    let pmf = (1 - p) ** n;
    const odds = p / (1 - p);
    for (let k = 0; k < n; k++) {
      u -= pmf;
      if (u < 0) return k;
      pmf *= ((n - k) / (k + 1)) * odds;
    }
    return n;
  }
  const mode = Math.floor((n + 1) * p);
  const sd = Math.sqrt(n * p * (1 - p));
  const lo = Math.max(0, Math.floor(mode - 12 * sd - 1));
  const hi = Math.min(n, Math.ceil(mode + 12 * sd + 1));
  const odds = p / (1 - p);
  const weights = new Float64Array(hi - lo + 1);
  weights[mode - lo] = 1;
  for (let k = mode; k < hi; k++) weights[k + 1 - lo] = weights[k - lo]! * ((n - k) / (k + 1)) * odds;
  for (let k = mode; k > lo; k--) weights[k - 1 - lo] = (weights[k - lo]! * (k / (n - k + 1))) / odds;
  let total = 0;
  for (const w of weights) total += w;
  let u = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!;
    if (u < 0) return lo + i;
  }
  return hi;
}

