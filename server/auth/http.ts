import { env } from "../config";
import { getDb } from "../db/client";
import { refusalHeaders } from "../domain/access/authorizationHeader";
import { missingPermissionReason, type Permission } from "../domain/access/permissions";
import { authenticate, authorizationOf, type BearerOnly } from "./authenticate";
import { ONE_TIME_PASSWORD_MESSAGE, passwordChangeDue, principalCan, servingKeyShortfall, unauthorizedMessage, type Principal } from "./principal";

// The guard of the plain HTTP endpoints (/api/v1/*): the same principals and permissions as tRPC.

export type HttpAuthorization =
  | { ok: true; principal: Principal | null }
  /** `headers`: to send with the answer (a 401's WWW-Authenticate challenge, RFC 6750 §3; none for a 403). */
  | { ok: false; status: 401 | 403; code: "UNAUTHORIZED" | "FORBIDDEN"; message: string; headers: Record<string, string> };

/** Serving (rerank, events) may be opened to a trusted network with SERVING_AUTH=off. */
function servingOpen(permission: Permission): boolean {
  return env().SERVING_AUTH === "off" && (permission === "rerank.serve" || permission === "events.write");
}

/**
 * Checks the caller of an HTTP endpoint: `Authorization: Bearer <key>` or a session cookie.
 * @returns ok with the principal (null only where SERVING_AUTH=off opens serving), else the
 *   status, code, sentence and headers to answer with (401 without credentials, naming the expected
 *   form for a key sent with another scheme or none: unauthorizedMessage, with its WWW-Authenticate
 *   challenge: refusalHeaders; 403 without the permission).
 */
export async function authorizeHttp(headers: Headers | BearerOnly, permission: Permission): Promise<HttpAuthorization> {
  const principal = await authenticate(getDb(), headers);
  if (passwordChangeDue(principal)) return { ok: false, status: 403, code: "FORBIDDEN", message: ONE_TIME_PASSWORD_MESSAGE, headers: {} };
  if (principal && principalCan(principal, permission)) return { ok: true, principal };
  if (servingOpen(permission)) return { ok: true, principal };
  if (!principal) {
    const authorization = authorizationOf(headers);
    return { ok: false, status: 401, code: "UNAUTHORIZED", message: unauthorizedMessage(authorization), headers: refusalHeaders(401, authorization) };
  }
  return { ok: false, status: 403, code: "FORBIDDEN", message: servingKeyShortfall(principal, permission) ?? missingPermissionReason(permission), headers: {} };
}
