import { randomBytes } from "node:crypto";
import type { Db } from "../db/client";
import type { Role } from "../domain/access/permissions";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { forgetVerifiedKeys } from "./apiKeys";
import { getAuth } from "./auth";
import { toRoles } from "./principal";

// People: admins invite them (no self sign-up), change their roles and disable them. Passwords are
// hashed by better-auth; a disabled person's sessions are deleted at once and their keys are refused
// from the next request (server/auth/apiKeys.ts checks the creator on every lookup).

/** A readable one-time password: 20 characters of base64url (120 bits). */
export function generatePassword(): string {
  return randomBytes(15).toString("base64url");
}

export async function listUsers(db: Db) {
  const users = await db.user.findMany({
    orderBy: { createdAt: "asc" },
    select: { id: true, email: true, name: true, roles: true, disabled: true, createdAt: true, sessions: { select: { updatedAt: true }, orderBy: { updatedAt: "desc" }, take: 1 } },
  });
  return users.map(({ sessions, ...user }) => ({ ...user, lastSeenAt: sessions[0]?.updatedAt ?? null }));
}

/**
 * Creates a person who signs in with email and password.
 * @returns the user and the password to hand over (shown once; the person should change it).
 * @throws ConflictError when the email is taken.
 */
export async function createUser(db: Db, input: { email: string; name: string; roles: Role[]; password?: string }) {
  const email = input.email.trim().toLowerCase();
  if (await db.user.findUnique({ where: { email } })) throw new ConflictError(`email: ${email} already has an account`);
  const password = input.password ?? generatePassword();
  const context = await getAuth().$context;
  if (password.length < context.password.config.minPasswordLength) {
    throw new InvalidInputError("password", `must have at least ${context.password.config.minPasswordLength} characters`);
  }
  const user = await context.internalAdapter.createUser({ email, name: input.name, emailVerified: true }, { method: "admin" });
  await context.internalAdapter.linkAccount({ userId: user.id, providerId: "credential", accountId: user.id, password: await context.password.hash(password) });
  const saved = await db.user.update({ where: { id: user.id }, data: { roles: input.roles }, select: { id: true, email: true, name: true, roles: true, disabled: true } });
  return { user: saved, password };
}

async function requireUser(db: Db, id: string) {
  const user = await db.user.findUnique({ where: { id }, select: { id: true, email: true, name: true, roles: true, disabled: true } });
  if (!user) throw new NotFoundError("user", id);
  return user;
}

/** Admins that are not disabled, other than `exceptId`. */
async function otherActiveAdmins(db: Db, exceptId: string): Promise<number> {
  return db.user.count({ where: { id: { not: exceptId }, disabled: false, roles: { has: "admin" } } });
}

/**
 * Replaces a person's roles. Refused when it would leave no active admin.
 * @returns the user before and after, for the audit trail.
 */
export async function setUserRoles(db: Db, id: string, roles: Role[]) {
  const before = await requireUser(db, id);
  if (toRoles(before.roles).includes("admin") && !roles.includes("admin") && (await otherActiveAdmins(db, id)) === 0) {
    throw new ConflictError("roles: this is the last active admin; make someone else admin first");
  }
  const after = await db.user.update({ where: { id }, data: { roles }, select: { id: true, email: true, name: true, roles: true, disabled: true } });
  forgetVerifiedKeys(); // their keys' roles: here at once, other processes on the NOTIFY
  return { before, after };
}

/**
 * Disables or re-enables a person. Disabling deletes their sessions (signed out everywhere); their
 * API keys are refused from the next request. Refused for oneself and for the last active admin.
 */
export async function setUserDisabled(db: Db, id: string, disabled: boolean, actingUserId: string | null) {
  const before = await requireUser(db, id);
  if (disabled && id === actingUserId) throw new ConflictError("disabled: you cannot disable yourself");
  if (disabled && toRoles(before.roles).includes("admin") && (await otherActiveAdmins(db, id)) === 0) {
    throw new ConflictError("disabled: this is the last active admin");
  }
  const after = await db.$transaction(async (tx) => {
    const updated = await tx.user.update({ where: { id }, data: { disabled }, select: { id: true, email: true, name: true, roles: true, disabled: true } });
    if (disabled) await tx.session.deleteMany({ where: { userId: id } });
    return updated;
  });
  forgetVerifiedKeys(); // their keys: here at once, other processes on the NOTIFY
  return { before, after };
}

/** Sets a new one-time password (returned once) and signs the person out everywhere. */
export async function resetUserPassword(db: Db, id: string) {
  const user = await requireUser(db, id);
  const password = generatePassword();
  const context = await getAuth().$context;
  await context.internalAdapter.updatePassword(id, await context.password.hash(password));
  await db.session.deleteMany({ where: { userId: id } });
  return { user, password };
}
