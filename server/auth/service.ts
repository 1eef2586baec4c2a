import { LEVER_TRANSACTION } from "../db/leverTransaction";
import { recordAudit } from "../audit/record";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import type { Context } from "../trpc";
import { permissionsOfPrincipal, requirePerson } from "./principal";
import { createApiKey, forgetVerifiedKeys, listApiKeys, revokeApiKey, setApiKeyRateLimit } from "./apiKeys";
import type { z } from "zod";
import type { createApiKeySchema, inviteUserSchema, resetPasswordSchema, revokeApiKeySchema, setApiKeyRateLimitSchema, setDisabledSchema, setRolesSchema } from "./schema";
import { insertUser, listUsers, lockAsActiveAdmin, newPassword, setUserDisabled, setUserPassword, setUserRoles } from "./users";

// People and keys as the console's procedures see them: each change is audited with who and why,
// in the change's own transaction (both commit, or neither).

type Ctx = Pick<Context, "db" | "principal" | "actor">;

/** Who is signed in and what they may do (the UI disables the rest and says why). */
export function whoAmI(ctx: Ctx) {
  const p = ctx.principal;
  if (!p) return null;
  return {
    kind: p.kind,
    id: p.id,
    name: p.name,
    displayName: p.kind === "user" ? p.displayName : p.name,
    roles: p.roles,
    permissions: permissionsOfPrincipal(p),
    mustChangePassword: p.kind === "user" && p.mustChangePassword === true,
  };
}

const actingUserId = (ctx: Ctx): string => requirePerson(ctx.principal).id;

/**
 * Runs `change` (the change and its audit entry) in one transaction; once it commits, this process
 * forgets its cached key verdicts (a person's roles or state, or a key, changed), the others on the
 * change's NOTIFY.
 */
async function inTransaction<T>(ctx: Ctx, change: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  const result = await ctx.db.$transaction(change, LEVER_TRANSACTION);
  forgetVerifiedKeys();
  return result;
}

export async function inviteUser(ctx: Ctx, input: z.infer<typeof inviteUserSchema>) {
  const actor = actingUserId(ctx);
  const { password, hash } = await newPassword();
  const user = await inTransaction(ctx, async (tx) => {
    await lockAsActiveAdmin(tx, actor, "users.manage");
    const created = await insertUser(tx, input, hash, { oneTime: true });
    await recordAudit(tx, { action: "user.invite", actor: ctx.actor, subject: subjects.user(created.id, created.email), after: { email: created.email, roles: created.roles } });
    return created;
  });
  return { user, password };
}

/**
 * Replaces a person's roles (users.manage), audited with its reason. `expectRoles` (the roles the
 * dialog showed): compared under the person's row lock; changed meanwhile, nothing is written or
 * audited (ConflictError, 409, naming both sets). A person only (ForbiddenError for an API key).
 * @returns the person as stored after. @throws NotFoundError; ConflictError also for the last active admin.
 */
export async function changeUserRoles(ctx: Ctx, input: z.infer<typeof setRolesSchema>) {
  const actor = actingUserId(ctx);
  return inTransaction(ctx, async (tx) => {
    const admins = await lockAsActiveAdmin(tx, actor, "users.manage");
    const { before, after } = await setUserRoles(tx, input.userId, input.roles, admins, input.expectRoles);
    await recordAudit(tx, { action: "user.roles", actor: ctx.actor, subject: subjects.user(after.id, after.email), before: { roles: before.roles }, after: { roles: after.roles }, reason: input.reason });
    return after;
  });
}

export async function changeUserDisabled(ctx: Ctx, input: z.infer<typeof setDisabledSchema>) {
  const actor = actingUserId(ctx);
  return inTransaction(ctx, async (tx) => {
    const admins = await lockAsActiveAdmin(tx, actor, "users.manage");
    const { before, after, changed, revokedKeys } = await setUserDisabled(tx, input.userId, input.disabled, actor, admins);
    if (!changed) return { ...after, revokedKeys: 0 };
    await recordAudit(tx, {
      action: input.disabled ? "user.disable" : "user.enable",
      actor: ctx.actor,
      subject: subjects.user(after.id, after.email),
      before: { disabled: before.disabled },
      after: { disabled: after.disabled, ...(input.disabled ? { revokedKeys: revokedKeys.length } : {}) },
      reason: input.reason,
    });
    for (const apiKey of revokedKeys) {
      await recordAudit(tx, {
        action: "api_key.revoke", actor: ctx.actor, subject: subjects.apiKey(apiKey.id, apiKey.name), surfaces: apiKey.surfaces,
        after: { revokedAt: apiKey.revokedAt!.toISOString() }, reason: `${after.email} was disabled${input.reason ? `: ${input.reason}` : ""}`,
      });
    }
    return { ...after, revokedKeys: revokedKeys.length };
  });
}

export async function resetPassword(ctx: Ctx, input: z.infer<typeof resetPasswordSchema>) {
  const actor = actingUserId(ctx);
  const { password, hash } = await newPassword();
  const user = await inTransaction(ctx, async (tx) => {
    await lockAsActiveAdmin(tx, actor, "users.manage");
    const changed = await setUserPassword(tx, input.userId, hash, { oneTime: true });
    await recordAudit(tx, { action: "user.reset_password", actor: ctx.actor, subject: subjects.user(changed.id, changed.email), reason: input.reason });
    return changed;
  });
  return { user, password };
}

export { listUsers, listApiKeys };

export async function issueApiKey(ctx: Ctx, input: z.infer<typeof createApiKeySchema>) {
  const creator = actingUserId(ctx);
  return inTransaction(ctx, async (tx) => {
    // A disable that starts after this waits for the key, and its scan of the person's keys then revokes it
    // (break test: keys created while their owner was being disabled survived, and served again on re-enable).
    await lockAsActiveAdmin(tx, creator, "keys.manage");
    const created = await createApiKey(tx, input, creator);
    const { apiKey } = created;
    await recordAudit(tx, {
      action: "api_key.create",
      actor: ctx.actor,
      subject: subjects.apiKey(apiKey.id, apiKey.name),
      surfaces: apiKey.surfaces,
      after: { kind: apiKey.kind, roles: apiKey.roles ?? [], surfaces: apiKey.surfaces ?? [], expiresAt: apiKey.expiresAt?.toISOString() ?? null, rateLimit: apiKey.rateLimit === null ? null : { rate: apiKey.rateLimit, burst: apiKey.rateBurst } },
    });
    return created;
  });
}

/**
 * Revokes a key; revoking one already revoked changes nothing and writes no audit entry (a retried or
 * double click). A signed-in person only (ForbiddenError for an API key), as for issuing one.
 */
export async function withdrawApiKey(ctx: Ctx, input: z.infer<typeof revokeApiKeySchema>) {
  // A person, as for issuing one: a leaked automation key must not be able to take every serving key down.
  const actor = actingUserId(ctx);
  return inTransaction(ctx, async (tx) => {
    await lockAsActiveAdmin(tx, actor, "keys.manage");
    const { apiKey, revoked } = await revokeApiKey(tx, input.id);
    if (revoked) await recordAudit(tx, { action: "api_key.revoke", actor: ctx.actor, subject: subjects.apiKey(apiKey.id, apiKey.name), after: { revokedAt: apiKey.revokedAt!.toISOString() }, reason: input.reason });
    return apiKey;
  });
}

/**
 * Sets or removes a serving key's rate limit, audited with its reason; a press that changes nothing
 * writes nothing. A signed-in person only (ForbiddenError for an API key), as for issuing one.
 * `expectRateLimit` (the limit the dialog showed, null: none): changed meanwhile, nothing is written or
 * audited (ConflictError, 409, naming both limits); absent: not pinned.
 * @throws InvalidInputError (`id`) for an automation or revoked key; NotFoundError for an unknown one.
 */
export async function limitApiKeyRate(ctx: Ctx, input: z.infer<typeof setApiKeyRateLimitSchema>) {
  const actor = actingUserId(ctx);
  return inTransaction(ctx, async (tx) => {
    await lockAsActiveAdmin(tx, actor, "keys.manage");
    const { apiKey, before, after, changed } = await setApiKeyRateLimit(tx, input.id, input.rateLimit, input.expectRateLimit);
    if (changed) await recordAudit(tx, { action: "api_key.rate_limit", actor: ctx.actor, subject: subjects.apiKey(apiKey.id, apiKey.name), surfaces: apiKey.surfaces, before: { rateLimit: before }, after: { rateLimit: after }, reason: input.reason });
    return apiKey;
  });
}
