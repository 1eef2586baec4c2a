import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import { APIError, createAuthMiddleware } from "better-auth/api";
import { authSecret, env } from "../config";
import { getDb } from "../db/client";

// Sign-in for people: better-auth with its Prisma adapter. Passwords are hashed by the library
// (scrypt), sessions live in PostgreSQL and are checked on every request (no cookie cache), so a
// disabled person's sessions stop working on their next request in every replica. Sign-up is off:
// admins invite people (server/auth/users.ts).

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
      },
    },
    // Sign-in attempts: SIGN_IN_ATTEMPTS_PER_MINUTE (5) per client address, counted in PostgreSQL across replicas.
    rateLimit: {
      enabled: true,
      storage: "database",
      window: 60,
      max: 100,
      customRules: { "/sign-in/email": { window: 60, max: env().SIGN_IN_ATTEMPTS_PER_MINUTE } },
    },
    // The front door sets x-forwarded-for to the socket's address (or keeps a trusted proxy's).
    advanced: { ipAddress: { ipAddressHeaders: ["x-forwarded-for"] }, useSecureCookies: env().PUBLIC_URL?.startsWith("https://") ?? false },
    // Same-origin only: the host the request came to (the front door has checked it against ALLOWED_HOSTS).
    trustedOrigins: (request) => {
      const host = request?.headers.get("host");
      return host ? [`http://${host}`, `https://${host}`] : [];
    },
    hooks: {
      before: createAuthMiddleware(async (ctx) => {
        // People are managed by admins (Users page, audited): no self-service renames or deletions.
        if (ctx.path === "/update-user" || ctx.path === "/change-email" || ctx.path === "/delete-user") {
          throw new APIError("FORBIDDEN", { message: "people are managed by admins on the Users page" });
        }
        // A disabled person gets the same answer as a wrong password: sign-in reveals nothing.
        if (ctx.path === "/sign-in/email") {
          const email = String((ctx.body as { email?: unknown } | undefined)?.email ?? "").trim().toLowerCase();
          const user = email ? await getDb().user.findUnique({ where: { email }, select: { disabled: true } }) : null;
          if (user?.disabled) throw new APIError("UNAUTHORIZED", { message: "Invalid email or password" });
        }
      }),
    },
    databaseHooks: {
      session: {
        create: {
          // A disabled person cannot start a session.
          before: async (session) => {
            const user = await getDb().user.findUnique({ where: { id: session.userId }, select: { disabled: true } });
            return user && !user.disabled ? { data: session } : false;
          },
        },
      },
    },
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
