// Where a tabular model is scored (server/inference/sessions.ts: the event loop, or the scoring
// pool's worker threads when its cost exceeds INFERENCE_WORKER_MS) is decided from timed runs at load.

/**
 * A model's cost from its timed runs (ms): the first run is a warm-up — a session's first run, and
 * the process's first onnxruntime run above all, pays one-time costs (measured: a tree model of
 * 0.15–0.21 ms read 1.38 ms when it was the first model a process opened, which sent it to the
 * scoring pool in one process of five: every request then paid a thread round trip, about twice
 * the CPU) — so the cost is the median of the runs after it. A heavy model is not run four times
 * on the event loop to confirm it: when the warm-up is already over 10 × the threshold the caller
 * runs it once more (enoughRuns), and the cost is the faster of the two (one run slowed by the
 * scheduler does not send a light model to the pool for the life of the process).
 * @param times run times in ms, first run first, at least one.
 * @param thresholdMs INFERENCE_WORKER_MS.
 */
export function modelCost(times: readonly number[], thresholdMs: number): number {
  const [first, ...rest] = times;
  if (rest.length === 0) return first!;
  if (isHeavy(first!, thresholdMs)) return Math.min(...times.slice(0, HEAVY_RUNS));
  const sorted = [...rest].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1]!;
}

/** Runs a model whose warm-up was over 10 × the threshold gets in all. */
const HEAVY_RUNS = 2;
/** Runs any other model gets: the warm-up and three. */
const RUNS = 4;

/** Have `times` (run times in ms, first run first) enough runs for modelCost? */
export const enoughRuns = (times: readonly number[], thresholdMs: number): boolean =>
  times.length >= RUNS || (times.length >= HEAVY_RUNS && isHeavy(times[0]!, thresholdMs));

/** A warm-up run this slow (ms) decides with one more run instead of three. */
export const isHeavy = (warmUpMs: number, thresholdMs: number): boolean => warmUpMs > 10 * thresholdMs;
