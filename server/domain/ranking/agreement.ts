// How far two rankings of the same request agree: the served list against a shadow model's list.
// Overlap@k and rank-biased overlap compare the lists users would see (after constraints); Kendall's
// τ-b and Spearman's ρ compare the models' scores of the same candidates (ties as ties), so they are
// defined whatever k is.

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

/** Pairs (i < j) with values[i] > values[j] (bottom-up merge sort, O(n log n)); equal values are not inversions. Overwrites `values`. */
function countInversions(values: Float64Array<ArrayBuffer>): number {
  const n = values.length;
  let from = values;
  let to = new Float64Array(n);
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

/** Indices 0..n−1 sorted by `by` ascending, then by `then` ascending. */
function sortedIndices(by: Float64Array, then?: Float64Array): Int32Array {
  const order = new Int32Array(by.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return then ? order.sort((i, j) => by[i]! - by[j]! || then[i]! - then[j]!) : order.sort((i, j) => by[i]! - by[j]!);
}

/**
 * Midranks (1..n, a tie's members share the mean of the ranks it spans) of `values` along `order`
 * (indices sorted by value), and the pairs tied in it, Σ t(t−1)/2 over its runs of equal values.
 */
function midranksAlong(values: Float64Array, order: Int32Array): { ranks: Float64Array; tiedPairs: number } {
  const n = values.length;
  const ranks = new Float64Array(n);
  let tiedPairs = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && values[order[j]!] === values[order[i]!]) j++;
    const mean = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]!] = mean;
    tiedPairs += ((j - i) * (j - i - 1)) / 2;
    i = j;
  }
  return { ranks, tiedPairs };
}

/** Pearson's correlation of two midrank vectors (their mean is (n+1)/2); null when either is constant. */
function rankCorrelation(ra: Float64Array, rb: Float64Array): number | null {
  const mean = (ra.length + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < ra.length; i++) {
    const da = ra[i]! - mean;
    const db = rb[i]! - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? null : Math.min(1, Math.max(-1, sab / Math.sqrt(saa * sbb)));
}

/** τ-b and midrank ρ of two aligned score vectors of length ≥ 2 (see kendallTau, spearmanRho). */
function tiedCorrelations(aScores: ArrayLike<number>, bScores: ArrayLike<number>): { tau: number | null; rho: number | null } {
  const a = Float64Array.from(aScores);
  const b = Float64Array.from(bScores);
  const n = a.length;
  const byA = sortedIndices(a, b);
  const { ranks: ra, tiedPairs: n1 } = midranksAlong(a, byA);
  const { ranks: rb, tiedPairs: n2 } = midranksAlong(b, sortedIndices(b));
  // n3: pairs tied in both (runs of equal (a, b) along byA).
  let n3 = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && a[byA[j]!] === a[byA[i]!] && b[byA[j]!] === b[byA[i]!]) j++;
    n3 += ((j - i) * (j - i - 1)) / 2;
    i = j;
  }
  // b read in a's order (within a tie of a, b ascending, so it adds no inversion): each inversion is a discordant pair.
  const discordant = countInversions(Float64Array.from(byA, (i) => b[i]!));
  const n0 = (n * (n - 1)) / 2;
  const denominator = Math.sqrt((n0 - n1) * (n0 - n2));
  const tau = denominator === 0 ? null : Math.min(1, Math.max(-1, (n0 - n1 - n2 + n3 - 2 * discordant) / denominator));
  return { tau, rho: rankCorrelation(ra, rb) };
}

/**
 * Kendall's τ-b between two models' scores of the same n candidates (index-aligned), ties counted as
 * ties: (n_c − n_d) / √((n_0 − n_1)(n_0 − n_2)), with n_0 = n(n−1)/2 and n_1, n_2 the pairs tied in
 * a and in b (Kendall 1945, "The treatment of ties in ranking problems"; what scipy.stats.kendalltau
 * returns by default). Equal scores are not an ordering: two models that both give every candidate
 * the same score do not "agree perfectly" (an input-order tie-break made them 1). Null below two
 * candidates or when either side scores every candidate the same (τ-b is 0/0 there). O(n log n)
 * (Knight 1966, "A computer method for calculating Kendall's tau with ungrouped data").
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  return checkAligned(a, b) < 2 ? null : tiedCorrelations(a, b).tau;
}

/**
 * Spearman's ρ between two models' scores of the same n candidates: Pearson's correlation of their
 * midranks (ties share the mean rank; equal to 1 − 6Σd² / (n(n²−1)) without ties; what
 * scipy.stats.spearmanr returns). Null below two candidates or when either side is constant.
 */
export function spearmanRho(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  return checkAligned(a, b) < 2 ? null : tiedCorrelations(a, b).rho;
}

function checkAligned(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`score vectors differ in length: ${a.length} vs ${b.length}`);
  return a.length;
}

export interface RankingAgreement {
  overlapAt10: number;
  /** RBO_ext of the two served lists at p = RBO_PERSISTENCE. */
  rbo: number;
  /** Kendall's τ-b of the full score vectors; null below two candidates or when either model scored them all the same. */
  kendallTau: number | null;
  /** Spearman's ρ (midranks) of the full score vectors; null as kendallTau. */
  spearmanRho: number | null;
}

/** All four measures for one mirrored request: overlap@10 and RBO of the served lists, τ and ρ of the full orderings. */
export function rankingAgreement(served: readonly string[], shadow: readonly string[], primaryScores: ArrayLike<number>, shadowScores: ArrayLike<number>): RankingAgreement {
  const lists = { overlapAt10: overlapAtK(served, shadow, 10), rbo: rankBiasedOverlap(served, shadow) };
  if (checkAligned(primaryScores, shadowScores) < 2) return { ...lists, kendallTau: null, spearmanRho: null };
  const { tau, rho } = tiedCorrelations(primaryScores, shadowScores);
  return { ...lists, kendallTau: tau, spearmanRho: rho };
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
