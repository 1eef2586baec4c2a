import { handleJson } from "@/server/http/jsonEndpoint";
import { rerank } from "@/server/rerank/pipeline";
import { RERANK_LIMITS, rerankRequestSchema } from "@/server/rerank/schema";

export const dynamic = "force-dynamic";

export function POST(req: Request) {
  return handleJson(req, rerankRequestSchema, rerank, { maxBytes: RERANK_LIMITS.maxPayloadBytes });
}
