// How an Authorization header is read, and what its sender is told when it cannot be: an API key is
// sent as `Authorization: Bearer <key>` (RFC 6750 §2.1). A key sent with another scheme (`Token <key>`,
// `Basic …`) or bare (no scheme) used to be answered "the API key is unknown, revoked or expired",
// which sent its owner looking for a revocation that never happened.

/** The one form an API key is accepted in. */
export const BEARER_FORM = "Authorization: Bearer <key>";

/** The protection space every 401's challenge names (RFC 9110 §11.5): one for the whole console. */
export const AUTH_REALM = "rerank-console";

/**
 * The schemes a refusal may name, in their registered spelling: the IANA HTTP Authentication Scheme
 * Registry (RFC 9110 §16.4.1) and a few common unregistered ones (NTLM, Token, ApiKey, AWS's). The
 * answer quotes this list, never the request: a header's first word is the sender's text (a break test
 * had arbitrary text reflected back), and may be a key sent without a scheme.
 */
export const KNOWN_SCHEMES: readonly string[] = [
  // IANA's registry
  "Basic", "Bearer", "Concealed", "Digest", "DPoP", "GNAP", "HOBA", "Mutual", "Negotiate", "OAuth", "PrivateToken",
  "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid",
  // common, not registered
  "NTLM", "Token", "ApiKey", "Api-Key", "Key", "JWT", "Hawk", "AWS4-HMAC-SHA256",
];

const KNOWN_BY_LOWER = new Map(KNOWN_SCHEMES.map((scheme) => [scheme.toLowerCase(), scheme]));

/** `scheme`'s registered spelling when it is one of KNOWN_SCHEMES (case-insensitively, RFC 9110 §11.1), else null. */
export function knownScheme(scheme: string): string | null {
  return KNOWN_BY_LOWER.get(scheme.toLowerCase()) ?? null;
}

export type AuthorizationHeader =
  | { kind: "bearer"; key: string }
  /**
   * Not `Bearer <key>`: `message` says the expected form and what was sent instead, never the value;
   * `bearer` whether the Bearer scheme was used (with no key, or more than one value).
   */
  | { kind: "malformed"; message: string; bearer: boolean };

const expected = (got: string) => `authorization: send the API key as ${BEARER_FORM}; ${got}`;

/**
 * Reads an Authorization header's value (the scheme case-insensitively, RFC 9110 §11.1).
 * @returns the key of `Bearer <key>`, or `malformed` with the sentence to answer with (HTTP 401): it
 *   names another scheme only when it is one of KNOWN_SCHEMES, in the list's spelling, else says
 *   "an unrecognised scheme"; the header's own text is never quoted.
 */
export function readAuthorization(header: string): AuthorizationHeader {
  // What every serving request sends, "Bearer <key>" with one space and no other blank, is read
  // without trimming and splitting (it runs on every request; the general reading below gives the same).
  if (header.length > 7 && header.charCodeAt(6) === 32 && header.slice(0, 6).toLowerCase() === "bearer") {
    const key = header.slice(7);
    if (!/[ \t]/.test(key)) return { kind: "bearer", key };
  }
  // Only space and horizontal tab separate (RFC 9110 §11.4: `1*SP`; §5.6.3 OWS around the value):
  // JavaScript's \s would also split at a no-break space or other Unicode spaces, which no client sends.
  const value = header.replace(/^[ \t]+|[ \t]+$/g, "");
  const [scheme = "", ...rest] = value.split(/[ \t]+/);
  const isBearer = scheme.toLowerCase() === "bearer";
  if (rest.length === 0) {
    if (isBearer) return { kind: "malformed", bearer: true, message: expected("the Bearer scheme carried no key") };
    return { kind: "malformed", bearer: false, message: expected(value === "" ? "the header was empty" : "the header carried a value without a scheme (no \"Bearer \" before it)") };
  }
  if (isBearer) {
    if (rest.length === 1 && rest[0]) return { kind: "bearer", key: rest[0] };
    return { kind: "malformed", bearer: true, message: expected("the Bearer scheme carried more than one value (a key has no spaces)") };
  }
  const known = knownScheme(scheme);
  return { kind: "malformed", bearer: false, message: expected(known ? `the header's scheme was "${known}"` : "the header used an unrecognised scheme") };
}

/**
 * The WWW-Authenticate value of a 401 (RFC 9110 §11.6.1: a 401 carries one; RFC 6750 §3), from the
 * Authorization header the refused request sent (null or undefined: none):
 * - none, another scheme or a bare value (no Bearer attempt): `Bearer realm="rerank-console"`, no error
 *   code (RFC 6750 §3.1: a request without authentication information gets none);
 * - `Bearer` without a key, or with more than one value: `…, error="invalid_request"`;
 * - `Bearer <key>` (the key unknown, revoked or expired): `…, error="invalid_token"`.
 * The value quotes nothing of the request.
 */
export function bearerChallenge(authorization: string | null | undefined): string {
  const challenge = `Bearer realm="${AUTH_REALM}"`;
  if (!authorization) return challenge;
  const read = readAuthorization(authorization);
  if (read.kind === "bearer") return `${challenge}, error="invalid_token"`;
  return read.bearer ? `${challenge}, error="invalid_request"` : challenge;
}

/**
 * The headers of a refusal with HTTP `status`: a 401's WWW-Authenticate challenge (bearerChallenge of
 * `authorization`, the header the request sent), nothing for any other status.
 */
export function refusalHeaders(status: number, authorization: string | null | undefined): Record<string, string> {
  return status === 401 ? { "www-authenticate": bearerChallenge(authorization) } : {};
}
