import { BASE_ERROR_CODES, betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import { APIError, createAuthMiddleware } from "better-auth/api";
import { actorOf } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { authSecret, env } from "../config";
import { getDb } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";

// Sign-in for people: better-auth with its Prisma adapter. Passwords are hashed by the library
// (scrypt), sessions live in PostgreSQL and are checked on every request (no cookie cache), so a
// disabled person's sessions stop working on their next request in every replica. Sign-up is off:
// admins invite people (server/auth/users.ts).

/** Refused sign-ins audited per person and hour; beyond, they are refused as ever but not recorded. */
export const FAILED_SIGN_INS_KEPT_PER_HOUR = 20;

/** Session lifetime: 7 days, renewed at most once a day while the person keeps using the console. */
const SESSION_SECONDS = 7 * 24 * 3600;

function createAuth() {
  return betterAuth({
    appName: "Rerank Console",
    // PUBLIC_URL when set (behind a proxy); else the host each request came to, which the front door
    // has already checked against ALLOWED_HOSTS (server/http/frontDoor.ts), so any host that reaches here is allowed.
    // A call of the server's own with no request (first-run admin, invitations) uses the listen port on localhost.
    baseURL: env().PUBLIC_URL ?? { allowedHosts: ["*"], protocol: "auto", fallback: `http://localhost${env().PORT ? `:${env().PORT}` : ""}` },
    secret: authSecret(),
    database: prismaAdapter(getDb(), { provider: "postgresql" }),
    telemetry: { enabled: false },
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: 10, maxPasswordLength: 128 },
    session: { expiresIn: SESSION_SECONDS, updateAge: 24 * 3600, cookieCache: { enabled: false } },
    user: {
      additionalFields: {
        roles: { type: "string[]", required: false, input: false },
        disabled: { type: "boolean", required: false, input: false },
        mustChangePassword: { type: "boolean", required: false, input: false },
      },
    },
    // Sign-in attempts: SIGN_IN_ATTEMPTS_PER_MINUTE (5) per client address, counted in PostgreSQL across replicas.
    rateLimit: {
      enabled: true,
      storage: "database",
      window: 60,
      max: 100,
      // A password change checks the current password as sign-in does, under the same limit (the
      // library's own, 3 per 10 s per address, refused people changing their one-time passwords one
      // after another from behind one address).
      customRules: { "/sign-in/email": { window: 60, max: env().SIGN_IN_ATTEMPTS_PER_MINUTE }, "/change-password": { window: 60, max: env().SIGN_IN_ATTEMPTS_PER_MINUTE } },
    },
    // The front door sets x-forwarded-for to the socket's address (or keeps a trusted proxy's).
    advanced: { ipAddress: { ipAddressHeaders: ["x-forwarded-for"] }, useSecureCookies: env().PUBLIC_URL?.startsWith("https://") ?? false },
    // Same-origin only: the host the request came to (the front door has checked it against ALLOWED_HOSTS).
    trustedOrigins: (request) => {
      const host = request?.headers.get("host");
      return host ? [`http://${host}`, `https://${host}`] : [];
    },
    // A fault of ours (the database down) leaves the library's router as a thrown error, which the route
    // answers as every other path does (server/http/routeErrors.ts), not an empty 500; APIErrors (wrong
    // password, 401, 429…) are still the library's own answers.
    onAPIError: { throw: true },
    hooks: {
      before: createAuthMiddleware(async (ctx) => {
        // People are managed by admins (Users page, audited): no self-service renames or deletions.
        if (ctx.path === "/update-user" || ctx.path === "/change-email" || ctx.path === "/delete-user") {
          throw new APIError("FORBIDDEN", { message: "people are managed by admins on the Users page" });
        }
        // A password is changed because it may be known to someone else: every other session of the
        // person ends with it, whatever the client asked (a break test changed a password while a
        // thief's session stayed signed in). Ended in the change's own transaction (recordPasswordChange),
        // so the library's own revocation, which it runs before the write and outside it, is turned off.
        if (ctx.path === "/change-password" && ctx.body && typeof ctx.body === "object") {
          return { context: { ...ctx, body: { ...(ctx.body as Record<string, unknown>), revokeOtherSessions: false } } };
        }
      }),
      after: createAuthMiddleware(async (ctx) => {
        // A refused sign-in as a person who exists is audited (wrong password, or disabled), with the
        // client address: the Audit page shows who is being guessed at. Rate-limited attempts are refused
        // before this (429); an email that names nobody is not recorded.
        if (ctx.path !== "/sign-in/email" || !(ctx.context.returned instanceof APIError) || ctx.context.returned.statusCode !== 401) return;
        const email = (ctx.body as { email?: unknown } | undefined)?.email;
        if (typeof email !== "string") return;
        const user = await getDb().user.findUnique({ where: { email: email.toLowerCase() }, select: { id: true, email: true, disabled: true } });
        if (!user) return;
        // The trail is append-only and kept: at most FAILED_SIGN_INS_KEPT_PER_HOUR entries a person an hour, so a
        // guessing campaign from many addresses shows without filling it (break test: ~7,200 entries a day per address).
        const since = new Date(Date.now() - 3_600_000);
        const recorded = await getDb().auditLog.count({ where: { entityType: "user", entityId: user.id, action: "user.sign_in_failed", ts: { gte: since } } });
        if (recorded >= FAILED_SIGN_INS_KEPT_PER_HOUR) return;
        await recordAudit(getDb(), {
          action: "user.sign_in_failed", actor: actorOf(null, ctx.headers), subject: subjects.user(user.id, user.email), reason: user.disabled ? "disabled" : "wrong password",
        });
      }),
    },
    databaseHooks: {
      session: {
        create: {
          // A disabled person cannot start a session. Refused here, after the library has checked the
          // password, with its own wrong-password error: a disabled account answers as slowly (one
          // scrypt verification) and in the same words as an active one, so sign-in reveals nothing.
          before: async (session) => {
            const user = await getDb().user.findUnique({ where: { id: session.userId }, select: { disabled: true } });
            if (!user || user.disabled) throw APIError.from("UNAUTHORIZED", BASE_ERROR_CODES.INVALID_EMAIL_OR_PASSWORD);
            return { data: session };
          },
          // Audited once the session exists; a failed write fails the sign-in (no cookie is set) and
          // ends the session it would have named (break test: it stayed for 7 days).
          after: async (session, endpoint) => {
            if (endpoint?.path !== "/sign-in/email") return;
            try {
              await auditSessionOf(getDb(), "user.sign_in", session.userId, endpoint.headers);
            } catch (error) {
              await getDb().session.deleteMany({ where: { id: session.id } }).catch(() => {});
              throw error;
            }
          },
        },
        delete: {
          // Sign-out: the session is ended and audited here, in one transaction, and only by the request whose
          // delete removed it while it was live (break test: concurrent sign-outs wrote two entries, and an
          // expired session's sign-out one). Sessions also end when they expire, on a password change or a
          // disable: those are left to the library, and audited as what ended them.
          before: async (session, endpoint) => {
            if (endpoint?.path !== "/sign-out") return;
            await getDb().$transaction(async (tx) => {
              const { count } = await tx.session.deleteMany({ where: { id: session.id } });
              if (count === 1 && new Date(session.expiresAt).getTime() > Date.now()) await auditSessionOf(tx, "user.sign_out", session.userId, endpoint.headers);
            });
            return false;
          },
        },
      },
      account: {
        update: {
          // A person's own password change (POST /api/auth/change-password) is written here, with its
          // audit entry, in one transaction; `false` tells the library its own write is done.
          before: async (data, endpoint) => {
            const user = endpoint?.context.session?.user;
            const sessionId = endpoint?.context.session?.session.id;
            if (endpoint?.path !== "/change-password" || typeof data.password !== "string" || !user || !sessionId) return;
            await recordPasswordChange({ id: user.id, email: user.email, name: user.name }, sessionId, data.password, endpoint.headers);
            return false;
          },
        },
      },
    },
  });
}

/** Audits a person's sign-in or sign-out through `db` (a transaction's client or the pool), the person as actor and subject. */
async function auditSessionOf(db: Pick<Prisma.TransactionClient, "user" | "auditLog" | "$queryRaw">, action: "user.sign_in" | "user.sign_out", userId: string, headers: Headers | undefined) {
  const user = await db.user.findUnique({ where: { id: userId }, select: { id: true, email: true, name: true } });
  if (!user) return;
  await recordAudit(db, { action, actor: personActor(user, headers), subject: subjects.user(user.id, user.email) });
}

/** A person acting on their own account (signing in or out, changing their password) as the audit trail names them. */
function personActor(user: { id: string; email: string; name: string }, headers: Headers | undefined) {
  return actorOf({ kind: "user", id: user.id, name: user.email, displayName: user.name, roles: [] }, headers);
}

/**
 * Sets a person's own new password (`passwordHash`, hashed by the library), ends their other
 * sessions (all but `sessionId`, the one that changed it) and audits it, in one transaction.
 */
async function recordPasswordChange(user: { id: string; email: string; name: string }, sessionId: string, passwordHash: string, headers: Headers | undefined) {
  const actor = personActor(user, headers);
  await getDb().$transaction(async (tx) => {
    await tx.account.updateMany({ where: { userId: user.id, providerId: "credential" }, data: { password: passwordHash } });
    await tx.session.deleteMany({ where: { userId: user.id, id: { not: sessionId } } });
    await tx.user.update({ where: { id: user.id }, data: { mustChangePassword: false } });
    await recordAudit(tx, { action: "user.change_password", actor, subject: subjects.user(user.id, user.email) });
  });
}

export type Auth = ReturnType<typeof createAuth>;

const holder = globalThis as unknown as { __rerankAuth?: { url: string; auth: Auth } };

/** The better-auth instance of this process (one per DATABASE_URL, kept across Next's bundles). */
export function getAuth(): Auth {
  const url = env().DATABASE_URL ?? "";
  if (holder.__rerankAuth?.url !== url) holder.__rerankAuth = { url, auth: createAuth() };
  return holder.__rerankAuth.auth;
}
