import { orderByScore } from "./order";

// Which items two models disagree about most in one request: for every item shown by either side,
// its rank in each model's full ordering of the candidates. The Shadow page shows the features of
// these items, because they are where the candidate's judgement differs from the serving model's.

export interface RankMove {
  id: string;
  /** Index of the item in the request's candidates (and in both score vectors). */
  index: number;
  /** 1-based rank in the serving model's ordering of all candidates. */
  primaryRank: number;
  /** 1-based rank in the candidate model's ordering of all candidates. */
  shadowRank: number;
  /** primaryRank − shadowRank: positive when the candidate ranks the item higher. */
  move: number;
}

/** 1-based ranks of `scores`, best first; equal scores keep input order, as the pipeline orders them. */
function rankOf(scores: ArrayLike<number>): Int32Array {
  const ranks = new Int32Array(scores.length);
  orderByScore(scores).forEach((index, r) => (ranks[index] = r + 1));
  return ranks;
}

/**
 * The `limit` items of `shown` (ids in either served list) whose ranks differ most between the two
 * models, largest |move| first; ties go to the item ranked higher by either model, then by the serving model. `ids`,
 * `primaryScores` and `shadowScores` are index-aligned with the request's candidates; ids of
 * `shown` that are not candidates are skipped. Throws RangeError when the vectors differ in length.
 */
export function largestMoves(
  ids: readonly string[],
  primaryScores: ArrayLike<number>,
  shadowScores: ArrayLike<number>,
  shown: Iterable<string>,
  limit: number,
): RankMove[] {
  if (ids.length !== primaryScores.length || ids.length !== shadowScores.length) {
    throw new RangeError(`ids, primary and shadow scores differ in length: ${ids.length}, ${primaryScores.length}, ${shadowScores.length}`);
  }
  const primary = rankOf(primaryScores);
  const shadow = rankOf(shadowScores);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const moves: RankMove[] = [];
  for (const id of new Set(shown)) {
    const index = indexOf.get(id);
    if (index === undefined) continue;
    moves.push({ id, index, primaryRank: primary[index]!, shadowRank: shadow[index]!, move: primary[index]! - shadow[index]! });
  }
  moves.sort((x, y) => Math.abs(y.move) - Math.abs(x.move) || Math.min(x.primaryRank, x.shadowRank) - Math.min(y.primaryRank, y.shadowRank) || x.primaryRank - y.primaryRank);
  return moves.slice(0, Math.max(0, limit));
}
