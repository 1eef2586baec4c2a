import { ForbiddenError } from "../errors";
import type { RateLimit } from "../domain/admission/rateLimit";
import { readAuthorization } from "../domain/access/authorizationHeader";
import { isRole, PERMISSIONS, permissionsOf, SERVING_PERMISSIONS, type Permission, type Role } from "../domain/access/permissions";

// Who is calling: a signed-in person or an API key. Every guard asks `principalCan`.

export type Principal =
  | {
      kind: "user";
      id: string;
      /** The person's email: what the audit trail names. */
      name: string;
      displayName: string;
      roles: Role[];
      /** Signed in with a one-time password (an invite's, a reset's): may do nothing until they set their own. */
      mustChangePassword?: boolean;
    }
  | {
      kind: "api_key";
      id: string;
      /** The key's name, as the audit trail names it. */
      name: string;
      keyKind: "serving" | "automation";
      /** Automation keys act with these roles; serving keys have none. */
      roles: Role[];
      /** Serving keys limited to these surfaces; empty: every surface. */
      surfaces: string[];
      /**
       * A serving key's permissions: the serving permissions (SERVING_PERMISSIONS) its creator holds
       * now, as an automation key's roles are capped by its creator's (absent: all of them).
       */
      serving?: Permission[];
      /** A serving key's own rate limit (server/auth/keyRateLimit.ts); absent: none. */
      rateLimit?: RateLimit;
    };

/** The permissions a principal holds: a person's or automation key's roles, or a serving key's fixed pair. */
export function permissionsOfPrincipal(principal: Principal): Permission[] {
  if (principal.kind === "api_key" && principal.keyKind === "serving") return [...(principal.serving ?? SERVING_PERMISSIONS)];
  return permissionsOf(principal.roles);
}

/** Why a person signed in with a one-time password may not act yet. */
/**
 * `who` (a principal, or an audit actor) when it is a signed-in person; a lever a leaked API key must
 * not pull (revoking keys, deciding changes, silencing webhooks) refuses anything else.
 * @throws ForbiddenError("only a signed-in person can <what>, not an API key").
 */
export function requirePerson<T extends { kind: string }>(who: T | null | undefined, what = "do this"): T & { kind: "user" } {
  if (who?.kind !== "user") throw new ForbiddenError(`only a signed-in person can ${what}, not an API key`);
  return who as T & { kind: "user" };
}

export const ONE_TIME_PASSWORD_MESSAGE = "password: you signed in with a one-time password an admin gave you; set your own first (/account/password)";

/** True when `principal` is a person who must replace their one-time password before acting. */
export function passwordChangeDue(principal: Principal | null): boolean {
  return principal?.kind === "user" && principal.mustChangePassword === true;
}

/** Why a serving key lacks a serving permission (its creator no longer holds it), or null when that is not why. */
export function servingKeyShortfall(principal: Principal | null, permission: Permission): string | null {
  if (principal?.kind !== "api_key" || principal.keyKind !== "serving" || !SERVING_PERMISSIONS.includes(permission)) return null;
  return `this key's creator no longer holds the permission to ${PERMISSIONS[permission].what} (a key never acts with more than its creator holds now): ask an admin for a new key`;
}

export function principalCan(principal: Principal | null, permission: Permission): boolean {
  return principal !== null && permissionsOfPrincipal(principal).includes(permission);
}

/** Null when the principal may act on `surface`; else why not (a serving key limited to other surfaces). */
export function surfaceDenial(principal: Principal | null, surface: string): string | null {
  if (!principal || principal.kind !== "api_key" || principal.surfaces.length === 0) return null;
  return principal.surfaces.includes(surface) ? null : `this key may serve ${principal.surfaces.join(", ")} only, not "${surface}"`;
}

export function toRoles(values: readonly string[] | null | undefined): Role[] {
  return (values ?? []).filter(isRole);
}

/** Throws ForbiddenError when `principal` is a serving key limited to surfaces other than `surface`. */
export function assertSurfaceAllowed(principal: Principal | null, surface: string): void {
  const denial = surfaceDenial(principal, surface);
  if (denial) throw new ForbiddenError(`surface: ${denial}`);
}

/** The surfaces a serving key is limited to (empty: every surface, and for people). */
export function allowedSurfaces(principal: Principal | null): string[] {
  return principal?.kind === "api_key" ? principal.surfaces : [];
}

/** How callerOf names an API key caller: the prefix, then the key's id. Read it only through the functions below. */
const API_KEY_CALLER_PREFIX = "api_key:";
/** How callerOf names a signed-in person: "user:", then the person's id. */
const PERSON_CALLER_PREFIX = "user:";

/** The caller name of work started inside the process (tests, benchmarks, simulations, shadow jobs): no principal sent it. */
export const IN_PROCESS_CALLER = "in-process";

/**
 * Whose request this is, for what must not be shared between callers (replayed responses, request
 * ids chosen by the client): "api_key:<id>", "user:<id>", or "anonymous" (SERVING_AUTH=off).
 */
export function callerOf(principal: Principal | null): string {
  if (principal?.kind === "api_key") return callerOfKey(principal.id);
  return principal ? `${principal.kind}:${principal.id}` : "anonymous";
}

/** The caller name of the API key with id `keyId` ("api_key:<id>"), as callerOf names it. */
export const callerOfKey = (keyId: string): string => `${API_KEY_CALLER_PREFIX}${keyId}`;

/** True when `caller` (a callerOf name, or null) is an API key's. */
export function isApiKeyCaller(caller: string | null | undefined): caller is string {
  return caller?.startsWith(API_KEY_CALLER_PREFIX) ?? false;
}

/** True when `caller` (a callerOf name, or null) is a signed-in person's ("user:<id>"). */
export function isPersonCaller(caller: string | null | undefined): caller is string {
  return caller?.startsWith(PERSON_CALLER_PREFIX) ?? false;
}

/** The API key id of an API key's caller name; null for any other caller (a person, anonymous, in-process, null). */
export function keyIdOfCaller(caller: string | null | undefined): string | null {
  return isApiKeyCaller(caller) ? caller.slice(API_KEY_CALLER_PREFIX.length) : null;
}

/** What an anonymous caller is told, on tRPC and on the HTTP endpoints alike. */
export const SIGN_IN_MESSAGE = "authorization: sign in, or send an API key as Authorization: Bearer <key>";
/** What a caller with an unknown, revoked or expired key is told. */
export const BAD_KEY_MESSAGE = "authorization: the API key is unknown, revoked or expired";

/**
 * What a caller no principal was found for is told (HTTP 401), from the Authorization header it sent
 * (null: none): SIGN_IN_MESSAGE without one; for a header that is not `Bearer <key>` (another scheme,
 * a bare key) the expected form and the scheme it got, never the value; else BAD_KEY_MESSAGE.
 */
export function unauthorizedMessage(authorization: string | null | undefined): string {
  if (!authorization) return SIGN_IN_MESSAGE;
  const read = readAuthorization(authorization);
  return read.kind === "malformed" ? read.message : BAD_KEY_MESSAGE;
}
