import { orderByScore } from "./order";

// Offline ranking metrics in the trec_eval / LightGBM convention, so our figures compare with the
// published ones: gain 2^rel − 1, discount 1 / log2(1 + position) (positions from 1), ties in
// score broken by input order, ideal DCG from the labels sorted descending, and a cut-off k larger
// than the query simply covers the whole query.
//
// Queries without a relevant document (every label 0) have no ideal ranking to fall short of:
// LightGBM scores their NDCG as 1 at every k, and so do we (otherwise our averages would sit below
// LightGBM's on the same predictions). They have no first relevant document either, so the MRR is
// averaged over the queries that have one (trec_eval's convention); counting them as 0 would only
// subtract a constant that no ranker can change. A single-document query is an ordinary query:
// NDCG 1 (nothing to reorder), reciprocal rank 1 if its document is relevant.

/** Gain of a graded label. */
export function gainOf(label: number): number {
  return 2 ** label - 1;
}

/** Discount of the 0-based rank `i` (position i + 1). */
export function discountAt(i: number): number {
  return 1 / Math.log2(i + 2);
}

/** DCG of the first `k` labels of a ranking (labels already in ranked order). */
export function dcgOfRanking(rankedLabels: ArrayLike<number>, k: number): number {
  let dcg = 0;
  const n = Math.min(k, rankedLabels.length);
  for (let i = 0; i < n; i++) dcg += gainOf(rankedLabels[i]!) * discountAt(i);
  return dcg;
}

/** DCG@k of the ranking `scores` induces on one query (best first, ties by input order). */
export function dcgAtK(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  checkSameLength(scores, labels);
  return dcgOfRanking(orderByScore(scores).map((i) => labels[i]!), k);
}

/** The best DCG@k any ranking of `labels` can reach. */
export function idealDcgAtK(labels: ArrayLike<number>, k: number): number {
  return dcgOfRanking(Array.from(labels).sort((a, b) => b - a), k);
}

/** NDCG@k of one query; 1 when the query has no relevant document (LightGBM's convention). */
export function ndcgAtK(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  const ideal = idealDcgAtK(labels, k);
  if (ideal <= 0) return 1;
  return dcgAtK(scores, labels, k) / ideal;
}

/** 1 / rank of the first document with label ≥ 1 (ties by input order); 0 if there is none. */
export function reciprocalRank(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkSameLength(scores, labels);
  const order = orderByScore(scores);
  for (let i = 0; i < order.length; i++) if (labels[order[i]!]! >= 1) return 1 / (i + 1);
  return 0;
}

export interface RankingMetrics {
  /** Mean NDCG@k over all queries, keyed by k. */
  ndcg: Record<number, number>;
  /** Mean reciprocal rank over the queries that have a relevant document. */
  mrr: number;
  /** Queries evaluated (non-empty groups). */
  queries: number;
  /** Of those, queries with no relevant document (NDCG 1, left out of the MRR). */
  queriesWithoutRelevant: number;
}

export const DEFAULT_CUTOFFS: readonly number[] = [1, 3, 5, 10];

/**
 * Averages the per-query metrics of a scored data set. `groups` are the sizes of consecutive
 * query groups (the LETOR `.query` file); they must cover `scores` exactly.
 */
export function evaluateRanking(scores: ArrayLike<number>, labels: ArrayLike<number>, groups: readonly number[], ks: readonly number[] = DEFAULT_CUTOFFS): RankingMetrics {
  checkSameLength(scores, labels);
  const total = groups.reduce((s, g) => s + g, 0);
  if (total !== scores.length) throw new RangeError(`the query groups cover ${total} documents but there are ${scores.length} scores`);
  const sums = ks.map(() => 0);
  let queries = 0;
  let withoutRelevant = 0;
  let rrSum = 0;
  let start = 0;
  for (const size of groups) {
    if (size < 0 || !Number.isInteger(size)) throw new RangeError(`invalid query group size ${size}`);
    const end = start + size;
    start = end;
    if (size === 0) continue; // an empty group is not a query
    const s = sliceOf(scores, end - size, end);
    const l = sliceOf(labels, end - size, end);
    queries++;
    ks.forEach((k, j) => (sums[j]! += ndcgAtK(s, l, k)));
    if (l.some((label) => label >= 1)) rrSum += reciprocalRank(s, l);
    else withoutRelevant++;
  }
  const ndcg: Record<number, number> = {};
  ks.forEach((k, j) => (ndcg[k] = queries === 0 ? 0 : sums[j]! / queries));
  const judged = queries - withoutRelevant;
  return { ndcg, mrr: judged === 0 ? 0 : rrSum / judged, queries, queriesWithoutRelevant: withoutRelevant };
}

function sliceOf(values: ArrayLike<number>, start: number, end: number): number[] {
  const out = new Array<number>(end - start);
  for (let i = start; i < end; i++) out[i - start] = values[i]!;
  return out;
}

function checkSameLength(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new RangeError(`${scores.length} scores for ${labels.length} labels`);
}
