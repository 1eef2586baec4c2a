import { headers } from "next/headers";
import { createCaller } from "./routers/_app";
import { createContext } from "./trpc";

/**
 * tRPC called in-process by server components: same procedures and guards, no HTTP hop. Acts as
 * whoever made the page request (their session cookie).
 */
export async function serverCaller() {
  return createCaller(await createContext({ headers: new Headers(await headers()) }));
}
