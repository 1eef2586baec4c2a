/**
 * Indices of `scores`, best first; equal scores keep their input (retrieval) order, so the
 * ranking is deterministic whatever the sort implementation.
 */
export function orderByScore(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Fallback pseudo-scores that keep the retrieval order: n, n-1, …, 1. */
export function retrievalOrderScores(n: number): Float32Array {
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = n - i;
  return scores;
}
