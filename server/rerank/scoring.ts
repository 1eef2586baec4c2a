import { applyConstraints, type ConstraintConfig, type ConstraintOutcome, type RankedCandidate } from "../domain/constraints/applyConstraints";
import { buildFeatureMatrix, type CandidateInput, type FeatureMatrix, type StoredFeatures } from "../domain/features/featureSpec";
import { orderByScore, retrievalOrderScores } from "../domain/ranking/order";
import { documentText } from "../inference/crossEncoder/bundle";
import { openModel, peekModel, type CrossEncoderHandle, type ModelHandle } from "../inference/sessions";
import { withDeadline } from "../domain/time/deadline";
import type { ModelRef } from "../surfaces/configCache";
import { failureReason, scoringBreaker, type ScoringJob } from "./breakers";
import type { FallbackReason, RerankResponse } from "./schema";

// Score and constrain: the one path live requests, their fallbacks and shadow scoring take. A model
// is opened, fed the feature matrix, run under its circuit breaker and the surface's budget; a fault
// moves to the next model of the cascade, and when none is left the candidates keep retrieval order.
// The ordering then passes the surface's constraints and the top k. A cross-encoder is one more kind
// of model on the same path: it is given (query, document text) pairs instead of a feature matrix,
// under the same breaker, budget and cascade.

/** Item attributes (for constraints) and stored features by candidate id; unknown ids are absent. */
export type ItemLookup = Map<string, { attrs: RankedCandidate["attrs"]; features?: StoredFeatures }>;

/** A candidate as scored: its id and features, and its text when the request sent one (for cross-encoders). */
export type ScoredCandidate = CandidateInput & { text?: string };

/** What a cross-encoder reads besides the candidates: the query, and (POST /v2/rerank) the documents as sent. */
export interface TextInput {
  query: string;
  /** Index-aligned with the candidates; object documents are joined from `rankFields`, else the model's textFields. */
  documents?: ReadonlyArray<string | Record<string, unknown>>;
  rankFields?: readonly string[];
  /** Cohere's max_tokens_per_doc. */
  maxTokensPerDoc?: number;
}

/** What a model scores: the request's candidates with their features as of `asOf` (epoch ms; staleness is judged against it). */
export interface ScoringInput {
  candidates: readonly ScoredCandidate[];
  items: ItemLookup;
  user: StoredFeatures | undefined;
  asOf: number;
  /** Who sent the request (callerOf), for the breakers' per-caller circuits; default in-process. */
  caller?: string;
  /** The query (context.query) and documents a cross-encoder reads; absent: an empty query. */
  text?: TextInput;
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
  /** Documents a cross-encoder cut to its length or max_tokens_per_doc (0 for other models and retrieval order). */
  truncated: number;
}

/** Retrieval order (scores n, n−1, …) served for `reason`. */
export function retrievalOrder(n: number, reason: FallbackReason, failure: unknown = null): Scored {
  return { scores: retrievalOrderScores(n), handle: null, ref: null, fallbackReason: reason, servedBy: "retrieval_order", matrix: null, runMs: 0, failure, truncated: 0 };
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
      handle = peekModel(ref.versionId) ?? (await openWithinBudget(ref, timeoutMs));
    } catch (error) {
      reason ??= (error as { code?: string }).code === "ETIMEDOUT" ? "timeout" : "model_load_error";
      failure ??= error;
      continue;
    }
    let job: ScoringJob;
    let matrix: FeatureMatrix | null = null;
    if (handle.kind === "cross-encoder") {
      job = { kind: "text", query: input.text?.query ?? "", documents: documentTexts(handle, input), maxTokensPerDoc: input.text?.maxTokensPerDoc };
    } else {
      matrix = buildFeatureMatrix(handle.featureSpec, input.candidates, { item: (id) => input.items.get(id)?.features, user: input.user }, input.asOf);
      job = { kind: "features", data: matrix.data, rows: matrix.rows, cols: matrix.cols };
    }
    const runStarted = performance.now();
    try {
      const { scores, truncated } = await scoringBreaker(scope, handle, timeoutMs).fire(handle, job, input.caller);
      return { scores, handle, ref, fallbackReason: reason, servedBy: reason ? "cascade" : "model", matrix, runMs: performance.now() - runStarted, failure, truncated };
    } catch (error) {
      reason ??= failureReason(error);
      failure ??= error;
    }
  }
  return retrievalOrder(input.candidates.length, tried ? (reason ?? "model_error") : "no_model", failure);
}

/**
 * A model not open yet (its config's wait for it, MODEL_WARM_WAIT_MS, passed; or a version read
 * cold) holds a request at most the request's budget, then counts as a timeout and the next model
 * of the cascade is tried; it goes on opening in the background for the requests after it.
 * @throws the ModelLoadError of a version that cannot be opened; an Error with code ETIMEDOUT past `timeoutMs`.
 */
function openWithinBudget(ref: ModelRef, timeoutMs: number): Promise<ModelHandle> {
  return withDeadline(openModel(ref), timeoutMs, () => {
    throw Object.assign(new Error(`model ${ref.alias} (v${ref.version}) is still opening after the ${timeoutMs} ms budget; it goes on opening in the background`), { code: "ETIMEDOUT" });
  });
}

/**
 * Each candidate's text for a cross-encoder: the request's document (POST /v2/rerank; an object's
 * rank_fields, else the model's textFields), else the candidate's `text`, else the model's textFields
 * read from the catalog's item attributes.
 */
function documentTexts(handle: CrossEncoderHandle, input: ScoringInput): string[] {
  const rankFields = input.text?.rankFields;
  return input.candidates.map((c, i) => {
    const document = input.text?.documents?.[i];
    if (document !== undefined) return documentText(document, rankFields ?? defaultFields(document, handle.config.textFields));
    if (c.text !== undefined) return c.text;
    return documentText((input.items.get(c.id)?.attrs ?? {}) as Record<string, unknown>, handle.config.textFields);
  });
}

/**
 * The fields an object document is ranked on without rank_fields: the model's textFields, or
 * Cohere's default field `text` when the document has none of them (a Cohere client's `{ text }`
 * objects would otherwise be ranked as empty text).
 */
export function defaultFields(document: string | Record<string, unknown>, textFields: readonly string[]): readonly string[] {
  // Own fields only: a textField named like an Object.prototype member ("constructor") is not one the document has.
  if (typeof document === "string" || textFields.some((f) => Object.hasOwn(document, f) && document[f] !== undefined && document[f] !== null)) return textFields;
  return ["text"];
}

/** Orders the candidates by score (ties keep retrieval order), then applies the constraints and the top k. */
export function rankWithConstraints(scores: Float32Array, input: Pick<ScoringInput, "candidates" | "items">, constraints: ConstraintConfig, topK: number): ConstraintOutcome {
  const ranked: RankedCandidate[] = orderByScore(scores).map((i) => {
    const id = input.candidates[i]!.id;
    return { id, score: scores[i]!, attrs: input.items.get(id)?.attrs ?? {} };
  });
  return applyConstraints(ranked, constraints, topK);
}
