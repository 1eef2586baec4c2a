// How an Authorization header is read, and what its sender is told when it cannot be: an API key is
// sent as `Authorization: Bearer <key>` (RFC 6750 §2.1). A key sent with another scheme (`Token <key>`,
// `Basic …`) or bare (no scheme) used to be answered "the API key is unknown, revoked or expired",
// which sent its owner looking for a revocation that never happened.

/** The one form an API key is accepted in. */
export const BEARER_FORM = "Authorization: Bearer <key>";

/**
 * A scheme the answer may name: an RFC 9110 §11.1 token of at most 32 characters. A longer one, or
 * one that starts like our keys, may be the key itself sent without a scheme: it is never echoed.
 */
const NAMEABLE_SCHEME = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,31}$/;
const KEY_PREFIX = "rrk_";

export type AuthorizationHeader =
  | { kind: "bearer"; key: string }
  /** Not `Bearer <key>`: `message` says the expected form and what was sent instead, never the value. */
  | { kind: "malformed"; message: string };

const expected = (got: string) => `authorization: send the API key as ${BEARER_FORM}; ${got}`;

/**
 * Reads an Authorization header's value (the scheme case-insensitively, RFC 9110 §11.1).
 * @returns the key of `Bearer <key>`, or `malformed` with the sentence to answer with (HTTP 401).
 */
export function readAuthorization(header: string): AuthorizationHeader {
  const value = header.trim();
  const [scheme = "", ...rest] = value.split(/\s+/);
  if (rest.length === 0) {
    if (scheme.toLowerCase() === "bearer") return { kind: "malformed", message: expected("the Bearer scheme carried no key") };
    return { kind: "malformed", message: expected(value === "" ? "the header was empty" : "the header carried a value without a scheme (no \"Bearer \" before it)") };
  }
  if (scheme.toLowerCase() === "bearer") {
    if (rest.length === 1 && rest[0]) return { kind: "bearer", key: rest[0] };
    return { kind: "malformed", message: expected("the Bearer scheme carried more than one value (a key has no spaces)") };
  }
  const nameable = NAMEABLE_SCHEME.test(scheme) && !scheme.toLowerCase().startsWith(KEY_PREFIX);
  return { kind: "malformed", message: expected(nameable ? `the header's scheme was "${scheme}"` : "the header's scheme was not Bearer") };
}
