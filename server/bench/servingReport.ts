import { quantileSorted } from "../domain/stats/describe";
import { quantileInterval } from "../domain/stats/quantiles";

// The judged figures of npm run bench:serving (serving.bench.ts) as pure functions of the paired
// blocks it measured (unit-tested in servingReport.test.ts). The p99 at half of max is judged with
// bench:text's p99Ratio (textReport.ts).

/** The targets of issue 12: telemetry on costs at most 10 % of the throughput with it off; the console reaches ≥ 90 % of bare node:http's. */
export const TELEMETRY_TARGET = 0.1;
export const CONSOLE_RATIO_TARGET = 0.9;

export type Verdict = "met" | "met (within noise)" | "missed (within noise)" | "missed";

/** A median over pairs with its interval and verdict. */
export interface PairedFigure {
  /** Median of the pairs' values. */
  estimate: number;
  /** Each pair's value, in the order measured. */
  pairs: number[];
  /**
   * A distribution-free interval for the median with coverage ≥ the level asked (order statistics:
   * Hahn & Meeker, Statistical Intervals, §5.2, via quantileInterval); null with fewer than 6 pairs,
   * the fewest whose extremes cover a median at 95 % (1 − 2 · 0.5⁶ = 96.9 %).
   */
  interval: { lower: number; upper: number; coverage: number } | null;
  verdict: Verdict;
}

/**
 * The median of per-pair values with its interval, judged against `target`: "met" when the whole
 * interval is on the good side of it (`better` "lower": ≤ target; "higher": ≥ target), "missed" when
 * it is all on the other side, "… (within noise)" when it straddles the target or there is none.
 * @throws RangeError with no values, a non-finite value (naming its index), or `level` outside (0, 1).
 */
export function pairedFigure(values: readonly number[], target: number, better: "lower" | "higher", level = 0.95): PairedFigure {
  if (values.length === 0) throw new RangeError("a paired figure needs at least one pair");
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`pairs[${i}]: the value must be finite, got ${v}`);
  });
  const sorted = [...values].sort((a, b) => a - b);
  const estimate = quantileSorted(sorted, 0.5);
  const ci = quantileInterval(sorted, 0.5, level);
  const interval = ci ? { lower: ci.lower, upper: ci.upper, coverage: ci.coverage } : null;
  const good = (x: number) => (better === "lower" ? x <= target : x >= target);
  const met = good(estimate);
  // Settled when even the interval's end nearest the other side is on the estimate's side.
  const settled = interval !== null && (met ? good(better === "lower" ? interval.upper : interval.lower) : !good(better === "lower" ? interval.lower : interval.upper));
  const verdict: Verdict = met ? (settled ? "met" : "met (within noise)") : settled ? "missed" : "missed (within noise)";
  return { estimate, pairs: [...values], interval, verdict };
}

/** One pair of equally long closed-loop blocks measured back to back (the caller alternates which runs first: ABBA), req/s. */
export interface RatePair {
  /** The side under test: telemetry on, or the console. */
  test: number;
  /** The side it is compared with: telemetry off, or bare node:http. */
  reference: number;
}

/** Both figures of every pair positive and finite, else a RangeError naming the pair (`what`: "rates", `unit`: "req/s"). */
const checkPairs = (pairs: readonly { test: number; reference: number }[], what = "rates", unit = "req/s") =>
  pairs.forEach((p, i) => {
    if (!(p.test > 0 && p.reference > 0 && Number.isFinite(p.test) && Number.isFinite(p.reference))) {
      throw new RangeError(`pairs[${i}]: ${what} must be positive and finite, got ${p.test} and ${p.reference} ${unit}`);
    }
  });

/**
 * Telemetry's cost: per pair 1 − on/off (a share of throughput: 0.1 = telemetry costs 10 %), their
 * median and its interval, judged against TELEMETRY_TARGET (lower is better). `test` is telemetry on.
 * @throws RangeError as pairedFigure, or when a rate is not positive and finite (naming the pair).
 */
export function telemetryCost(pairs: readonly RatePair[], target = TELEMETRY_TARGET, level = 0.95): PairedFigure {
  checkPairs(pairs);
  return pairedFigure(pairs.map((p) => 1 - p.test / p.reference), target, "lower", level);
}

/**
 * The console's throughput as a share of bare node:http's: per pair console/bare, their median and
 * its interval, judged against CONSOLE_RATIO_TARGET (higher is better). `test` is the console.
 * @throws RangeError as telemetryCost.
 */
export function throughputRatio(pairs: readonly RatePair[], target = CONSOLE_RATIO_TARGET, level = 0.95): PairedFigure {
  checkPairs(pairs);
  return pairedFigure(pairs.map((p) => p.test / p.reference), target, "higher", level);
}

/** One block in which two servers took the same paced load at the same time: each one's CPU µs per request. */
export interface CpuPair {
  /** The server under test (the console, or bare node:http with Next.js in its process). */
  test: number;
  /** The server it is compared with. */
  reference: number;
}

/**
 * CPU per request of one server over another's: per block test/reference, their median and its
 * interval, judged against `target` (lower is better). The default target is what CONSOLE_RATIO_TARGET
 * asks of CPU: a server bound by one core reaches 90 % of another's throughput only if it spends at most
 * 1 / 0.9 ≈ ×1.11 of the other's CPU per request.
 * @throws RangeError as pairedFigure, or when a figure is not positive and finite (naming the block).
 */
export function cpuRatio(pairs: readonly CpuPair[], target = 1 / CONSOLE_RATIO_TARGET, level = 0.95): PairedFigure {
  checkPairs(pairs, "CPU per request", "µs");
  return pairedFigure(pairs.map((p) => p.test / p.reference), target, "lower", level);
}

/**
 * Telemetry's cost from the serving thread's CPU: per block, in which the console with telemetry on
 * (`test`) and the same console with it off (`reference`) took the same paced load at the same time,
 * 1 − off/on µs per request: the share of throughput telemetry takes from a server bound by that
 * thread's core (1000 µs on vs 900 off: it serves 900/1000 as many requests, a cost of 0.1). Both
 * servers meet every drift of the machine's speed in the same block, so its interval is a fraction of
 * the throughput pairs' (telemetryCost), whose blocks alternate in time. Judged against `target`
 * (TELEMETRY_TARGET; lower is better).
 * @throws RangeError as cpuRatio.
 */
export function telemetryCpuCost(pairs: readonly CpuPair[], target = TELEMETRY_TARGET, level = 0.95): PairedFigure {
  checkPairs(pairs, "CPU per request", "µs");
  return pairedFigure(pairs.map((p) => 1 - p.reference / p.test), target, "lower", level);
}

/**
 * CPU per request of one server over another's across fresh process pairs: each pair (a new process
 * of each kind, started together and loaded at once) gives the median of its blocks' test/reference,
 * and the figure is the median over pairs with its distribution-free interval (pairedFigure: with 6
 * pairs, from the lowest to the highest, 96.9 %), judged against `target` (lower is better;
 * 1 / CONSOLE_RATIO_TARGET by default, as cpuRatio). One pair of processes reads its own ratio several
 * per cent off another's (where V8's compiler and the memory layout left each process), so blocks of
 * one pair are not independent samples of the ratio: pairs are.
 * @param pairs per process pair, its blocks (each block: both servers' CPU µs per request, positive and finite)
 * @throws RangeError with no pairs, a pair without blocks (naming it), or a figure that is not positive and finite (naming pair and block).
 */
export function cpuRatioOverProcessPairs(pairs: readonly (readonly CpuPair[])[], target = 1 / CONSOLE_RATIO_TARGET, level = 0.95): PairedFigure {
  const medians = pairs.map((blocks, k) => {
    if (blocks.length === 0) throw new RangeError(`pairs[${k}]: a process pair needs at least one block`);
    blocks.forEach((b, i) => {
      if (!(b.test > 0 && b.reference > 0 && Number.isFinite(b.test) && Number.isFinite(b.reference))) {
        throw new RangeError(`pairs[${k}][${i}]: CPU per request must be positive and finite, got ${b.test} and ${b.reference} µs`);
      }
    });
    return quantileSorted(blocks.map((b) => b.test / b.reference).sort((a, b) => a - b), 0.5);
  });
  return pairedFigure(medians, target, "lower", level);
}
