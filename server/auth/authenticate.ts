import type { Db } from "../db/client";
import { getAuth } from "./auth";
import { readAuthorization } from "../domain/access/authorizationHeader";
import { verifyApiKey } from "./apiKeys";
import { toRoles, type Principal } from "./principal";

// One way to find out who is calling, for tRPC, the HTTP endpoints and server-rendered pages:
// `Authorization: Bearer <key>` is an API key; otherwise the better-auth session cookie.

/**
 * What a request without a Cookie header offers as credentials: its Authorization header alone (the
 * serving endpoints' hot path reads it without copying the request's headers into a Headers).
 */
export interface BearerOnly {
  authorization: string | null;
}

/** The Authorization header's value, or null when none was sent. */
export const authorizationOf = (headers: Headers | BearerOnly): string | null => (headers instanceof Headers ? headers.get("authorization") : headers.authorization);

/**
 * `headers`: the request's headers, or BearerOnly for a request that sent no Cookie.
 * @returns the principal, or null for an anonymous caller, an unknown/revoked/expired key, an
 *   expired session or a disabled person. A malformed Authorization header is anonymous too.
 */
export async function authenticate(db: Db, headers: Headers | BearerOnly): Promise<Principal | null> {
  const authorization = authorizationOf(headers);
  if (authorization) {
    // Any other form (another scheme, a bare key) is no key: the 401 says which form is expected (unauthorizedMessage).
    const read = readAuthorization(authorization);
    return read.kind === "bearer" ? verifyApiKey(db, read.key) : null;
  }
  if (!(headers instanceof Headers) || !headers.get("cookie")) return null;
  const session = await getAuth().api.getSession({ headers });
  if (!session) return null;
  const user = session.user as typeof session.user & { roles?: string[] | null; disabled?: boolean | null; mustChangePassword?: boolean | null };
  if (user.disabled) return null;
  return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles: toRoles(user.roles), ...(user.mustChangePassword ? { mustChangePassword: true } : {}) };
}
