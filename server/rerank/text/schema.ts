import { z } from "zod";
import { int32, items, MAX_REPORTED_ISSUES, text } from "../../validation";

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

type DocumentField = string | number | boolean | null;

/**
 * One field of an object document, or its issues: a string, number, boolean or null (a nested
 * value has no text to rank).
 */
function documentField(value: unknown): { ok: true; value: DocumentField } | { ok: false; issues: readonly z.core.$ZodIssue[] | string } {
  if (typeof value === "string") {
    const parsed = documentString.safeParse(value);
    return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: parsed.error.issues };
  }
  if (value === null || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return { ok: true, value };
  return { ok: false, issues: "must be a string, number, boolean or null (nested objects and arrays are not ranked: send their text as a top-level field)" };
}

/**
 * An object document's fields, checked one by one until MAX_REPORTED_ISSUES issues (as items()
 * does for the list). Built with every own key in the document's order, "__proto__" too: zod's
 * record would set the prototype for that key and drop it from what return_documents echoes
 * (JSON.parse keeps it as a field), and Object.fromEntries defines it as a field.
 */
function documentObject(value: object, ctx: z.RefinementCtx): Record<string, DocumentField> | typeof z.NEVER {
  const entries: Array<[string, DocumentField]> = [];
  let found = 0;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (found >= MAX_REPORTED_ISSUES) {
      const left = keys.length - i;
      ctx.addIssue({ code: "custom", message: `${left} more field${left > 1 ? "s" : ""} not checked (checking stops after ${MAX_REPORTED_ISSUES} issues)`, params: { notChecked: left } });
      return z.NEVER;
    }
    const name = fieldName.safeParse(key);
    if (!name.success) {
      ctx.addIssue({ code: "custom", message: `key ${JSON.stringify(key.length > 128 ? `${key.slice(0, 128)}…` : key)}: ${name.error.issues.map((issue) => issue.message).join("; ")}` });
      found++;
      continue;
    }
    const field = documentField((value as Record<string, unknown>)[key]);
    if (field.ok) entries.push([key, field.value]);
    else if (typeof field.issues === "string") {
      ctx.addIssue({ code: "custom", message: field.issues, path: [key] });
      found++;
    } else {
      addIssues(ctx, field.issues, [key]);
      found += field.issues.length;
    }
  }
  return found ? z.NEVER : Object.fromEntries(entries);
}

/** A document: a string, or an object of fields (ranked on rank_fields, else the model's textFields, else `text`). */
const document = z.unknown().transform((value, ctx): string | Record<string, DocumentField> => {
  if (typeof value === "string") {
    const parsed = documentString.safeParse(value);
    if (parsed.success) return parsed.data;
    addIssues(ctx, parsed.error.issues);
    return z.NEVER;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return documentObject(value, ctx);
  ctx.addIssue({ code: "custom", message: "must be a string or an object of fields" });
  return z.NEVER;
});

export const textRerankRequestSchema = z.strictObject({
  /** A surface key, a registry model name, or "name:alias" (server/rerank/text/models.ts); the demo's is "product-qa". */
  model: text(256, 1),
  query: text(TEXT_RERANK_LIMITS.maxQueryChars, 1),
  // items(): checking stops after the first 20 issues (915 documents of 120 wrong fields answered 49.7 MB in 4.4 s).
  documents: items(document, { min: 1, tooFew: "at least one document", max: TEXT_RERANK_LIMITS.maxDocuments, tooMany: `at most ${TEXT_RERANK_LIMITS.maxDocuments} documents` }),
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
