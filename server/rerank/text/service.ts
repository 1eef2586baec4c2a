import { randomUUID } from "node:crypto";
import { documentText } from "../../inference/crossEncoder/bundle";
import { crossEncoderPool, servedCrossEncoder } from "./models";
import type { TextRerankRequest } from "./schema";

// Text reranking with a cross-encoder, answered in Cohere's rerank shape: POST /v2/rerank (and
// /v1/rerank, which differs only in meta.api_version). The documents are scored in the worker pool
// (never on the event loop) and returned best first.

export interface TextRerankResult {
  /** The document's position in the request. */
  index: number;
  /** σ(logit) ∈ (0, 1): monotone in the model's logit, so the order is the model's order. */
  relevance_score: number;
  /** `{ text }` for a string document, the object as sent otherwise (return_documents only). */
  document?: Record<string, unknown>;
}

export interface TextRerankResponse {
  id: string;
  results: TextRerankResult[];
  meta: {
    api_version: { version: string };
    billed_units: { search_units: number };
    /** Documents cut to the model's length or max_tokens_per_doc. */
    truncated_documents: number;
    warnings?: string[];
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Reranks `input.documents` against `input.query` with the served cross-encoder `input.model`.
 * Errors: InvalidInputError on `model` (not served, or its bundle refused); ModelOutputError when
 * the model's output is unusable (a 5xx).
 */
export async function textRerank(input: TextRerankRequest, apiVersion: 1 | 2): Promise<TextRerankResponse> {
  const model = await servedCrossEncoder(input.model);
  const fields = input.rank_fields ?? model.config.textFields;
  const texts = input.documents.map((d) => documentText(d, fields));
  const scored = await crossEncoderPool().score(model.key, input.query, texts, input.max_tokens_per_doc);
  // Best first; equal scores keep the request's order (a stable sort).
  const order = scored.scores.map((_, i) => i).sort((a, b) => scored.scores[b]! - scored.scores[a]!);
  const results = order.slice(0, input.top_n ?? order.length).map((index): TextRerankResult => {
    const result: TextRerankResult = { index, relevance_score: sigmoid(scored.scores[index]!) };
    if (input.return_documents) {
      const doc = input.documents[index]!;
      result.document = typeof doc === "string" ? { text: doc } : doc;
    }
    return result;
  });
  const warnings = scored.truncated > 0 ? [`${scored.truncated} of ${texts.length} documents were truncated to fit the model's ${model.config.maxLength} tokens per pair${input.max_tokens_per_doc ? ` or max_tokens_per_doc ${input.max_tokens_per_doc}` : ""}`] : undefined;
  return {
    id: randomUUID(),
    results,
    meta: { api_version: { version: String(apiVersion) }, billed_units: { search_units: 1 }, truncated_documents: scored.truncated, ...(warnings ? { warnings } : {}) },
  };
}
