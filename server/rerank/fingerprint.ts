import { createHash } from "node:crypto";
import { ConflictError } from "../errors";
import type { RerankRequest } from "./schema";
import type { TextInput } from "./scoring";

// What a repeated requestId must match to be a replay (as Stripe's idempotency keys and the IETF
// Idempotency-Key draft do): the request's fingerprint, a hash of everything that decides its
// response. The same id with another request is refused (409) rather than answered with a
// response to a request the caller did not send (break test: candidates sku-00501/sku-00502 with
// topK 1 answered with sku-00012 and sku-00011, the first request's).

/**
 * A value with every object's keys in sorted order (a record's keys — inline features, context
 * attributes, a document's fields — are in the caller's order, which says nothing); arrays keep
 * theirs. Built on null-prototype objects, so a field named "__proto__" stays a field.
 */
function sortedKeys(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(sortedKeys);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  // The common case, cheaply: keys already in order and no nested object (inline features as sent).
  let plain = true;
  for (let i = 0; i < keys.length && plain; i++) plain = (i === 0 || keys[i - 1]! < keys[i]!) && (record[keys[i]!] === null || typeof record[keys[i]!] !== "object");
  if (plain) return record;
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of keys.sort()) out[k] = sortedKeys(record[k]);
  return out;
}

/** The canonical JSON text of a value: JSON.stringify of it with every object's keys sorted (undefined members left out). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

type Candidate = RerankRequest["candidates"][number];

/**
 * A candidate as a tuple in a fixed order: the bulk of a request, so its fixed keys are not sorted
 * one by one (only its inline features, a record). `Unlisted` breaks the build when the candidate
 * gains a field this does not list, so no field that decides a response is left out.
 */
type Unlisted = Exclude<keyof Candidate, "id" | "retrievalScore" | "features" | "text">;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;
const candidateTuple = (c: Candidate) => [c.id, c.retrievalScore ?? null, c.features === undefined ? null : sortedKeys(c.features), c.text ?? null];

/**
 * The fingerprint of a rerank request: SHA-256 (base64url, 43 characters) of the canonical JSON of
 * everything that decides its response — surface, topK, candidates (ids, retrieval scores, inline
 * features, text, in order), context, userKey, sessionKey, and for POST /v2/rerank the documents,
 * rank_fields and max_tokens_per_doc — but not the requestId itself (the key it is kept under) nor
 * who sent it (the key's owner). Equal requests, whatever the order of their objects' keys, have
 * equal fingerprints. Computed only for a request that names its requestId (cost: README, Serving).
 */
export function requestFingerprint(request: RerankRequest, text?: Omit<TextInput, "query">): string {
  // The rest of the request (surface, topK, context, keys) whole, so a field added to it counts too.
  const rest: Partial<RerankRequest> = { ...request };
  delete rest.requestId;
  delete rest.candidates;
  const canonical = JSON.stringify([sortedKeys(rest), request.candidates.map(candidateTuple), text === undefined ? null : sortedKeys(text)]);
  return createHash("sha256").update(canonical).digest("base64url");
}

/**
 * A requestId already used, by the same owner, for a request with another fingerprint (409, naming
 * `requestId`): nothing was served or logged for this one.
 */
export class RequestIdReusedError extends ConflictError {
  readonly field = "requestId";
  constructor(requestId: string) {
    super(`requestId: "${requestId}" is already used for a different request (another surface, candidates, topK, context, userKey or sessionKey); a retry must repeat the request exactly, a new request needs a new requestId`);
  }
}
