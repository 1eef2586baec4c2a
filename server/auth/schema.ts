import { z } from "zod";
import { ROLES } from "../domain/access/permissions";
import { RESERVED_ACTOR_NAMES } from "../domain/audit/actions";
import { INVISIBLE, idString, lookAlikeSkeleton, MARK_PILE, reasonSchema, text, timestamp } from "../validation";

// Inputs of the people and key procedures: one schema each, errors naming the field.

export const roleSchema = z.enum(ROLES);
const reason = reasonSchema;

export const inviteUserSchema = z.strictObject({
  email: z.email().max(254),
  name: text(100).trim().min(1, "must not be empty"),
  roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length),
});

/**
 * `expectRoles`: the roles the dialog showed the person holding (compared as a set): when they are no
 * longer the stored ones, nothing changes (409). Absent: not pinned (scripts).
 */
export const setRolesSchema = z.strictObject({
  userId: idString(),
  roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length),
  expectRoles: z.array(roleSchema).max(ROLES.length).optional(),
  reason,
});
export const setDisabledSchema = z.strictObject({ userId: idString(), disabled: z.boolean(), reason });
export const resetPasswordSchema = z.strictObject({ userId: idString(), reason });

/** The reserved names by their look-alike skeleton (lookAlikeSkeleton), folded once. */
const RESERVED_SKELETONS = new Map(RESERVED_ACTOR_NAMES.map((name) => [lookAlikeSkeleton(name), name]));

/**
 * A key's name: the audit trail names a key's actions by it, and people by their email, so a name
 * with "@" could pass for a person ("pm@x.io created …") and mix with them in the actor filter.
 */
// NFKC folds look-alikes (＠ U+FF20, ﹫ U+FE6B) to "@" before the check.
const keyName = text(100).trim().min(1, "must not be empty").refine((name) => !name.normalize("NFKC").includes("@"), "must not contain @ (or a look-alike of it): the audit trail names people by their email")
  // Invisible characters (format characters, Unicode Cf: zero-width space, soft hyphen…; fillers and
  // blanks: U+3164, U+2800 — re-break) would let a name read as another, or as nothing.
  .refine((name) => !/\p{Cf}/u.test(name) && !INVISIBLE.test(name), "must not contain invisible characters (zero-width spaces, soft hyphens, fillers, blanks and the like): the audit trail shows names as they read")
  .refine((name) => !MARK_PILE.test(name), "must not stack more than four combining marks on a character")
  // The console's own jobs and "anonymous" (whoever tried to sign in as someone) are names the trail
  // gives others, nor may a name read as one: compared by their look (lookAlikeSkeleton: "ѕeed" in
  // Cyrillic, "rollout‐analysis" with U+2010, "anonyrnous", "db꞉retention" passed re-breaks).
  .superRefine((name, ctx) => {
    const reserved = RESERVED_SKELETONS.get(lookAlikeSkeleton(name));
    if (reserved) ctx.addIssue({ code: "custom", message: `must not be "${reserved}" or look like it: the audit trail names ${reserved === "anonymous" ? "unknown callers" : "one of the console's own jobs"} so` });
  });

/**
 * A serving key's rate limit: `rate` requests per second (0.01 … 100,000; below 1, one request every
 * 1/rate s) and `burst`, requests at once (null: one second's worth, at least one).
 */
export const rateLimitSchema = z.strictObject({
  rate: z.number().min(0.01, "at least 0.01 requests per second (one every 100 s)").max(100_000, "at most 100,000 requests per second"),
  burst: z.number().int("a whole number of requests").min(1, "at least 1 request").max(100_000, "at most 100,000 requests").nullable().default(null),
});

export const createApiKeySchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("serving"),
    name: keyName,
    /** Empty: every surface. */
    surfaces: z.array(idString()).max(100).default([]),
    /** Null: no limit of the key's own (fair share still applies under load). */
    rateLimit: rateLimitSchema.nullable().default(null),
    expiresAt: timestamp({ future: true }).nullable().default(null),
  }),
  z.strictObject({
    kind: z.literal("automation"),
    name: keyName,
    roles: z.array(roleSchema).min(1, "give at least one role").max(ROLES.length),
    expiresAt: timestamp({ future: true }).nullable().default(null),
  }),
]);

export const revokeApiKeySchema = z.strictObject({ id: idString(), reason });
/**
 * `expectRateLimit`: the limit the dialog showed (null: none): when it is no longer the stored one,
 * nothing changes (409). Absent: not pinned (scripts).
 */
export const setApiKeyRateLimitSchema = z.strictObject({ id: idString(), rateLimit: rateLimitSchema.nullable(), expectRateLimit: rateLimitSchema.nullable().optional(), reason });
