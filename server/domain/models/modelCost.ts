// Where a tabular model is scored (server/inference/sessions.ts: the event loop, or the scoring
// pool's worker threads when its cost exceeds INFERENCE_WORKER_MS) is decided from timed runs at load.

/**
 * A model's cost from its timed runs (ms): the first run is a warm-up — a session's first run, and
 * the process's first onnxruntime run above all, pays one-time costs (measured: a tree model of
 * 0.15–0.21 ms read 1.38 ms when it was the first model a process opened, which sent it to the
 * scoring pool in one process of five: every request then paid a thread round trip, about twice
 * the CPU) — so it decides alone only when it is already far over the threshold (a heavy model
 * is not run again on the event loop to confirm it); otherwise the cost is the median of the runs
 * after it.
 * @param times run times in ms, first run first, at least one.
 * @param thresholdMs INFERENCE_WORKER_MS.
 */
export function modelCost(times: readonly number[], thresholdMs: number): number {
  const [first, ...rest] = times;
  if (rest.length === 0 || first! > 10 * thresholdMs) return first!;
  const sorted = [...rest].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1]!;
}

