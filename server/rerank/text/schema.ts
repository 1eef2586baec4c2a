import { z } from "zod";
import { int32, text } from "../../validation";

// POST /v2/rerank and /v1/rerank: Cohere's rerank request (snake_case, as its clients send it).
// v1 and v2 take the same fields here; they differ in the response's meta and document shape.

export const TEXT_RERANK_LIMITS = { maxDocuments: 1000, maxQueryChars: 2000, maxDocumentChars: 100_000, maxRankFields: 16 };

const document = z.union([
  text(TEXT_RERANK_LIMITS.maxDocumentChars),
  z.record(text(128, 1), z.union([text(TEXT_RERANK_LIMITS.maxDocumentChars), z.number(), z.boolean(), z.null()])),
]);

export const textRerankRequestSchema = z.object({
  /** A surface key, a registry model name, or "name:alias" (server/rerank/text/models.ts); the demo's is "docs-search". */
  model: text(256, 1),
  query: text(TEXT_RERANK_LIMITS.maxQueryChars, 1),
  documents: z.array(document).min(1, "at least one document").max(TEXT_RERANK_LIMITS.maxDocuments, `at most ${TEXT_RERANK_LIMITS.maxDocuments} documents`),
  top_n: int32(1, TEXT_RERANK_LIMITS.maxDocuments).optional(),
  /** Object documents are scored on these fields' text (in order); the bundle's textFields when absent. */
  rank_fields: z.array(text(128, 1)).min(1).max(TEXT_RERANK_LIMITS.maxRankFields).optional(),
  return_documents: z.boolean().optional(),
  max_tokens_per_doc: int32(1, 1_000_000).optional(),
  /** The console's own fields (not Cohere's): the user and session the request is for, the units experiments and canaries assign; without them a request is served by the surface's primary. */
  user_key: text(256, 1).optional(),
  session_key: text(256, 1).optional(),
  /** Cohere v1's chunking knob: accepted and ignored (documents are truncated, not chunked). */
  max_chunks_per_doc: int32(1, 1_000_000).optional(),
});
export type TextRerankRequest = z.infer<typeof textRerankRequestSchema>;
