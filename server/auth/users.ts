import { randomBytes, randomUUID } from "node:crypto";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { missingPermissionReason, ROLE_LABELS, type Permission, type Role } from "../domain/access/permissions";
import { changedSince } from "../domain/changedSince";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from "../errors";
import { revokeApiKey } from "./apiKeys";
import { getAuth } from "./auth";
import { toRoles } from "./principal";

// People: admins invite them (no self sign-up), change their roles and disable them. Passwords are
// hashed by better-auth; a disabled person's sessions are deleted at once and their keys are refused
// from the next request (server/auth/apiKeys.ts checks the creator on every lookup).
//
// The changes take a transaction client: the caller (server/auth/service.ts) writes the change's
// audit entry in the same transaction, and forgets cached key verdicts once it commits. Password
// hashing (scrypt, tens of ms) happens before the transaction (newPassword).

type Tx = Prisma.TransactionClient;

/** A readable one-time password: 20 characters of base64url (120 bits). */
export function generatePassword(): string {
  return randomBytes(15).toString("base64url");
}

/**
 * A password (`password`, else a generated one) and its better-auth hash, to hand to createUser or setUserPassword.
 * @throws InvalidInputError("password") when it is shorter than better-auth's minimum (10 characters).
 */
export async function newPassword(password = generatePassword()): Promise<{ password: string; hash: string }> {
  const context = await getAuth().$context;
  const min = context.password.config.minPasswordLength;
  if (password.length < min) throw new InvalidInputError("password", `must have at least ${min} characters`);
  return { password, hash: await context.password.hash(password) };
}

export async function listUsers(db: Db) {
  const users = await db.user.findMany({
    orderBy: { createdAt: "asc" },
    select: {
      id: true, email: true, name: true, roles: true, disabled: true, createdAt: true, sessions: { select: { updatedAt: true }, orderBy: { updatedAt: "desc" }, take: 1 },
      apiKeys: { where: liveKeys(), select: { kind: true } },
    },
  });
  // activeKeys: the keys a disable revokes (serving ones among them: serving with them stops).
  return users.map(({ sessions, apiKeys, ...user }) => ({
    ...user, lastSeenAt: sessions[0]?.updatedAt ?? null, activeKeys: { total: apiKeys.length, serving: apiKeys.filter((k) => k.kind === "serving").length },
  }));
}

/** Keys that still work: not revoked, not expired. */
const liveKeys = () => ({ revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

const USER_FIELDS = { id: true, email: true, name: true, roles: true, disabled: true } as const;

/**
 * Creates a person who signs in with email and password (`passwordHash` from newPassword), as
 * better-auth's own sign-up would: the user row and its credential account. `oneTime`: a password
 * an admin hands over, which its holder must replace before doing anything else.
 * @throws ConflictError when the email is taken.
 */
export async function insertUser(tx: Tx, input: { email: string; name: string; roles: Role[] }, passwordHash: string, options: { oneTime?: boolean } = {}) {
  const email = input.email.trim().toLowerCase();
  if (await tx.user.findUnique({ where: { email } })) throw new ConflictError(`email: ${email} already has an account`);
  const user = await tx.user.create({ data: { email, name: input.name, emailVerified: true, roles: input.roles, mustChangePassword: options.oneTime ?? false }, select: USER_FIELDS });
  await tx.account.create({ data: { id: randomUUID(), userId: user.id, providerId: "credential", accountId: user.id, password: passwordHash } });
  return user;
}

/**
 * Creates a person, unaudited (tests; the console invites through server/auth/service.ts).
 * @returns the user and the password (`input.password`, else a generated one).
 */
export async function createUser(db: Db, input: { email: string; name: string; roles: Role[]; password?: string }) {
  const { password, hash } = await newPassword(input.password);
  const user = await db.$transaction((tx) => insertUser(tx, input, hash));
  return { user, password };
}

async function requireUser(tx: Tx, id: string) {
  const user = await tx.user.findUnique({ where: { id }, select: USER_FIELDS });
  if (!user) throw new NotFoundError("user", id);
  return user;
}

/**
 * Locks the rows of the active admins (SELECT … FOR UPDATE, in id order) until the transaction ends,
 * and returns their ids. Every change that could remove an admin takes this lock first, so two of
 * them (two admins demoting each other at once) run one after the other, and the second sees the
 * first's result: a row that stopped matching while it waited is left out (PostgreSQL re-checks it).
 */
async function lockActiveAdmins(tx: Tx): Promise<string[]> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM users WHERE disabled = false AND 'admin' = ANY(roles) ORDER BY id FOR UPDATE`;
  return rows.map((r) => r.id);
}

/**
 * Locks the active admins' rows (as lockActiveAdmins) and checks, under that lock, that `actorId` is
 * still one of them. Every lever over people and keys (invite, roles, disable, password reset, key
 * issue and revoke; all admin-only) calls it first in its transaction: its caller was checked when the
 * request arrived, and a disable or demotion that commits while the request is in flight must not let
 * it finish (an invite, a one-time password or a key would outlive the disable). A disable that started
 * first is waited for and seen; one that starts after waits for this change.
 * @returns the active admins' ids.
 * @throws ForbiddenError("you have been disabled: nothing was changed"), or the missing permission's reason.
 */
export async function lockAsActiveAdmin(tx: Tx, actorId: string, permission: Permission): Promise<string[]> {
  const admins = await lockActiveAdmins(tx);
  if (admins.includes(actorId)) return admins;
  const me = await tx.user.findUnique({ where: { id: actorId }, select: { disabled: true } });
  if (!me || me.disabled) throw new ForbiddenError("you have been disabled: nothing was changed");
  throw new ForbiddenError(missingPermissionReason(permission));
}

/** True when `user` is an active admin and `activeAdmins` (from lockActiveAdmins) names no one else. */
function isLastActiveAdmin(user: { id: string; roles: string[]; disabled: boolean }, activeAdmins: string[]): boolean {
  return !user.disabled && toRoles(user.roles).includes("admin") && activeAdmins.every((id) => id === user.id);
}

/** The same roles, whatever their order or repeats. */
const sameRoles = (a: readonly string[], b: readonly string[]) => new Set(a).size === new Set(b).size && a.every((r) => b.includes(r));
const roleWords = (roles: readonly string[]) => (roles.length ? [...new Set(roles)].map((r) => ROLE_LABELS[r as Role] ?? r).join(", ") : "no role");

/**
 * Replaces a person's roles, in `tx`, their row locked until it ends. Refused when it would leave no
 * active admin. `locked`: the active admins' ids its caller already locked (lockAsActiveAdmin); else
 * they are locked here. `expectRoles`: the roles the caller's dialog showed them holding; compared as a
 * set under the lock, so a dialog opened before someone else's change of them does not overwrite it
 * (undefined: not pinned).
 * @returns the user before and after, for the audit trail.
 * @throws NotFoundError; ConflictError when their roles are no longer `expectRoles` (both sets named),
 *   and ConflictError("roles: …") for the last active admin. Nothing is written when it throws.
 */
export async function setUserRoles(tx: Tx, id: string, roles: Role[], locked?: string[], expectRoles?: readonly Role[]) {
  const admins = locked ?? (await lockActiveAdmins(tx));
  // The lock the update below takes anyway, taken before the read: two changes of one person's roles take turns (FK checks of sign-ins are not held back).
  await tx.$queryRaw`SELECT id FROM users WHERE id = ${id} FOR NO KEY UPDATE`;
  const before = await requireUser(tx, id);
  if (expectRoles !== undefined && !sameRoles(expectRoles, before.roles)) {
    throw new ConflictError(changedSince({ what: `the roles of ${before.email}`, change: { shown: roleWords(expectRoles), now: roleWords(before.roles) }, since: "shown", plural: true }));
  }
  if (!roles.includes("admin") && isLastActiveAdmin(before, admins)) {
    throw new ConflictError("roles: this is the last active admin; make someone else admin first");
  }
  const after = await tx.user.update({ where: { id }, data: { roles }, select: USER_FIELDS });
  return { before, after };
}

/**
 * Disables or re-enables a person, in `tx`. Disabling deletes their sessions (signed out everywhere)
 * and revokes the live API keys they issued (returned as `revokedKeys`; re-enabling restores none).
 * `changed` is false when they were so already (nothing written). `locked` as for setUserRoles.
 * @throws NotFoundError, ConflictError("disabled: …") for oneself and for the last active admin.
 */
export async function setUserDisabled(tx: Tx, id: string, disabled: boolean, actingUserId: string | null, locked?: string[]) {
  if (disabled && id === actingUserId) throw new ConflictError("disabled: you cannot disable yourself");
  const admins = locked ?? (await lockActiveAdmins(tx));
  const before = await requireUser(tx, id);
  if (disabled && isLastActiveAdmin(before, admins)) throw new ConflictError("disabled: this is the last active admin");
  // Already so: nothing changes, nothing to audit (a retried or double click).
  if (before.disabled === disabled) return { before, after: before, changed: false, revokedKeys: [] };
  const after = await tx.user.update({ where: { id }, data: { disabled }, select: USER_FIELDS });
  if (!disabled) return { before, after, changed: true, revokedKeys: [] };
  await tx.session.deleteMany({ where: { userId: id } });
  // Their API keys are revoked, not only refused while they are disabled: enabling them again (a
  // mistake undone, a person back from leave) must not bring back a key that may have leaked meanwhile.
  // Keys issued meanwhile wait for this row (issueApiKey holds it FOR SHARE) and are seen here.
  const keys = await tx.apiKey.findMany({ where: { createdById: id, ...liveKeys() }, select: { id: true }, orderBy: { createdAt: "asc" } });
  const revokedKeys = [];
  for (const key of keys) {
    const { apiKey, revoked } = await revokeApiKey(tx, key.id);
    if (revoked) revokedKeys.push(apiKey);
  }
  return { before, after, changed: true, revokedKeys };
}

/**
 * Sets a person's password to `passwordHash` (from newPassword), in `tx`, and signs them out
 * everywhere; `oneTime` (an admin's reset): they must replace it at their next sign-in.
 */
export async function setUserPassword(tx: Tx, id: string, passwordHash: string, options: { oneTime?: boolean } = {}) {
  const user = await requireUser(tx, id);
  await tx.account.updateMany({ where: { userId: id, providerId: "credential" }, data: { password: passwordHash } });
  if (options.oneTime) await tx.user.update({ where: { id }, data: { mustChangePassword: true } });
  await tx.session.deleteMany({ where: { userId: id } });
  return user;
}
