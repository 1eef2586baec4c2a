import { recordAudit } from "../audit/record";
import { subjects } from "../domain/audit/subject";
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


export async function inviteUser(ctx: Ctx, input: z.infer<typeof inviteUserSchema>) {
  actingUserId(ctx);
  const { user, password } = await createUser(ctx.db, input);
  await recordAudit(ctx.db, { action: "user.invite", actor: ctx.actor, subject: subjects.user(user.id, user.email), after: { email: user.email, roles: user.roles } });
  return { user, password };
}

export async function changeUserRoles(ctx: Ctx, input: z.infer<typeof setRolesSchema>) {
  actingUserId(ctx);
  const { before, after } = await setUserRoles(ctx.db, input.userId, input.roles);
  await recordAudit(ctx.db, { action: "user.roles", actor: ctx.actor, subject: subjects.user(after.id, after.email), before: { roles: before.roles }, after: { roles: after.roles }, reason: input.reason });
  return after;
}

export async function changeUserDisabled(ctx: Ctx, input: z.infer<typeof setDisabledSchema>) {
  const { before, after } = await setUserDisabled(ctx.db, input.userId, input.disabled, actingUserId(ctx));
  await recordAudit(ctx.db, {
    action: input.disabled ? "user.disable" : "user.enable",
    actor: ctx.actor,
    subject: subjects.user(after.id, after.email),
    before: { disabled: before.disabled },
    after: { disabled: after.disabled },
    reason: input.reason,
  });
  return after;
}

export async function resetPassword(ctx: Ctx, input: z.infer<typeof resetPasswordSchema>) {
  actingUserId(ctx);
  const { user, password } = await resetUserPassword(ctx.db, input.userId);
  await recordAudit(ctx.db, { action: "user.reset_password", actor: ctx.actor, subject: subjects.user(user.id, user.email), reason: input.reason });
  return { user, password };
}

export { listUsers, listApiKeys };

export async function issueApiKey(ctx: Ctx, input: z.infer<typeof createApiKeySchema>) {
  const creator = actingUserId(ctx);
  const created = await createApiKey(ctx.db, input, creator);
  const { apiKey } = created;
  await recordAudit(ctx.db, {
    action: "api_key.create",
    actor: ctx.actor,
    subject: subjects.apiKey(apiKey.id, apiKey.name),
    surfaces: apiKey.surfaces,
    after: { kind: apiKey.kind, roles: apiKey.roles ?? [], surfaces: apiKey.surfaces ?? [], expiresAt: apiKey.expiresAt?.toISOString() ?? null },
  });
  return created;
}

export async function withdrawApiKey(ctx: Ctx, input: z.infer<typeof revokeApiKeySchema>) {
  const revoked = await revokeApiKey(ctx.db, input.id);
  await recordAudit(ctx.db, { action: "api_key.revoke", actor: ctx.actor, subject: subjects.apiKey(revoked.id, revoked.name), after: { revokedAt: (revoked.revokedAt ?? new Date()).toISOString() }, reason: input.reason });
  return revoked;
}
