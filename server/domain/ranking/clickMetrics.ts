// Ranking quality of served lists judged by clicks (binary relevance: clicked = relevant), as
// online NDCG@k and reciprocal rank per request.

const discount = (position: number) => 1 / Math.log2(1 + position);

/** NDCG@k of one served list from its clicked positions (1-based); null without clicks in the top k. */
export function clickNdcg(clickedPositions: readonly number[], k: number): number | null {
  const clicked = [...new Set(clickedPositions)].filter((p) => p >= 1 && p <= k);
  if (clicked.length === 0) return null;
  const dcg = clicked.reduce((s, p) => s + discount(p), 0);
  let ideal = 0;
  for (let i = 1; i <= clicked.length; i++) ideal += discount(i);
  return dcg / ideal;
}

/** 1 / the first clicked position; 0 without clicks. */
export function clickReciprocalRank(clickedPositions: readonly number[]): number {
  const valid = clickedPositions.filter((p) => p >= 1);
  return valid.length ? 1 / Math.min(...valid) : 0;
}
