import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { actorFromHeaders, type Actor } from "./audit/actor";
import { getDb, type Db } from "./db/client";
import { ConflictError, InvalidInputError, NotFoundError } from "./errors";
import { describeZodError, fieldPath } from "./validation";

// Context and procedure builders, defined once; routers compose them.

export interface Context {
  db: Db;
  /** Who is acting, for the audit trail (access control arrives in its own issue). */
  actor: Actor;
}

export function createContext(opts: { headers?: Headers } = {}): Context {
  return { db: getDb(), actor: actorFromHeaders(opts.headers) };
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    return {
      ...shape,
      data: {
        ...shape.data,
        fields: zod ? zod.issues.map((issue) => ({ path: fieldPath(issue.path), message: issue.message })) : null,
      },
    };
  },
});

/**
 * Maps domain errors to tRPC codes so that services never import tRPC, and input errors to one
 * readable line naming each field (also for in-process callers, which skip the formatter).
 */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof ZodError) throw new TRPCError({ code: "BAD_REQUEST", message: describeZodError(cause), cause });
    const code =
      cause instanceof NotFoundError ? "NOT_FOUND" : cause instanceof InvalidInputError ? "BAD_REQUEST" : cause instanceof ConflictError ? "CONFLICT" : null;
    if (code) throw new TRPCError({ code, message: cause!.message, cause });
  }
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(domainErrors);
export const createCallerFactory = t.createCallerFactory;
