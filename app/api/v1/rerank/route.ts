import { assertSurfaceAllowed } from "@/server/auth/principal";
import { handleJson } from "@/server/http/jsonEndpoint";
import { rerank } from "@/server/rerank/pipeline";
import { RERANK_LIMITS, rerankRequestSchema } from "@/server/rerank/schema";

export const dynamic = "force-dynamic";

export function POST(req: Request) {
  return handleJson(
    req,
    rerankRequestSchema,
    (input, principal) => {
      assertSurfaceAllowed(principal, input.surface);
      return rerank(input);
    },
    { maxBytes: RERANK_LIMITS.maxPayloadBytes, permission: "rerank.serve" },
  );
}
