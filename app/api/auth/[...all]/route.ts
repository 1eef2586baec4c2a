import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "@/server/auth/auth";

// better-auth's endpoints: sign-in, sign-out, session (POST /api/auth/sign-in/email, …).
export const dynamic = "force-dynamic";

const handler = (req: Request) => getAuth().handler(req);
export const { GET, POST } = toNextJsHandler(handler);
