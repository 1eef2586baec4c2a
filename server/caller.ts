import { headers } from "next/headers";
import { bridgedCaller, pagesBridge } from "./http/pagesBridge";
import { createCaller } from "./routers/_app";
import { createContext } from "./trpc";

/**
 * tRPC for server components and Next's route handlers: the same procedures and guards as
 * /api/trpc, acting as whoever made the page request (their session cookie, or `requestHeaders`).
 * On the pages thread (`npm start`: server/http/pagesThread.ts) every call is run by the serving
 * thread, which owns the process's state; in `npm run dev`, where Next.js runs on the serving
 * thread, in-process.
 */
export async function serverCaller(requestHeaders?: Headers): Promise<ReturnType<typeof createCaller>> {
  const from = requestHeaders ?? new Headers(await headers());
  const bridge = pagesBridge();
  return bridge ? bridgedCaller<ReturnType<typeof createCaller>>(bridge, from) : createCaller(await createContext({ headers: from }));
}
