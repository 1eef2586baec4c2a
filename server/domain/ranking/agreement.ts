// How far two rankings of the same request agree: the served list against a shadow model's list.
// Overlap@k compares the lists users would see (after constraints); Kendall's τ and Spearman's ρ
// compare the models' full orderings of the same candidates, so they are defined whatever k is.

/** Share of the first k ids of `a` that also appear in the first k of `b` (1 when both are empty). */
export function overlapAtK(a: readonly string[], b: readonly string[], k: number): number {
  const depth = Math.min(k, Math.max(a.length, b.length));
  if (depth === 0) return 1;
  const top = new Set(b.slice(0, k));
  let shared = 0;
  for (const id of a.slice(0, k)) if (top.has(id)) shared++;
  return shared / depth;
}

/** Ranks (0 = best) of scores, best first; equal scores keep input order, as the pipeline orders them. */
function ranksOf(scores: ArrayLike<number>): Int32Array {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((x, y) => scores[y]! - scores[x]! || x - y);
  const ranks = new Int32Array(scores.length);
  order.forEach((index, rank) => (ranks[index] = rank));
  return ranks;
}

/**
 * Kendall's τ between two models' orderings of the same n candidates (scores index-aligned):
 * (concordant − discordant) / (n(n−1)/2). Both orderings break ties by input position, so there
 * are no ties and τ-a equals τ-b. Null below two candidates. O(n²): n ≤ 1,000 per request.
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const n = checkAligned(a, b);
  if (n < 2) return null;
  const ra = ranksOf(a);
  const rb = ranksOf(b);
  let balance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) balance += Math.sign(ra[i]! - ra[j]!) * Math.sign(rb[i]! - rb[j]!);
  }
  return balance / ((n * (n - 1)) / 2);
}

/** Spearman's ρ between two orderings of the same n candidates: 1 − 6Σd² / (n(n²−1)). Null below two. */
export function spearmanRho(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const n = checkAligned(a, b);
  if (n < 2) return null;
  const ra = ranksOf(a);
  const rb = ranksOf(b);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (ra[i]! - rb[i]!) ** 2;
  return 1 - (6 * sum) / (n * (n * n - 1));
}

function checkAligned(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`score vectors differ in length: ${a.length} vs ${b.length}`);
  return a.length;
}

export interface RankingAgreement {
  overlapAt10: number;
  kendallTau: number | null;
  spearmanRho: number | null;
}

/** All three measures for one mirrored request. */
export function rankingAgreement(served: readonly string[], shadow: readonly string[], primaryScores: ArrayLike<number>, shadowScores: ArrayLike<number>): RankingAgreement {
  return { overlapAt10: overlapAtK(served, shadow, 10), kendallTau: kendallTau(primaryScores, shadowScores), spearmanRho: spearmanRho(primaryScores, shadowScores) };
}

/**
 * Whether a request is mirrored: a deterministic draw from its id (the same request id always gets
 * the same answer, so retries and replays do not double-count), uniform in [0, 1).
 */
export function sampledForShadow(hash32: number, rate: number): boolean {
  if (!(rate > 0)) return false;
  if (rate >= 1) return true;
  return hash32 / 2 ** 32 < rate;
}
