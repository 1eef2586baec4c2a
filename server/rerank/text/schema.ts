import { z } from "zod";
import { int32, text } from "../../validation";

// POST /v2/rerank and /v1/rerank: Cohere's rerank request (snake_case, as its clients send it).
// v1 and v2 take the same fields here; they differ in the response's meta and document shape.
// Unknown fields are refused (a misspelt `topN` would otherwise be ignored and every document
// returned); optional fields may be null, as Cohere's clients send them when set to null.

export const TEXT_RERANK_LIMITS = { maxDocuments: 1000, maxQueryChars: 2000, maxDocumentChars: 100_000, maxRankFields: 16 };

const documentString = text(TEXT_RERANK_LIMITS.maxDocumentChars);
const fieldName = text(128, 1);

/**
 * `inner`'s issues, with the message of the branch the value's JSON type selects: a union would
 * answer "Invalid input" for a lone surrogate or NUL in a document instead of naming the problem.
 */
function addIssues(ctx: z.RefinementCtx, issues: readonly z.core.$ZodIssue[], path: PropertyKey[] = []) {
  for (const issue of issues) ctx.addIssue({ code: "custom", message: issue.message, path: [...path, ...issue.path] });
}

/** One field of an object document: a string, number, boolean or null (a nested value has no text to rank). */
const documentField = z.unknown().transform((value, ctx): string | number | boolean | null => {
  if (typeof value === "string") {
    const parsed = documentString.safeParse(value);
    if (parsed.success) return parsed.data;
    addIssues(ctx, parsed.error.issues);
    return z.NEVER;
  }
  if (value === null || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return value;
  ctx.addIssue({ code: "custom", message: "must be a string, number, boolean or null (nested objects and arrays are not ranked: send their text as a top-level field)" });
  return z.NEVER;
});

const documentObject = z.record(fieldName, documentField);

/** A document: a string, or an object of fields (ranked on rank_fields, else the model's textFields, else `text`). */
const document = z.unknown().transform((value, ctx): string | Record<string, string | number | boolean | null> => {
  if (typeof value === "string") {
    const parsed = documentString.safeParse(value);
    if (parsed.success) return parsed.data;
    addIssues(ctx, parsed.error.issues);
    return z.NEVER;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const parsed = documentObject.safeParse(value);
    if (!parsed.success) {
      addIssues(ctx, parsed.error.issues);
      return z.NEVER;
    }
    // zod builds the record by assignment, and assigning "__proto__" sets the prototype instead of a
    // field: the document's own "__proto__" field (JSON.parse keeps it as one) would be dropped from
    // what return_documents echoes. Rebuilt in the document's key order with every own field.
    if (!Object.hasOwn(value, "__proto__")) return parsed.data;
    const proto = documentField.parse((value as Record<string, unknown>)["__proto__"]);
    return Object.fromEntries(Object.keys(value).map((key) => [key, key === "__proto__" ? proto : parsed.data[key]!]));
  }
  ctx.addIssue({ code: "custom", message: "must be a string or an object of fields" });
  return z.NEVER;
});

export const textRerankRequestSchema = z.strictObject({
  /** A surface key, a registry model name, or "name:alias" (server/rerank/text/models.ts); the demo's is "product-qa". */
  model: text(256, 1),
  query: text(TEXT_RERANK_LIMITS.maxQueryChars, 1),
  documents: z.array(document).min(1, "at least one document").max(TEXT_RERANK_LIMITS.maxDocuments, `at most ${TEXT_RERANK_LIMITS.maxDocuments} documents`),
  /** At most this many results; more than the documents returns them all (as Cohere does). */
  top_n: int32(1).nullish(),
  /** Object documents are scored on these fields' text (in order); the bundle's textFields when absent. */
  rank_fields: z.array(fieldName).min(1).max(TEXT_RERANK_LIMITS.maxRankFields).nullish(),
  return_documents: z.boolean().nullish(),
  max_tokens_per_doc: int32(1, 1_000_000).nullish(),
  /** The console's own fields (not Cohere's): the user and session the request is for, the units experiments and canaries assign; without them a request is served by the surface's primary. */
  user_key: text(256, 1).nullish(),
  session_key: text(256, 1).nullish(),
  /** Cohere v1's chunking knob: accepted and ignored (documents are truncated, not chunked). */
  max_chunks_per_doc: int32(1, 1_000_000).nullish(),
  /** Cohere v2's request priority: accepted and ignored (every request is served in arrival order). */
  priority: int32(0, 1_000_000).nullish(),
});
export type TextRerankRequest = z.infer<typeof textRerankRequestSchema>;
