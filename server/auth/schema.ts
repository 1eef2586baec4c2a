import { z } from "zod";
import { ROLES } from "../domain/access/permissions";
import { reasonSchema } from "../validation";

// Inputs of the people and key procedures: one schema each, errors naming the field.

export const roleSchema = z.enum(ROLES);
const reason = reasonSchema;

export const inviteUserSchema = z.strictObject({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(100),
  roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length),
});

export const setRolesSchema = z.strictObject({ userId: z.string().min(1).max(100), roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length), reason });
export const setDisabledSchema = z.strictObject({ userId: z.string().min(1).max(100), disabled: z.boolean(), reason });
export const resetPasswordSchema = z.strictObject({ userId: z.string().min(1).max(100), reason });

export const createApiKeySchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("serving"),
    name: z.string().trim().min(1).max(100),
    /** Empty: every surface. */
    surfaces: z.array(z.string().min(1).max(100)).max(100).default([]),
    expiresAt: z.date().nullable().default(null),
  }),
  z.strictObject({
    kind: z.literal("automation"),
    name: z.string().trim().min(1).max(100),
    roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length),
    expiresAt: z.date().nullable().default(null),
  }),
]);

export const revokeApiKeySchema = z.strictObject({ id: z.string().min(1).max(100), reason });
