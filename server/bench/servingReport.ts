import { quantileSorted } from "../domain/stats/describe";
import { quantileInterval } from "../domain/stats/quantiles";

// The telemetry figure of npm run bench:serving (serving.bench.ts) as a pure function of the paired
// blocks it measured (unit-tested in servingReport.test.ts).

/** The target (issue 12): telemetry on costs at most 10 % of the throughput with it off. */
export const TELEMETRY_TARGET = 0.1;

/** One pair of equally long closed-loop blocks against the same kind of server: telemetry on and off, req/s. */
export interface TelemetryPair {
  onRps: number;
  offRps: number;
}

export interface TelemetryCost {
  /** Median over pairs of 1 − on/off (a share of throughput: 0.1 = telemetry costs 10 %). */
  cost: number;
  /** Each pair's cost, in the order measured. */
  pairs: number[];
  /**
   * A distribution-free interval for the median pair cost with coverage ≥ `level` (order statistics:
   * Hahn & Meeker, Statistical Intervals, §5.2, via quantileInterval); null with fewer than 6 pairs,
   * the fewest whose extremes cover the median at 95 % (1 − 2 · 0.5⁶ = 96.9 %).
   */
  interval: { lower: number; upper: number; coverage: number } | null;
  verdict: "met" | "met (within noise)" | "missed (within noise)" | "missed";
}

/**
 * Telemetry's cost from pairs of blocks measured back to back (the caller alternates which of a pair
 * runs first, ABBA, so a drift in the machine's speed falls on both sides alike). A pair's cost is
 * 1 − onRps / offRps; the figure is their median, with an interval that says whether the pairs settle
 * the target: "met" when the whole interval is at or below it, "missed" when it is all above,
 * "… (within noise)" otherwise.
 * @throws RangeError with no pairs, a non-positive or non-finite rate, or `level` outside (0, 1).
 */
export function telemetryCost(pairs: readonly TelemetryPair[], target = TELEMETRY_TARGET, level = 0.95): TelemetryCost {
  if (pairs.length === 0) throw new RangeError("telemetryCost needs at least one pair");
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  for (const [i, p] of pairs.entries()) {
    if (!(p.onRps > 0 && p.offRps > 0 && Number.isFinite(p.onRps) && Number.isFinite(p.offRps))) {
      throw new RangeError(`pairs[${i}]: rates must be positive and finite, got on ${p.onRps}, off ${p.offRps} req/s`);
    }
  }
  const costs = pairs.map((p) => 1 - p.onRps / p.offRps);
  const sorted = [...costs].sort((a, b) => a - b);
  const cost = quantileSorted(sorted, 0.5);
  const ci = quantileInterval(sorted, 0.5, level);
  const interval = ci ? { lower: ci.lower, upper: ci.upper, coverage: ci.coverage } : null;
  const met = cost <= target;
  const settled = interval !== null && (met ? interval.upper <= target : interval.lower > target);
  const verdict = met ? (settled ? "met" : "met (within noise)") : settled ? "missed" : "missed (within noise)";
  return { cost, pairs: costs, interval, verdict };
}
