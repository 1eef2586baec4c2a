import { headers } from "next/headers";
import { bridgedCaller, pagesBridge } from "./http/pagesBridge";
import type { createCaller } from "./routers/_app";

type Caller = ReturnType<typeof createCaller>;

/**
 * tRPC for server components and Next's route handlers: the same procedures and guards as
 * /api/trpc, acting as whoever made the page request (their session cookie, or `requestHeaders`).
 * On the pages thread (`npm start`: server/http/pagesThread.ts) every call is run by the serving
 * thread, which owns the process's state; in `npm run dev`, where Next.js runs on the serving
 * thread, in-process. The routers are imported only on that in-process path: a page rendered on the
 * pages thread does not load them (nor what they reach: model sessions, onnxruntime, the telemetry writers).
 */
export async function serverCaller(requestHeaders?: Headers): Promise<Caller> {
  const from = requestHeaders ?? new Headers(await headers());
  const bridge = pagesBridge();
  if (bridge) return bridgedCaller<Caller>(bridge, from);
  const [{ createCaller: create }, { createContext }] = await Promise.all([import("./routers/_app"), import("./trpc")]);
  return create(await createContext({ headers: from }));
}
