import { quantileSorted } from "../domain/stats/describe";
import { quantileInterval } from "../domain/stats/quantiles";
import { createRng } from "../domain/random";

// The figures of npm run bench:text (text.bench.ts), as pure functions of the latencies it measured
// (unit-tested in textReport.test.ts, including that a model run blocking the event loop shows).

/** The target: tabular p99 with cross-encoder traffic at half of max ≤ 1.2 × tabular p99 alone. */
export const TARGET_RATIO = 1.2;

export interface P99Ratio {
  /** p99 of the loaded latencies / p99 of the baseline latencies (each R's type-7 quantile, ms/ms). */
  ratio: number;
  loadedP99: number;
  baselineP99: number;
  /**
   * A conservative interval for the ratio with joint coverage ≥ `level`: each p99's distribution-free
   * interval at 1 − (1 − level)/2 (Bonferroni), loaded lower / baseline upper to loaded upper /
   * baseline lower. Null when a sample is too small for its interval (a p99 at 97.5 % needs ≥ ~440).
   */
  interval: { lower: number; upper: number; level: number } | null;
  samples: { loaded: number; baseline: number };
}

/**
 * Compares tabular latencies measured with cross-encoder traffic (`loaded`) against tabular traffic
 * alone (`baseline`), both in ms, any order. The p99s come from every sample, so a loop stall
 * that delays 1 % of the probe's requests moves the ratio; nothing is trimmed.
 * @throws RangeError when either sample is empty or `level` is not in (0, 1).
 */
export function p99Ratio(baseline: readonly number[], loaded: readonly number[], level = 0.95): P99Ratio {
  if (baseline.length === 0 || loaded.length === 0) throw new RangeError("p99Ratio needs at least one baseline and one loaded latency");
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const b = [...baseline].sort((x, y) => x - y);
  const l = [...loaded].sort((x, y) => x - y);
  const each = 1 - (1 - level) / 2;
  const bi = quantileInterval(b, 0.99, each);
  const li = quantileInterval(l, 0.99, each);
  const baselineP99 = quantileSorted(b, 0.99);
  const loadedP99 = quantileSorted(l, 0.99);
  return {
    ratio: loadedP99 / baselineP99,
    loadedP99,
    baselineP99,
    interval: bi && li ? { lower: li.lower / bi.upper, upper: li.upper / bi.lower, level } : null,
    samples: { loaded: l.length, baseline: b.length },
  };
}

/** p99 (type 7) of the concatenated blocks picked by `picks` (indices into `blocks`). */
function pooledP99(blocks: readonly Float64Array[], picks: readonly number[]): number {
  const size = picks.reduce((n, i) => n + blocks[i]!.length, 0);
  const pooled = new Float64Array(size);
  let at = 0;
  for (const i of picks) {
    pooled.set(blocks[i]!, at);
    at += blocks[i]!.length;
  }
  pooled.sort();
  return quantileSorted(pooled, 0.99);
}

/**
 * p99Ratio for latencies measured in blocks (the paired designs of bench:text and bench:serving:
 * `baselineBlocks[i]` and `loadedBlocks[i]` are the ms latencies of one block each). A stall delays
 * several consecutive requests, so a block's latencies are not independent, and the order-statistic
 * interval of p99Ratio, which assumes they are, is too narrow. The interval here is the union of that
 * one and a block bootstrap's: `resamples` times, each side's blocks drawn with replacement (as many
 * as it has), pooled, and the ratio of the two p99s taken; the percentile interval of those ratios
 * at `level` (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, §13.3; blocks as the
 * resampled units: Davison & Hinkley, Bootstrap Methods and their Application, 1997, §8.2). With few
 * blocks a bootstrap is itself too narrow (it sees only the spread the blocks showed), hence the union.
 * Seeded: the same blocks give the same interval.
 * @throws RangeError as p99Ratio, or when a side has no blocks.
 */
export function p99RatioOfBlocks(baselineBlocks: readonly (readonly number[])[], loadedBlocks: readonly (readonly number[])[], level = 0.95, options: { resamples?: number; seed?: number } = {}): P99Ratio {
  if (baselineBlocks.length === 0 || loadedBlocks.length === 0) throw new RangeError("p99RatioOfBlocks needs at least one baseline and one loaded block");
  const r = p99Ratio(baselineBlocks.flat(), loadedBlocks.flat(), level);
  const resamples = options.resamples ?? 1000;
  const rng = createRng(options.seed ?? 1);
  const base = baselineBlocks.map((b) => Float64Array.from(b));
  const load = loadedBlocks.map((b) => Float64Array.from(b));
  const draw = (n: number) => Array.from({ length: n }, () => rng.int(0, n - 1));
  const ratios = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) ratios[k] = pooledP99(load, draw(load.length)) / pooledP99(base, draw(base.length));
  ratios.sort();
  const tail = (1 - level) / 2;
  const boot = { lower: quantileSorted(ratios, tail), upper: quantileSorted(ratios, 1 - tail) };
  const interval = r.interval ? { lower: Math.min(r.interval.lower, boot.lower), upper: Math.max(r.interval.upper, boot.upper), level } : { ...boot, level };
  return { ...r, interval };
}

/** How a ratio reads against the target: met or missed, and whether the interval settles it. */
export function verdict(r: P99Ratio, target = TARGET_RATIO): "met" | "met (within noise)" | "missed (within noise)" | "missed" {
  const met = r.ratio <= target;
  if (!r.interval) return met ? "met (within noise)" : "missed (within noise)";
  if (met) return r.interval.upper <= target ? "met" : "met (within noise)";
  return r.interval.lower > target ? "missed" : "missed (within noise)";
}

export type Verdict = ReturnType<typeof verdict>;

/**
 * The target's verdict over several document counts, from each one's verdict(): "missed" when any
 * interval lies above the target, "met" when every interval lies at or below it, else "not settled"
 * (an interval straddles it: more samples, or a quieter machine, would tell).
 */
export function targetVerdict(verdicts: readonly Verdict[]): "met" | "missed" | "not settled" {
  if (verdicts.some((v) => v === "missed")) return "missed";
  return verdicts.length > 0 && verdicts.every((v) => v === "met") ? "met" : "not settled";
}

/**
 * Blocks a side for a paired phase to pool at least `samples` probe latencies a side: `rate` probe
 * requests/s over `blockSeconds`-long blocks, rounded up to an even count (ABBA order pairs blocks
 * two by two, so a drift falls on both sides alike).
 * @throws RangeError when an argument is not a positive finite number.
 */
export function blocksForSamples(samples: number, rate: number, blockSeconds: number): number {
  for (const [name, x] of Object.entries({ samples, rate, blockSeconds })) if (!(x > 0 && Number.isFinite(x))) throw new RangeError(`${name} must be a positive number, got ${x}`);
  const perBlock = Math.round(rate * blockSeconds);
  if (perBlock < 1) throw new RangeError(`a block of ${blockSeconds} s at ${rate}/s holds no probe request`);
  const blocks = Math.ceil(samples / perBlock);
  return blocks + (blocks % 2);
}

/**
 * What text traffic added to the event loop's busy time, per text request, in µs: the difference of
 * the loop's utilisation (0–1) with and without it, over the text requests per second. Includes
 * everything the traffic costs the loop (the bench's own scheduling, dispatch, replies, GC), and
 * any slowdown of the probe's own work beside it. 0 when no text request was answered.
 */
export function loopMicrosPerRequest(loadedUtilization: number, aloneUtilization: number, requestsPerSecond: number): number {
  if (!(requestsPerSecond > 0)) return 0;
  return ((loadedUtilization - aloneUtilization) * 1e6) / requestsPerSecond;
}
