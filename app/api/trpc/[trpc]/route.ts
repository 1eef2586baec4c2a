import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { RERANK_LIMITS } from "@/server/rerank/schema";
import { appRouter } from "@/server/routers/_app";
import { createContext } from "@/server/trpc";

const handler = (req: Request) => {
  const length = Number(req.headers.get("content-length") ?? 0);
  if (length > RERANK_LIMITS.maxPayloadBytes) {
    return Response.json({ error: { message: `body: the payload of ${length} bytes exceeds the ${RERANK_LIMITS.maxPayloadBytes}-byte limit` } }, { status: 413 });
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ headers: req.headers }),
  });
};

export { handler as GET, handler as POST };
