import { applyConstraints, type ConstraintConfig, type ConstraintOutcome, type RankedCandidate } from "../domain/constraints/applyConstraints";
import { buildFeatureMatrix, type CandidateInput, type FeatureMatrix, type StoredFeatures } from "../domain/features/featureSpec";
import { orderByScore, retrievalOrderScores } from "../domain/ranking/order";
import { openModel, type ModelHandle } from "../inference/sessions";
import type { ModelRef } from "../surfaces/configCache";
import { failureReason, scoringBreaker } from "./breakers";
import type { FallbackReason, RerankResponse } from "./schema";

// Score and constrain: the one path live requests, their fallbacks and shadow scoring take. A model
// is opened, fed the feature matrix, run under its circuit breaker and the surface's budget; a fault
// moves to the next model of the cascade, and when none is left the candidates keep retrieval order.
// The ordering then passes the surface's constraints and the top k.

/** Item attributes (for constraints) and stored features by candidate id; unknown ids are absent. */
export type ItemLookup = Map<string, { attrs: RankedCandidate["attrs"]; features?: StoredFeatures }>;

/** What a model scores: the request's candidates with their features as of `asOf` (epoch ms; staleness is judged against it). */
export interface ScoringInput {
  candidates: readonly CandidateInput[];
  items: ItemLookup;
  user: StoredFeatures | undefined;
  asOf: number;
  /** Who sent the request (callerOf), for the breakers' per-caller circuits; default in-process. */
  caller?: string;
}

export interface Scored {
  /** One score per candidate, index-aligned with the input's candidates. */
  scores: Float32Array;
  /** The model that scored them (null: retrieval order). */
  handle: ModelHandle | null;
  ref: ModelRef | null;
  fallbackReason: FallbackReason | null;
  servedBy: RerankResponse["fallback"]["servedBy"];
  /** The feature matrix the model saw (null: retrieval order). */
  matrix: FeatureMatrix | null;
  /** The model run's wall time in ms (0 for retrieval order). */
  runMs: number;
  /** The first fault met on the way (load error, breaker, budget, model error), or null. */
  failure: unknown;
}

/** Retrieval order (scores n, n−1, …) served for `reason`. */
export function retrievalOrder(n: number, reason: FallbackReason, failure: unknown = null): Scored {
  return { scores: retrievalOrderScores(n), handle: null, ref: null, fallbackReason: reason, servedBy: "retrieval_order", matrix: null, runMs: 0, failure };
}

/**
 * Scores with the first model of `cascade` that answers; each fault is remembered (the first one
 * names the fallback reason) and the next model tried.
 * @param scope the breaker scope: the surface key, or `<surface>#shadow` for shadow scoring.
 * @param timeoutMs the surface's scoring budget for one model run.
 * @returns the scores, or retrieval order with the reason ("no_model" when the cascade is empty).
 */
export async function scoreWithModels(scope: string, cascade: ReadonlyArray<ModelRef | null>, timeoutMs: number, input: ScoringInput): Promise<Scored> {
  let reason: FallbackReason | null = null;
  let failure: unknown = null;
  let tried = false;
  for (const ref of cascade) {
    if (!ref) continue;
    tried = true;
    let handle: ModelHandle;
    try {
      handle = await openModel(ref);
    } catch (error) {
      reason ??= "model_load_error";
      failure ??= error;
      continue;
    }
    const matrix = buildFeatureMatrix(handle.featureSpec, input.candidates, { item: (id) => input.items.get(id)?.features, user: input.user }, input.asOf);
    const runStarted = performance.now();
    try {
      const scores = await scoringBreaker(scope, handle, timeoutMs).fire(handle, matrix.data, matrix.rows, matrix.cols, input.caller);
      return { scores, handle, ref, fallbackReason: reason, servedBy: reason ? "cascade" : "model", matrix, runMs: performance.now() - runStarted, failure };
    } catch (error) {
      reason ??= failureReason(error);
      failure ??= error;
    }
  }
  return retrievalOrder(input.candidates.length, tried ? (reason ?? "model_error") : "no_model", failure);
}

/** Orders the candidates by score (ties keep retrieval order), then applies the constraints and the top k. */
export function rankWithConstraints(scores: Float32Array, input: Pick<ScoringInput, "candidates" | "items">, constraints: ConstraintConfig, topK: number): ConstraintOutcome {
  const ranked: RankedCandidate[] = orderByScore(scores).map((i) => {
    const id = input.candidates[i]!.id;
    return { id, score: scores[i]!, attrs: input.items.get(id)?.attrs ?? {} };
  });
  return applyConstraints(ranked, constraints, topK);
}
