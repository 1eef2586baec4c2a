import type { DomainErrorCode } from "./errors";

// The one mapping from an error to what a caller sees, for the HTTP endpoints and the tRPC
// procedures alike. It reads the error's `code` property, never its class: Next.js bundles its own
// copies of server/errors.ts, so `instanceof` fails for an error thrown by a copy built elsewhere.

export type TrpcErrorCode = "BAD_REQUEST" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT" | "TOO_MANY_REQUESTS" | "INTERNAL_SERVER_ERROR" | "SERVICE_UNAVAILABLE";

interface Mapping {
  httpStatus: number;
  trpcCode: TrpcErrorCode;
}

const DOMAIN: Record<DomainErrorCode, Mapping> = {
  BAD_REQUEST: { httpStatus: 400, trpcCode: "BAD_REQUEST" },
  FORBIDDEN: { httpStatus: 403, trpcCode: "FORBIDDEN" },
  NOT_FOUND: { httpStatus: 404, trpcCode: "NOT_FOUND" },
  CONFLICT: { httpStatus: 409, trpcCode: "CONFLICT" },
};

export interface MappedError extends Mapping {
  /** The code in an HTTP error body: the domain code, or UNAVAILABLE / INTERNAL for a fault of ours. */
  code: DomainErrorCode | "TOO_MANY_REQUESTS" | "UNAVAILABLE" | "INTERNAL";
  /** What the caller reads: the domain message, or for a 5xx what failed in plain words (no internals). */
  message: string;
  /** The field a BAD_REQUEST names (InvalidInputError), when it names one. */
  field?: string;
  /** True for faults of ours (5xx): log the original error, it is not in the message. */
  internal: boolean;
  /** Seconds the caller should wait before retrying (a Retry-After header), for a 503 that asks for a retry and a 429. */
  retryAfterSeconds?: number;
}

const isDomainCode = (code: unknown): code is DomainErrorCode => typeof code === "string" && Object.hasOwn(DOMAIN, code);

/** Connection-level failures of PostgreSQL (node-postgres and Prisma): the service is unavailable, not broken. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "EPIPE",
  "P1001", "P1002", "P1008", "P1017", "P2024", "P2028", // Prisma: can't reach, timed out, connection closed, pool timeout, transaction timed out (a lock held elsewhere)
  "57P01", "57P02", "57P03", "53300", // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections
  "TELEMETRY_NOT_DURABLE", // the database is down and the spill file is full: events cannot be acknowledged (server/telemetry/batchWriter.ts)
]);

function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

/**
 * The field a unique violation names, from PostgreSQL's index name as Prisma's driver adapter reports it
 * (`meta.driverAdapterError.cause`: { table: "users", constraint: { index: "users_email_key" } } → "email";
 * a compound key's columns in camelCase, joined by "+"). Undefined when the error does not say.
 */
function uniqueField(error: Error): string | undefined {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: { table?: unknown; constraint?: { index?: unknown; fields?: unknown } } } } }).meta?.driverAdapterError?.cause;
  const fields = cause?.constraint?.fields;
  const camel = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  if (Array.isArray(fields) && fields.every((f) => typeof f === "string")) return (fields as string[]).map(camel).join("+");
  const index = cause?.constraint?.index;
  if (typeof index !== "string" || typeof cause?.table !== "string" || !index.startsWith(`${cause.table}_`) || !index.endsWith("_key")) return undefined;
  return camel(index.slice(cause.table.length + 1, -"_key".length));
}

function looksUnavailable(error: unknown): boolean {
  if (errorCodes(error).some((c) => UNAVAILABLE_CODES.has(c))) return true;
  const message = error instanceof Error ? error.message : "";
  return /can't reach database|connection terminated|timeout exceeded when trying to connect|connection refused/i.test(message);
}

/** The Retry-After header a mapped error asks for (a RetryLaterError's 503, a RateLimitedError's 429), or none: every HTTP answer of an error sends it so. */
export const retryAfterHeader = (mapped: Pick<MappedError, "retryAfterSeconds">): Record<string, string> | undefined =>
  mapped.retryAfterSeconds ? { "retry-after": String(mapped.retryAfterSeconds) } : undefined;

/**
 * error → status, tRPC code and message. `what` names the operation for a 5xx body
 * ("rerank.rank", "POST /api/v1/rerank"): "POST /api/v1/rerank failed: the database is unavailable, try again shortly".
 * Domain errors (a `code` of BAD_REQUEST / FORBIDDEN / NOT_FOUND / CONFLICT) keep their message; anything else is ours.
 */
export function mapError(error: unknown, what: string): MappedError {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && isDomainCode(code)) {
    const field = (error as { field?: unknown }).field;
    return { ...DOMAIN[code], code, message: error.message, ...(typeof field === "string" ? { field } : {}), internal: false };
  }
  // A RetryLaterError (server/errors.ts): its own plain message, and when to retry.
  if (error instanceof Error && code === "RETRY_LATER") {
    const after = Number((error as { retryAfterSeconds?: unknown }).retryAfterSeconds);
    return { httpStatus: 503, trpcCode: "SERVICE_UNAVAILABLE", code: "UNAVAILABLE", message: error.message, internal: false, retryAfterSeconds: Number.isFinite(after) && after > 0 ? Math.ceil(after) : 1 };
  }
  // A RateLimitedError: the caller's own limit, 429 (not the availability SLI's), and when to retry.
  if (error instanceof Error && code === "RATE_LIMITED") {
    const after = Number((error as { retryAfterSeconds?: unknown }).retryAfterSeconds);
    return { httpStatus: 429, trpcCode: "TOO_MANY_REQUESTS", code: "TOO_MANY_REQUESTS", message: error.message, internal: false, retryAfterSeconds: Number.isFinite(after) && after > 0 ? Math.ceil(after) : 1 };
  }
  // Two requests creating the same thing at once: the loser's insert meets the unique index the
  // winner just filled (its check before inserting saw nothing yet). A conflict, as a check would say.
  if (error instanceof Error && errorCodes(error).some((c) => c === "P2002" || c === "23505")) {
    const field = uniqueField(error);
    return { ...DOMAIN.CONFLICT, code: "CONFLICT", message: `${field ?? "input"}: already taken (another request created the same one a moment ago)`, ...(field ? { field } : {}), internal: false };
  }
  if (looksUnavailable(error)) {
    return { httpStatus: 503, trpcCode: "SERVICE_UNAVAILABLE", code: "UNAVAILABLE", message: `${what} failed: the database is unavailable, try again shortly`, internal: true };
  }
  return { httpStatus: 500, trpcCode: "INTERNAL_SERVER_ERROR", code: "INTERNAL", message: `${what} failed: an internal error (logged on the server)`, internal: true };
}

/**
 * The `fields` list of an error answer for a mapped error that names its field (InvalidInputError, a
 * unique violation): one entry whose message says what is wrong without the path again (as zod's
 * fields do), or null when it names none. One list for /api/v1/* (serveJson) and tRPC (its error formatter).
 */
export function fieldsOf(mapped: MappedError): Array<{ path: string; message: string }> | null {
  if (!mapped.field) return null;
  const prefix = `${mapped.field}: `;
  return [{ path: mapped.field, message: mapped.message.startsWith(prefix) ? mapped.message.slice(prefix.length) : mapped.message }];
}
