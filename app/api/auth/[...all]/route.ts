import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "@/server/auth/auth";
import { errorResponse } from "@/server/http/routeErrors";

// better-auth's endpoints: sign-in, sign-out, session (POST /api/auth/sign-in/email, …).
export const dynamic = "force-dynamic";

/** What a person was doing, for the message of a fault (the sign-in page shows it as it is). */
const DOING: Record<string, string> = {
  "/api/auth/sign-in/email": "signing in",
  "/api/auth/sign-out": "signing out",
  "/api/auth/get-session": "reading the session",
  "/api/auth/change-password": "changing the password",
};

/**
 * The library's answer, or for a fault of ours (the database down: it throws, onAPIError.throw) the
 * house's mapped error, with `code` and `message` also at the top level where the library's client reads them.
 */
async function handler(req: Request): Promise<Response> {
  try {
    return await getAuth().handler(req);
  } catch (error) {
    const path = new URL(req.url).pathname;
    return errorResponse(error, DOING[path] ?? `${req.method} ${path}`, (e) => ({ code: e.code, message: e.message, error: e }));
  }
}
export const { GET, POST } = toNextJsHandler(handler);
