import { z } from "zod";
import { text } from "../validation";
import { env } from "../config";

// The rerank request, shared by the tRPC procedure and POST /api/v1/rerank. camelCase JSON.

export const RERANK_LIMITS = {
  maxCandidates: 1000,
  maxTopK: 1000,
  get maxPayloadBytes() {
    return env().RERANK_MAX_PAYLOAD_BYTES;
  },
  maxInlineFeatures: 256,
};

const key = text().min(1).max(256);

// zod 4 numbers reject NaN and ±Infinity, so a non-finite feature is refused with its path.
const candidate = z.strictObject({
  id: key,
  retrievalScore: z.number().optional(),
  features: z
    .record(text().min(1).max(128), z.number())
    .refine((f) => Object.keys(f).length <= RERANK_LIMITS.maxInlineFeatures, `at most ${RERANK_LIMITS.maxInlineFeatures} inline features`)
    .optional(),
});

export const rerankContextSchema = z.strictObject({
  query: text().max(2000).optional(),
  device: text().max(64).optional(),
  locale: text().max(35).optional(),
  country: text().max(8).optional(),
  returning: z.boolean().optional(),
  attributes: z.record(text().max(64), z.union([text().max(256), z.number(), z.boolean()])).optional(),
});

export const rerankRequestSchema = z
  .strictObject({
    surface: text().min(1).max(100),
    requestId: text().min(1).max(128).optional(),
    userKey: key.optional(),
    sessionKey: key.optional(),
    context: rerankContextSchema.optional(),
    topK: z.number().int().min(1).max(RERANK_LIMITS.maxTopK),
    candidates: z.array(candidate).min(1).max(RERANK_LIMITS.maxCandidates, `at most ${RERANK_LIMITS.maxCandidates} candidates per request`),
  })
  .superRefine((request, ctx) => {
    const seen = new Map<string, number>();
    request.candidates.forEach((c, i) => {
      const first = seen.get(c.id);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: ["candidates", i, "id"], message: `"${c.id}" duplicates candidates[${first}].id` });
      else seen.set(c.id, i);
    });
  });

export type RerankRequest = z.infer<typeof rerankRequestSchema>;
export type RerankContext = z.infer<typeof rerankContextSchema>;

export interface RerankItem {
  id: string;
  score: number;
  position: number;
  reasons: string[];
}

export type FallbackReason = "kill_switch" | "no_model" | "model_load_error" | "model_error" | "timeout" | "circuit_open";

export interface RerankResponse {
  requestId: string;
  surface: string;
  items: RerankItem[];
  modelVersion: { id: string; name: string; version: number; alias: string } | null;
  variant: { experiment: string; key: string; phase: number } | null;
  fallback: { used: boolean; reason: FallbackReason | null; servedBy: "model" | "cascade" | "retrieval_order" };
  removed: Array<{ id: string; reason: string }>;
  constraints: { capsFeasible: boolean; floors: Array<{ field: string; group: string; required: number; achieved: number; feasible: boolean }> };
  features: { defaulted: number; stale: number; unknownCandidates: number };
  timings: Record<"resolve" | "features" | "score" | "constraints" | "total", number>;
}
