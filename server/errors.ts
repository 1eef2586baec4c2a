// Domain errors carry what the user can act on, and a `code` that says what kind of fault it is.
// Callers map the code (server/errorMapping.ts), never the class: Next.js bundles its own copy of
// these classes (serving state is built in the instrumentation bundle), so `instanceof` fails
// across bundles, while a property survives any number of copies.

export type DomainErrorCode = "BAD_REQUEST" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT";

export class DomainError extends Error {
  constructor(readonly code: DomainErrorCode, message: string) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, key: string) {
    super("NOT_FOUND", `${what} "${key}" does not exist`);
  }
}

export class InvalidInputError extends DomainError {
  constructor(readonly field: string, message: string) {
    super("BAD_REQUEST", `${field}: ${message}`);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super("CONFLICT", message);
  }
}

/**
 * Not now, but the same call will succeed shortly (503 with Retry-After): nothing was kept, and
 * retrying is safe (e.g. outcome events, idempotent on their ids, whose request's log row is not
 * yet written). The message says what to wait for, in plain words.
 */
export class RetryLaterError extends Error {
  readonly code = "RETRY_LATER";
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/**
 * The caller sent more than its limit allows (429 with Retry-After): nothing was done; the same call
 * succeeds once `retryAfterSeconds` have passed. A serving key's rate limit (server/auth/keyRateLimit.ts).
 */
export class RateLimitedError extends Error {
  readonly code = "RATE_LIMITED";
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** The caller is known but may not do this (a key limited to other surfaces, a change only another person may approve). */
export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super("FORBIDDEN", message);
  }
}
