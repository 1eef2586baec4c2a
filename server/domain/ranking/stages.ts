import { orderByScore } from "./order";

// Two-stage ranking (Vespa's phased ranking, https://docs.vespa.ai/en/phased-ranking.html): stage 1
// scores every candidate with the surface's model, stage 2 rescores the top `rerankCount` of stage
// 1's order with a heavier model. Vespa leaves the hits outside rerank-count with their first-phase
// scores, so the two scales can interleave; here the scales are joined so that the served list is
// always "stage 2's order, then the rest in stage 1's order", with scores that fall monotonically:
//
//   rest  = candidates stage 2 did not see; they keep their stage-1 score s1
//   floor = max s1 over rest
//   z     = a reranked candidate's stage-2 score;  zmin = min z over the reranked
//   gap   = 1, or (reranked + 1) float32 steps of floor when that is more (|floor| ≳ 2^23)
//   s     = floor + gap + (z − zmin)           (when rest is empty: s = z)
//
// A shift keeps stage 2's score differences as they were (no squashing, so a boost that adds to a
// score means the same on both stages' items), and every reranked item ends strictly above every
// stage-1-only item. Scores travel as float32: where rounding would make two reranked items equal
// (large floors, tiny differences), the lower one is moved down by float32 steps so the order stays
// stage 2's (equal z: stage 1's order). Ties in orderByScore would otherwise fall back to retrieval order.

/** The reason a served item carries when stage 2 rescored it (the response, the request log, the Debug page). */
export const STAGE2_REASON = "stage2";

/**
 * The candidates stage 2 rescores: the first `rerankCount` indices of stage 1's order (best first;
 * equal stage-1 scores keep retrieval order).
 * @param stage1 one stage-1 score per candidate (index = the request's candidate order).
 * @param rerankCount how many to rescore (≥ 1; more than there are candidates means all of them).
 * @returns candidate indices, best first by stage 1.
 */
export function stage2Cut(stage1: ArrayLike<number>, rerankCount: number): number[] {
  if (!Number.isInteger(rerankCount) || rerankCount < 1) throw new RangeError(`rerankCount must be a positive integer, got ${rerankCount}`);
  return orderByScore(stage1).slice(0, rerankCount);
}

/**
 * Joins stage-2 scores of the cut to the stage-1 scores of the rest, as stated above the functions.
 * @param stage1 one finite stage-1 score per candidate.
 * @param cut the indices stage 2 rescored (stage2Cut's answer: stage 1's order).
 * @param stage2 one score per entry of `cut`, in the same order.
 * @returns one float32 score per candidate: ordering them by score gives the reranked items in
 *   stage 2's order (equal z in stage 1's order), then the rest in stage 1's order.
 * @throws RangeError when `stage2` and `cut` differ in length or a stage-2 score is not finite
 *   (the caller serves stage 1's order instead).
 */
export function mergeStageScores(stage1: ArrayLike<number>, cut: readonly number[], stage2: ArrayLike<number>): Float32Array {
  if (stage2.length !== cut.length) throw new RangeError(`stage 2 gave ${stage2.length} scores for ${cut.length} candidates`);
  for (let k = 0; k < stage2.length; k++) {
    if (!Number.isFinite(stage2[k])) throw new RangeError(`stage 2 score ${k} is ${stage2[k]}, not a finite number`);
  }
  const merged = Float32Array.from(stage1);
  const reranked = new Set(cut);
  let floor = -Infinity;
  for (let i = 0; i < merged.length; i++) if (!reranked.has(i) && merged[i]! > floor) floor = merged[i]!;
  let zmin = Infinity;
  for (let k = 0; k < stage2.length; k++) zmin = Math.min(zmin, stage2[k]!);
  // Room for one float32 step per reranked item above the floor, should rounding need them.
  const gap = Math.max(1, (cut.length + 1) * Math.abs(floor) * 2 ** -23);
  const offset = floor === -Infinity ? 0 : floor + gap - zmin;
  // Stage 2's order; equal z keep the cut's (stage 1's) order.
  const order = cut.map((_, k) => k).sort((a, b) => stage2[b]! - stage2[a]! || a - b);
  let previous = Infinity;
  for (const k of order) {
    let s = Math.fround(stage2[k]! + offset);
    if (s >= previous) s = nextBelow(previous);
    if (!Number.isFinite(s)) throw new RangeError(`stage-2 score ${stage2[k]} shifted by ${offset} leaves the float32 range`);
    merged[cut[k]!] = s;
    previous = s;
  }
  if (floor !== -Infinity && previous <= floor) throw new RangeError(`stage-2 scores cannot be placed above the stage-1 floor ${floor} in float32`);
  return merged;
}

/** The largest float32 below the float32 `x` (x finite). */
function nextBelow(x: number): number {
  if (x === 0) return -1.401298464324817e-45; // the smallest float32 subnormal, negated
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  bits[0]! += x > 0 ? -1 : 1;
  return f[0]!;
}
