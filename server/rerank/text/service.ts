import { allowedSurfaces, callerOf, type Principal } from "../../auth/principal";
import { InvalidInputError } from "../../errors";
import { peekModel } from "../../inference/sessions";
import { surfaceConfigs } from "../../surfaces/configCache";
import { rerank } from "../pipeline";
import { ITEM_ID_MAX_CHARS, type RerankRequest, type RerankResponse } from "../schema";
import { surfaceForModel } from "./models";
import type { TextRerankRequest } from "./schema";

// Text reranking answered in Cohere's rerank shape: POST /v2/rerank (and /v1/rerank, which differs
// only in meta.api_version). The request becomes an ordinary rerank of the surface that `model`
// names (models.ts): the documents are its candidates, the query its context.query, so it is
// planned, scored (a cross-encoder in the worker pool, or any other model of the surface),
// constrained, logged, shadowed and put in experiments like every rerank, with the surface's
// budget, breaker and fallback (request order, marked in meta.fallback).

export interface TextRerankResult {
  /** The document's position in the request. */
  index: number;
  /**
   * σ(score) ∈ (0, 1): monotone in the model's score, so the order is the model's order. When no
   * model scored (meta.fallback.served_by "retrieval_order") every result is 0.5 = σ(0): request
   * order says nothing of relevance, and a client's relevance threshold must not read it as certainty.
   */
  relevance_score: number;
  /** `{ text }` for a string document, the object as sent otherwise (return_documents only). */
  document?: Record<string, unknown>;
}

export interface TextRerankResponse {
  /** The rerank's request id: the request log's key, and the id events refer to. */
  id: string;
  results: TextRerankResult[];
  meta: {
    api_version: { version: string };
    billed_units: { search_units: number };
    /** Documents the surface's constraints removed, by index, with why (absent when none). */
    removed_documents?: Array<{ index: number; reason: string }>;
    /** Documents cut to the model's length or max_tokens_per_doc. */
    truncated_documents: number;
    /** The registry version that ranked, the surface and, when in one, the experiment's variant. */
    model: { surface: string; name: string | null; version: number | null; alias: string | null; variant: string | null };
    /** used: the documents are in request order (or the cascade model's), for `reason`. */
    fallback: { used: boolean; reason: string | null; served_by: string };
    /**
     * On a surface with a cascade: what its stage 2 did. Any status but "served" means stage 1's
     * order serves (marked here and in a warning); `reranked` counts the documents stage 2 rescored.
     */
    stage2?: { status: string; reason: string | null; model: { name: string; version: number; alias: string } | null; rerank_count: number; reranked: number; ms: number };
    warnings?: string[];
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Candidate ids: object documents' `id` fields when every document has a distinct one that can name an
 * item (1 to ITEM_ID_MAX_CHARS characters, as /api/v1/rerank and events take; so tree models find their
 * features), else the positions.
 */
function candidateIds(documents: TextRerankRequest["documents"]): string[] {
  const ids = documents.map((d) => (typeof d === "object" && typeof d.id === "string" && d.id.length > 0 && d.id.length <= ITEM_ID_MAX_CHARS ? d.id : null));
  if (ids.every((id): id is string => id !== null) && new Set(ids).size === ids.length) return ids;
  return documents.map((_, i) => String(i));
}

/**
 * Reranks `input.documents` against `input.query` with the surface `input.model` names, among the
 * surfaces `principal` may rank on (a serving key limited to some surfaces never learns of others).
 * @param resolved told the surface once `model` is resolved (from the database, never the caller's
 *   text): the front door attributes a 5xx of this request to it (server/http/server.ts).
 * Errors: InvalidInputError on `model` when it names nothing this principal may rank on (one message,
 * whatever it serves elsewhere). Model faults are never errors: the fallback serves.
 */
/**
 * Refuses (400 on documents[i]) an object document that has none of `rank_fields`: it would be
 * ranked on empty text, silently. A field that is present but null or empty still counts as sent.
 */
function checkRankFields(input: TextRerankRequest): void {
  const fields = input.rank_fields;
  if (!fields) return;
  input.documents.forEach((d, i) => {
    if (typeof d === "object" && !fields.some((f) => Object.hasOwn(d, f))) {
      throw new InvalidInputError(`documents[${i}]`, `has none of rank_fields ${fields.map((f) => JSON.stringify(f)).join(", ")} (its fields: ${Object.keys(d).slice(0, 8).map((f) => JSON.stringify(f)).join(", ") || "none"})`);
    }
  });
}

/**
 * Refuses (400 on documents[i]) an object document, sent without rank_fields, that has neither `text`
 * (Cohere's field) nor any field the surface's cross-encoders read (their textFields): it would be
 * ranked on empty text, silently (break test: {"body": "lamp lamp"} scored as an empty document).
 * Judged by the surface's cross-encoders open in this process (a served model is opened at start or
 * when it becomes served); none open (a tabular surface, a configuration not read yet): not judged.
 */
function checkDocumentFields(input: TextRerankRequest, surface: string): void {
  if (input.rank_fields) return;
  const config = surfaceConfigs().peek(surface);
  const refs = [config?.primary, config?.fallback, config?.rollout?.canary, config?.stage2?.ref];
  const read = new Set(["text"]);
  let known = false;
  for (const ref of refs) {
    const handle = ref ? peekModel(ref.versionId) : undefined;
    if (handle?.kind !== "cross-encoder") continue;
    known = true;
    for (const f of handle.config.textFields) read.add(f);
  }
  // No cross-encoder of the surface open here (a tabular surface ranks object documents by their ids): nothing to judge by.
  if (!known) return;
  input.documents.forEach((d, i) => {
    if (typeof d === "object" && ![...read].some((f) => Object.hasOwn(d, f) && d[f] !== undefined && d[f] !== null)) {
      throw new InvalidInputError(`documents[${i}]`, `has none of the fields the model reads (${[...read].map((f) => JSON.stringify(f)).join(", ")}; its fields: ${Object.keys(d).slice(0, 8).map((f) => JSON.stringify(f)).join(", ") || "none"}): send its text as "text", or name its fields in rank_fields`);
    }
  });
}

export async function textRerank(input: TextRerankRequest, apiVersion: 1 | 2, principal: Principal | null, resolved?: (surface: string) => void): Promise<TextRerankResponse> {
  // Authorized before anything is answered about the name: only the key's own surfaces are candidates.
  checkRankFields(input);
  const surface = await surfaceForModel(input.model, allowedSurfaces(principal));
  resolved?.(surface);
  checkDocumentFields(input, surface);
  const ids = candidateIds(input.documents);
  const n = input.documents.length;
  const request: RerankRequest = {
    surface,
    topK: Math.min(input.top_n ?? n, n),
    // Retrieval order is the request's order: the fallback keeps it.
    candidates: ids.map((id, i) => ({ id, retrievalScore: n - i })),
    context: { query: input.query },
    ...(input.user_key ? { userKey: input.user_key } : {}),
    ...(input.session_key ? { sessionKey: input.session_key } : {}),
  };
  const response = await rerank(request, { caller: callerOf(principal), text: { documents: input.documents, rankFields: input.rank_fields ?? undefined, maxTokensPerDoc: input.max_tokens_per_doc ?? undefined } });
  return cohereResponse(input, response, ids, apiVersion);
}

/**
 * Each served item's relevance_score, in the served order: σ(score) of the model that ranked it.
 * - No model ranked (request order served): 0.5, σ(0), so a client's threshold does not read request order as certainty.
 * - A cascade whose stage 2 served: σ of stage 2's own score for the items it rescored (what the
 *   text model says of them, whatever else was sent; their joined scores were shifted above stage 1's,
 *   so every one read > 0.73 and a document's score depended on how many others came with it: break
 *   test), and for the items it did not rescore a score below the lowest of those, falling with
 *   position (the cascade ranked them lower, and no text model judged them). Kept non-increasing
 *   down the list, as Cohere's results are.
 * - A surface whose model reads catalog features, given documents none of which is a catalog item:
 *   its scores say nothing of the documents: 0.5 each, with a warning.
 * @returns `scores` index-aligned with response.items, and a warning when one applies.
 */
export function relevanceScores(response: Pick<RerankResponse, "items" | "fallback" | "stage2" | "stage2Arms" | "text" | "features" | "modelVersion">, documents: number): { scores: number[]; warning: string | null } {
  const items = response.items;
  if (response.fallback.servedBy === "retrieval_order") return { scores: items.map(() => 0.5), warning: null };
  if (!response.text && response.features.unknownCandidates >= documents) {
    const model = response.modelVersion ? `${response.modelVersion.name} v${response.modelVersion.version}` : "the surface's model";
    return { scores: items.map(() => 0.5), warning: `${model} ranks catalog items by their features and none of these documents is one (send objects whose id is a catalog item, or use a text surface): every relevance_score is 0.5` };
  }
  const stage2 = response.stage2;
  if (!stage2 || stage2.status !== "served" || !stage2.scores || response.stage2Arms) return { scores: items.map((item) => sigmoid(item.score)), warning: null };
  const judged = new Map(stage2.reranked.map((id, k) => [id, sigmoid(stage2.scores![k]!)]));
  const lowest = Math.min(...judged.values());
  const tail = items.filter((item) => !judged.has(item.id)).length;
  let seen = 0;
  let previous = Infinity;
  const scores = items.map((item) => {
    const score = judged.get(item.id) ?? lowest * (tail - seen++) / (tail + 1);
    previous = Math.min(previous, score);
    return previous;
  });
  return { scores, warning: null };
}

function cohereResponse(input: TextRerankRequest, response: RerankResponse, ids: string[], apiVersion: 1 | 2): TextRerankResponse {
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const relevance = relevanceScores(response, input.documents.length);
  const results = response.items.map((item, position): TextRerankResult => {
    const index = indexOf.get(item.id)!;
    const result: TextRerankResult = { index, relevance_score: relevance.scores[position]! };
    if (input.return_documents) {
      const doc = input.documents[index]!;
      result.document = typeof doc === "string" ? { text: doc } : doc;
    }
    return result;
  });
  const truncated = response.text?.truncated ?? 0;
  const warnings: string[] = relevance.warning ? [relevance.warning] : [];
  if (truncated > 0) warnings.push(`${truncated} of ${input.documents.length} documents were truncated to fit the model's tokens per pair${input.max_tokens_per_doc ? ` or max_tokens_per_doc ${input.max_tokens_per_doc}` : ""}`);
  if (response.fallback.used) warnings.push(`the model did not rank this request (${response.fallback.reason}): served by ${response.fallback.servedBy === "cascade" ? "the surface's fallback model" : "request order"}`);
  // Documents the surface's constraints removed (a blocked flag): said, so a client can tell them from those top_n cut (break test: they vanished without a trace).
  const removed = response.removed.flatMap((r) => (indexOf.has(r.id) ? [{ index: indexOf.get(r.id)!, reason: r.reason }] : []));
  if (removed.length > 0) warnings.push(`${removed.length} of ${input.documents.length} documents were removed by the surface's constraints (${[...new Set(removed.map((r) => r.reason))].join(", ")}): they are not in results`);
  const { modelVersion, fallback, variant, stage2 } = response;
  if (stage2 && stage2.status !== "served") {
    warnings.push(`stage 2${stage2.model ? ` (${stage2.model.name} v${stage2.model.version})` : ""} did not rescore (${stage2.reason ?? stage2.status}): stage 1's order serves`);
  }
  return {
    id: response.requestId,
    results,
    meta: {
      api_version: { version: String(apiVersion) },
      // Cohere bills one search unit per query and up to 100 documents.
      billed_units: { search_units: Math.max(1, Math.ceil(input.documents.length / 100)) },
      truncated_documents: truncated,
      ...(removed.length ? { removed_documents: removed } : {}),
      model: { surface: response.surface, name: modelVersion?.name ?? null, version: modelVersion?.version ?? null, alias: modelVersion?.alias ?? null, variant: variant?.key ?? null },
      fallback: { used: fallback.used, reason: fallback.reason, served_by: fallback.servedBy },
      ...(stage2 ? { stage2: { status: stage2.status, reason: stage2.reason, model: stage2.model, rerank_count: stage2.rerankCount, reranked: stage2.reranked.length, ms: stage2.ms } } : {}),
      ...(warnings.length ? { warnings } : {}),
    },
  };
}
