import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPCError } from "@trpc/server";
import { mapError, retryAfterHeader, type MappedError } from "../errorMapping";
import { refusalHeaders } from "../domain/access/authorizationHeader";
import { logInternalError } from "../redact";
import type { ErrorBody } from "./jsonEndpoint";

// Error answers of the routes Next.js serves (app/api/**/route.ts and better-auth's /api/auth/*):
// the same body, status, Retry-After and logging as the front door's own endpoints, from the one
// mapping (server/errorMapping.ts). A route handler that threw would otherwise be Next's bare 500.

/** tRPC's error codes in the house's HTTP body (the REST endpoints say UNAVAILABLE and INTERNAL for faults of ours). */
const REST_CODE: Record<string, string> = { SERVICE_UNAVAILABLE: "UNAVAILABLE", INTERNAL_SERVER_ERROR: "INTERNAL" };

/** A TRPCError (by name: Next.js bundles its own copy of the class, so instanceof is unreliable). */
const isTrpcError = (error: unknown): error is TRPCError => error instanceof Error && error.name === "TRPCError";

/**
 * What a caller of a Next.js route is told about `error`: a TRPCError (a procedure called through
 * `createCaller`) keeps its status and message, with the REST code; anything else goes through
 * mapError, `what` naming the operation in a 5xx message ("downloading search-ranker v2 failed: the
 * database is unavailable, try again shortly"). Faults of ours (5xx) are logged, once per kind a minute.
 * `authorization`: the request's Authorization header (null: none or not known), for a 401's challenge.
 * @returns { status, headers (retry-after for a 503 that asks for a retry, www-authenticate for a 401), error: ErrorBody["error"] }
 */
export function describeRouteError(error: unknown, what: string, authorization: string | null = null): { status: number; headers: Record<string, string>; error: ErrorBody["error"] } {
  let mapped: Pick<MappedError, "httpStatus" | "message" | "retryAfterSeconds"> & { code: string };
  if (isTrpcError(error)) {
    const cause = mapError(error.cause ?? error, what);
    mapped = { httpStatus: getHTTPStatusCodeFromError(error), code: REST_CODE[error.code] ?? error.code, message: error.message, retryAfterSeconds: cause.retryAfterSeconds };
  } else mapped = mapError(error, what);
  if (mapped.httpStatus >= 500) logInternalError(`[http] ${what}`, error);
  const headers = { "cache-control": "no-store", ...retryAfterHeader(mapped), ...refusalHeaders(mapped.httpStatus, authorization) };
  return { status: mapped.httpStatus, headers, error: { code: mapped.code, message: mapped.message } };
}

/**
 * A route handler's error answer: `{ error: { code, message } }` (or `shape`'s body around it) as JSON,
 * with describeRouteError's status and headers (`authorization`: the request's Authorization header).
 */
export function errorResponse(error: unknown, what: string, shape: (error: ErrorBody["error"]) => object = (e) => ({ error: e }), authorization: string | null = null): Response {
  const { status, headers, error: body } = describeRouteError(error, what, authorization);
  return Response.json(shape(body), { status, headers });
}

/**
 * A route handler whose every fault is answered by errorResponse (`what`: "GET /api/metrics"), never
 * Next.js's empty 500: checking the caller needs the database too. A handler's first argument, when
 * it is the Request, gives a 401 (a procedure's UNAUTHORIZED) its challenge for the header sent.
 */
export function answeringErrors<A extends unknown[]>(what: string, handler: (...args: A) => Promise<Response>): (...args: A) => Promise<Response> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      return errorResponse(error, what, undefined, authorizationOfRequest(args[0]));
    }
  };
}

/** A route handler's Request's Authorization header; null without one (read by shape: Next passes its own NextRequest). */
function authorizationOfRequest(request: unknown): string | null {
  const headers = (request as { headers?: { get?: unknown } } | null)?.headers;
  return typeof headers?.get === "function" ? (headers as Headers).get("authorization") : null;
}

/** A refused caller (authorizeHttp's 401 or 403) as the house's error answer, with its headers (a 401's WWW-Authenticate). */
export const refusalResponse = (access: { status: number; code: string; message: string; headers?: Record<string, string> }): Response =>
  Response.json({ error: { code: access.code, message: access.message } } satisfies ErrorBody, { status: access.status, headers: { "cache-control": "no-store", ...access.headers } });
