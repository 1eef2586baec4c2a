// How far two rankings of the same request agree: the served list against a shadow model's list.
// Overlap@k and rank-biased overlap compare the lists users would see (after constraints); Kendall's
// τ and Spearman's ρ compare the models' full orderings of the same candidates, so they are defined
// whatever k is.

/** Share of the first k ids of `a` that also appear in the first k of `b` (1 when both are empty). */
export function overlapAtK(a: readonly string[], b: readonly string[], k: number): number {
  const depth = Math.min(k, Math.max(a.length, b.length));
  if (depth === 0) return 1;
  const top = new Set(b.slice(0, k));
  let shared = 0;
  for (const id of a.slice(0, k)) if (top.has(id)) shared++;
  return shared / depth;
}

/** The persistence the Shadow page uses: the first 10 ranks carry 86 % of RBO's weight (Webber et al. 2010, eq. 21). */
export const RBO_PERSISTENCE = 0.9;

/**
 * Rank-biased overlap, extrapolated (RBO_ext): Webber, Moffat and Zobel, "A similarity measure for
 * indefinite rankings", ACM TOIS 28(4), 2010, eq. 32 (uneven lengths; eq. 30 when they are equal).
 * With S the shorter list (length s), L the longer (length l), X_d the number of ids shared by the
 * first d of each (S counted whole past its end) and A_d = X_d / d:
 *
 *   RBO_ext = (1−p)/p · [ Σ_{d=1..l} A_d p^d + Σ_{d=s+1..l} X_s (d−s) / (s·d) · p^d ] + [ (X_l − X_s)/l + X_s/s ] p^l
 *
 * It assumes the agreement seen down to the end of the lists goes on below them. `a`, `b`: ids best
 * first, each without repeats; `p` in (0, 1) is the persistence (weight of rank d ∝ p^(d−1)).
 * Returns a number in [0, 1]: 1 for identical lists (and for two empty ones), 0 when one is empty
 * or they share nothing. O(l). Throws RangeError for p outside (0, 1) or a repeated id.
 */
export function rankBiasedOverlap(a: readonly string[], b: readonly string[], p: number = RBO_PERSISTENCE): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`RBO persistence p must be in (0, 1) (got ${p})`);
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  const s = short.length;
  const l = long.length;
  if (l === 0) return 1;
  if (s === 0) return 0;
  const seenShort = new Set<string>();
  const seenLong = new Set<string>();
  let shared = 0;
  let sharedAtS = 0;
  let sum = 0;
  let weight = 1;
  // Identical lists (X_d = d at every depth) are 1 exactly, not 1 less the rounding of the sum.
  let identical = s === l;
  for (let d = 1; d <= l; d++) {
    weight *= p;
    if (d <= s) {
      const x = short[d - 1]!;
      if (seenShort.has(x)) throw new RangeError(`"${x}" appears twice in one ranking`);
      seenShort.add(x);
      if (seenLong.has(x)) shared++;
    }
    const y = long[d - 1]!;
    if (seenLong.has(y)) throw new RangeError(`"${y}" appears twice in one ranking`);
    seenLong.add(y);
    if (seenShort.has(y)) shared++;
    if (d === s) sharedAtS = shared;
    if (shared !== d) identical = false;
    sum += (shared / d) * weight;
    if (d > s) sum += ((sharedAtS * (d - s)) / (s * d)) * weight;
  }
  if (identical) return 1;
  const value = ((1 - p) / p) * sum + ((shared - sharedAtS) / l + sharedAtS / s) * weight;
  return Math.min(1, Math.max(0, value));
}

/** Ranks (0 = best) of scores, best first; equal scores keep input order, as the pipeline orders them. */
function ranksOf(scores: ArrayLike<number>): Int32Array {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((x, y) => scores[y]! - scores[x]! || x - y);
  const ranks = new Int32Array(n);
  for (let r = 0; r < n; r++) ranks[order[r]!] = r;
  return ranks;
}

/** Pairs out of order in `values` (bottom-up merge sort, O(n log n)); overwrites `values`. */
function countInversions(values: Int32Array<ArrayBuffer>): number {
  const n = values.length;
  let from = values;
  let to = new Int32Array(n);
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (from[i]! <= from[j]!) to[k++] = from[i++]!;
        else {
          inversions += mid - i;
          to[k++] = from[j++]!;
        }
      }
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
    }
    [from, to] = [to, from];
  }
  return inversions;
}

function kendallFromRanks(ra: Int32Array, rb: Int32Array): number {
  const n = ra.length;
  // b's ranks listed in a's order: every inversion is a discordant pair (there are no ties).
  const inB = new Int32Array(n);
  for (let i = 0; i < n; i++) inB[ra[i]!] = rb[i]!;
  return 1 - (2 * countInversions(inB)) / ((n * (n - 1)) / 2);
}

function spearmanFromRanks(ra: Int32Array, rb: Int32Array): number {
  const n = ra.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (ra[i]! - rb[i]!) ** 2;
  return 1 - (6 * sum) / (n * (n * n - 1));
}

/**
 * Kendall's τ between two models' orderings of the same n candidates (scores index-aligned):
 * (concordant − discordant) / (n(n−1)/2). Both orderings break ties by input position, so there
 * are no ties and τ-a equals τ-b. Null below two candidates. O(n log n) (Knight's method).
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  return checkAligned(a, b) < 2 ? null : kendallFromRanks(ranksOf(a), ranksOf(b));
}

/** Spearman's ρ between two orderings of the same n candidates: 1 − 6Σd² / (n(n²−1)). Null below two. */
export function spearmanRho(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  return checkAligned(a, b) < 2 ? null : spearmanFromRanks(ranksOf(a), ranksOf(b));
}

function checkAligned(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`score vectors differ in length: ${a.length} vs ${b.length}`);
  return a.length;
}

export interface RankingAgreement {
  overlapAt10: number;
  /** RBO_ext of the two served lists at p = RBO_PERSISTENCE. */
  rbo: number;
  kendallTau: number | null;
  spearmanRho: number | null;
}

/** All four measures for one mirrored request: overlap@10 and RBO of the served lists, τ and ρ of the full orderings. */
export function rankingAgreement(served: readonly string[], shadow: readonly string[], primaryScores: ArrayLike<number>, shadowScores: ArrayLike<number>): RankingAgreement {
  const lists = { overlapAt10: overlapAtK(served, shadow, 10), rbo: rankBiasedOverlap(served, shadow) };
  if (checkAligned(primaryScores, shadowScores) < 2) return { ...lists, kendallTau: null, spearmanRho: null };
  const ra = ranksOf(primaryScores);
  const rb = ranksOf(shadowScores);
  return { ...lists, kendallTau: kendallFromRanks(ra, rb), spearmanRho: spearmanFromRanks(ra, rb) };
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
