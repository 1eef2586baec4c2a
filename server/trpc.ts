import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { getDb, type Db } from "./db/client";
import { mapError } from "./errorMapping";
import { describeZodError, fieldPath } from "./validation";

// Context and procedure builders, defined once; routers compose them.

export interface Context {
  db: Db;
  /** Who is acting, for the audit log (access control arrives in its own issue). */
  actor: string;
}

export function createContext(opts: { headers?: Headers } = {}): Context {
  return { db: getDb(), actor: opts.headers?.get("x-rerank-user") ?? "anonymous" };
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
    if (mapped.internal) console.error(`[trpc] ${path}:`, cause ?? result.error);
    throw new TRPCError({ code: mapped.trpcCode, message: mapped.message, cause });
  }
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(domainErrors);
export const createCallerFactory = t.createCallerFactory;
