import { allowedSurfaces } from "@/server/auth/principal";
import { outcomeBatchSchema } from "@/server/events/schema";
import { recordOutcomes } from "@/server/events/service";
import { handleJson } from "@/server/http/jsonEndpoint";
import { RERANK_LIMITS } from "@/server/rerank/schema";

export const dynamic = "force-dynamic";

export function POST(req: Request) {
  return handleJson(req, outcomeBatchSchema, (input, principal) => recordOutcomes(input, allowedSurfaces(principal)), {
    maxBytes: RERANK_LIMITS.maxPayloadBytes,
    permission: "events.write",
  });
}
