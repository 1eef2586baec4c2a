import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { actorOf, type Actor } from "./audit/actor";
import { authenticate } from "./auth/authenticate";
import { admitKeyRate } from "./auth/keyRateLimit";
import { callerOf, ONE_TIME_PASSWORD_MESSAGE, passwordChangeDue, principalCan, unauthorizedMessage, type Principal } from "./auth/principal";
import { admitServing } from "./http/admission";
import { getDb, type Db } from "./db/client";
import { missingPermissionReason, PERMISSION_NAMES, SERVING_PERMISSIONS, type Permission } from "./domain/access/permissions";
import { strictSuperjsonDates } from "./domain/time/superjsonDates";
import { fieldsOf, mapError } from "./errorMapping";
import { logInternalError } from "./redact";
import { InvalidInputError } from "./errors";
import { boundedSuperjsonEnvelope, describeInvalidInput, describeZodError, protoKeyPath } from "./validation";

// Context and procedure builders, defined once; routers compose them. Every procedure declares the
// permission it needs (its meta): `procedureFor[permission]`, or `publicProcedure` for the few that
// anonymous callers may use. The role × procedure matrix test reads these declarations.

export interface Context {
  db: Db;
  /** Who is calling: a signed-in person or an API key; null when anonymous. */
  principal: Principal | null;
  /** Who is acting, for the audit trail: the person or key, with the request's id and client address. */
  actor: Actor;
  /**
   * The Authorization header sent, when it named no principal (an unknown, revoked or expired key, or
   * a value that is not `Bearer <key>`): what a 401 then says (unauthorizedMessage).
   */
  refusedAuthorization?: string;
}

/**
 * Builds the context of one request from its headers (session cookie or `Authorization: Bearer`), or
 * with `principal` when the front door already checked the caller (a POST, before reading its body).
 */
export async function createContext(opts: { headers?: Headers; principal?: Principal | null } = {}): Promise<Context> {
  const db = getDb();
  let principal: Principal | null;
  try {
    principal = opts.principal !== undefined ? opts.principal : opts.headers ? await authenticate(db, opts.headers) : null;
  } catch (error) {
    // Checking the caller needs the database: unreachable, that is a 503 (the formatter words it), not a 500.
    const mapped = mapError(error, "checking the caller");
    throw new TRPCError({ code: mapped.trpcCode, message: mapped.message, cause: error });
  }
  const authorization = opts.headers?.get("authorization");
  return { db, principal, actor: actorOf(principal, opts.headers), ...(!principal && authorization ? { refusedAuthorization: authorization } : {}) };
}

/** A context acting as `principal`, for in-process callers (tests, scripts). */
export function contextFor(principal: Principal | null): Context {
  return { db: getDb(), principal, actor: actorOf(principal, undefined) };
}

/**
 * An input envelope read by superjson: `meta` bounded first (boundedSuperjsonEnvelope), the text of
 * every Date held to strict ISO 8601 (strictSuperjsonDates: superjson reads it with new Date(text),
 * which takes "12" as December 2001). What superjson still cannot read is a 400 naming the field,
 * never its own words (they quoted its source's URL, or "Maximum call stack size exceeded").
 * @throws InvalidInputError naming `meta…` or `json`
 */
function deserializeInput(payload: unknown): unknown {
  const envelope = boundedSuperjsonEnvelope(payload) as Parameters<typeof superjson.deserialize>[0];
  // An own key "__proto__", which superjson's copy would drop without a word: without annotations the
  // value goes to the schema as parsed, which keeps or refuses it as /api/v1/* does for the same body
  // (break test: tRPC served a rerank and stored an event that /api/v1/* refused); with annotations
  // (superjson has to copy) it is refused here, naming it.
  const proto = protoKeyPath((envelope as { json?: unknown } | undefined)?.json);
  if (proto !== null) {
    if (!envelope.meta) return envelope.json;
    throw new InvalidInputError(proto, 'may not be "__proto__" (it cannot be kept as a field name)');
  }
  try {
    return superjson.deserialize(strictSuperjsonDates(envelope));
  } catch (error) {
    if (error instanceof RangeError) throw new InvalidInputError("json", "nested too deeply to read");
    throw new InvalidInputError("meta.values", "an annotation does not fit the value at its path");
  }
}

export interface Meta {
  permission: Permission | "public";
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Input: superjson, bounded and strict (deserializeInput); output: superjson.
    transformer: {
      input: { serialize: superjson.serialize, deserialize: deserializeInput },
      output: superjson,
    },
    errorFormatter({ shape, error, path }) {
      const zod = error.cause instanceof ZodError ? error.cause : null;
      // A field named by the error mapping (InvalidInputError, a unique violation), as /api/v1/* lists it (fieldsOf).
      const mapped = zod ? null : fieldsOf(mapError(error.cause ?? error, path ?? "the request"));
      return {
        ...shape,
        // A 5xx says what failed in plain words, wherever it was thrown (the procedure, or building
        // the context before any middleware ran): never a driver's message, which can quote SQL and data.
        ...(shape.data.httpStatus >= 500 ? { message: mapError(error.cause ?? error, path ?? "the request").message } : {}),
        data: {
          ...shape.data,
          fields: zod ? describeInvalidInput(zod).fields : mapped,
        },
      };
    },
  });

/**
 * Maps errors to tRPC codes through server/errorMapping.ts (by the error's `code`, which survives
 * Next's bundling where `instanceof` does not), so that services never import tRPC; input errors
 * become one readable line naming each field (also for in-process callers, which skip the
 * formatter); a fault of ours becomes a 5xx that says what failed without database internals.
 * TRPCErrors thrown on purpose (UNAUTHORIZED, FORBIDDEN …) pass unchanged.
 */
const domainErrors = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof ZodError) throw new TRPCError({ code: "BAD_REQUEST", message: describeZodError(cause), cause });
    if (result.error.code !== "INTERNAL_SERVER_ERROR") return result;
    const mapped = mapError(cause ?? result.error, path);
    if (mapped.internal) logInternalError(`[trpc] ${path}`, cause ?? result.error);
    throw new TRPCError({ code: mapped.trpcCode, message: mapped.message, cause });
  }
  return result;
});

/** 401 for anonymous callers, 403 naming the roles that would do for those without the permission. */
function requirePermission(permission: Permission) {
  return t.middleware(({ ctx, next }) => {
    if (!ctx.principal) {
      throw new TRPCError({ code: "UNAUTHORIZED", message: unauthorizedMessage(ctx.refusedAuthorization) });
    }
    if (passwordChangeDue(ctx.principal)) throw new TRPCError({ code: "FORBIDDEN", message: ONE_TIME_PASSWORD_MESSAGE });
    if (!principalCan(ctx.principal, permission)) {
      const message = ctx.principal.kind === "api_key" && ctx.principal.keyKind === "serving"
        ? `a serving key may only rerank and record events; ${missingPermissionReason(permission).replace(/^Needs/, "this needs")}`
        : missingPermissionReason(permission);
      throw new TRPCError({ code: "FORBIDDEN", message });
    }
    return next({ ctx: { ...ctx, principal: ctx.principal } });
  });
}

/** A serving key's own rate limit on the serving procedures (rerank, events), as on their HTTP routes (server/auth/keyRateLimit.ts). */
const keyRateLimit = t.middleware(async ({ ctx, next }) => {
  await admitKeyRate(ctx.principal);
  return next();
});

/**
 * A rerank procedure's place among the process's serving requests: the front door's admission
 * (server/http/admission.ts), once per call, so a batch of calls is that many requests in flight.
 */
const servingAdmission = t.middleware(async ({ ctx, next }) => {
  const ticket = admitServing(callerOf(ctx.principal));
  try {
    return await next();
  } finally {
    ticket.release();
  }
});

const guarded = (permission: Permission) => {
  const procedure = t.procedure.meta({ permission }).use(domainErrors).use(requirePermission(permission));
  if (!SERVING_PERMISSIONS.includes(permission)) return procedure;
  // rerank.serve's procedures (rerank.rank, debug.rerank) are admitted as the front door's /api/v1/rerank is; events are not, there either.
  return permission === "rerank.serve" ? procedure.use(keyRateLimit).use(servingAdmission) : procedure.use(keyRateLimit);
};

export const router = t.router;
/** Open to anonymous callers: only what a sign-in page or a load balancer needs. */
export const publicProcedure = t.procedure.meta({ permission: "public" }).use(domainErrors);
/** One procedure builder per permission, e.g. `procedureFor["oncall.rollback"]`. */
export const procedureFor = Object.fromEntries(PERMISSION_NAMES.map((p) => [p, guarded(p)])) as {
  [P in Permission]: ReturnType<typeof guarded>;
};
export const createCallerFactory = t.createCallerFactory;
