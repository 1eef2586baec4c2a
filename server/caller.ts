import { createCaller } from "./routers/_app";
import { createContext } from "./trpc";

/** tRPC called in-process by server components: same procedures, no HTTP hop. */
export function serverCaller() {
  return createCaller(createContext({ headers: new Headers({ "x-rerank-user": "console" }) }));
}
