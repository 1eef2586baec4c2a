import type { Context } from "../trpc";
import { permissionsOfPrincipal } from "./principal";
import { createApiKey, listApiKeys, revokeApiKey } from "./apiKeys";
import type { z } from "zod";
import type { createApiKeySchema, inviteUserSchema, resetPasswordSchema, revokeApiKeySchema, setDisabledSchema, setRolesSchema } from "./schema";
import { ForbiddenError } from "../errors";
import { createUser, listUsers, resetUserPassword, setUserDisabled, setUserRoles } from "./users";

// People and keys as the console's procedures see them: each change is audited with who and why.

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
  };
}

function actingUserId(ctx: Ctx): string {
  if (ctx.principal?.kind !== "user") throw new ForbiddenError("only a signed-in person can do this, not an API key");
  return ctx.principal.id;
}

async function audit(ctx: Ctx, action: string, entityType: string, entityId: string, before: unknown, after: unknown, reason?: string) {
  await ctx.db.auditLog.create({
    data: { actor: ctx.actor, action, entityType, entityId, before: before as object, after: after as object, reason: reason ?? null },
  });
}

export async function inviteUser(ctx: Ctx, input: z.infer<typeof inviteUserSchema>) {
  actingUserId(ctx);
  const { user, password } = await createUser(ctx.db, input);
  await audit(ctx, "user.invite", "user", user.id, null, { email: user.email, roles: user.roles });
  return { user, password };
}

export async function changeUserRoles(ctx: Ctx, input: z.infer<typeof setRolesSchema>) {
  const { before, after } = await setUserRoles(ctx.db, input.userId, input.roles);
  await audit(ctx, "user.roles", "user", after.id, { email: before.email, roles: before.roles }, { email: after.email, roles: after.roles }, input.reason);
  return after;
}

export async function changeUserDisabled(ctx: Ctx, input: z.infer<typeof setDisabledSchema>) {
  const { before, after } = await setUserDisabled(ctx.db, input.userId, input.disabled, ctx.principal?.kind === "user" ? ctx.principal.id : null);
  await audit(ctx, input.disabled ? "user.disable" : "user.enable", "user", after.id, { email: before.email, disabled: before.disabled }, { email: after.email, disabled: after.disabled }, input.reason);
  return after;
}

export async function resetPassword(ctx: Ctx, input: z.infer<typeof resetPasswordSchema>) {
  actingUserId(ctx);
  const { user, password } = await resetUserPassword(ctx.db, input.userId);
  await audit(ctx, "user.reset_password", "user", user.id, null, { email: user.email }, input.reason);
  return { user, password };
}

export { listUsers, listApiKeys };

export async function issueApiKey(ctx: Ctx, input: z.infer<typeof createApiKeySchema>) {
  const creator = actingUserId(ctx);
  const created = await createApiKey(ctx.db, input, creator);
  const { apiKey } = created;
  await audit(ctx, "api_key.create", "api_key", apiKey.id, null, { name: apiKey.name, kind: apiKey.kind, roles: apiKey.roles, surfaces: apiKey.surfaces, expiresAt: apiKey.expiresAt });
  return created;
}

export async function withdrawApiKey(ctx: Ctx, input: z.infer<typeof revokeApiKeySchema>) {
  const revoked = await revokeApiKey(ctx.db, input.id);
  await audit(ctx, "api_key.revoke", "api_key", revoked.id, null, { name: revoked.name, revokedAt: revoked.revokedAt }, input.reason);
  return revoked;
}
