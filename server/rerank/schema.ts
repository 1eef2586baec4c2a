import { z } from "zod";
import { float32, int32, items, record, text } from "../validation";
import { env } from "../config";

// The rerank request, shared by the tRPC procedure and POST /api/v1/rerank. camelCase JSON.

export const RERANK_LIMITS = {
  maxCandidates: 1000,
  maxTopK: 1000,
  get maxPayloadBytes() {
    return env().RERANK_MAX_PAYLOAD_BYTES;
  },
  maxInlineFeatures: 256,
  maxAttributes: 64,
  maxCandidateTextChars: 100_000,
};

/** An item id's longest length (UTF-16 code units): candidates, events and the request log name items by it. */
export const ITEM_ID_MAX_CHARS = 256;
const key = text(ITEM_ID_MAX_CHARS, 1);

// Scores and features end in a float32 tensor: a value past ±3.4e38 (or non-finite) is refused with its path.
const candidate = z.strictObject({
  id: key,
  retrievalScore: float32().optional(),
  // record: a feature named "__proto__" is refused naming it (z.record would drop it without a word),
  // and more than 256 before any is checked.
  features: record(text(128, 1), float32(), { maxKeys: RERANK_LIMITS.maxInlineFeatures, tooMany: `at most ${RERANK_LIMITS.maxInlineFeatures} inline features` }).optional(),
  /** The candidate's text, for a cross-encoder (scored against context.query); else it reads the catalog's attributes. */
  text: text(RERANK_LIMITS.maxCandidateTextChars).optional(),
});

/** The context fields targeting reads under their own names, beside context.attributes (server/rerank/assignment.ts). */
export const CONTEXT_ATTRIBUTES = ["country", "device", "locale", "returning"] as const;

export const rerankContextSchema = z.strictObject({
  query: text(2000).optional(),
  device: text(64).optional(),
  locale: text(35).optional(),
  country: text(8).optional(),
  returning: z.boolean().optional(),
  // Targeting reads these (regexes included, on RE2): bounded in number, length and range.
  attributes: record(text(64, 1), z.union([text(256), float32(), z.boolean()]), { maxKeys: RERANK_LIMITS.maxAttributes, tooMany: `at most ${RERANK_LIMITS.maxAttributes} attributes` }).optional(),
});

export const rerankRequestSchema = z
  .strictObject({
    surface: text(100, 1),
    requestId: text(128, 1).optional(),
    userKey: key.optional(),
    sessionKey: key.optional(),
    context: rerankContextSchema.optional(),
    topK: int32(1, RERANK_LIMITS.maxTopK),
    // items(): checking stops after the first 20 issues (a 400 costs no more than a valid request).
    candidates: items(candidate, { min: 1, max: RERANK_LIMITS.maxCandidates, tooMany: `at most ${RERANK_LIMITS.maxCandidates} candidates per request` }),
  })
  .superRefine((request, ctx) => {
    // Targeting reads context.country (device, locale, returning) and the request's surface under those
    // names (requestAttributes): an attribute of the same name saying otherwise would be silently ignored.
    const attributes = request.context?.attributes ?? {};
    for (const name of [...CONTEXT_ATTRIBUTES, "surface"] as const) {
      const given = name === "surface" ? request.surface : request.context?.[name];
      if (Object.hasOwn(attributes, name) && given !== undefined && attributes[name] !== given) {
        ctx.addIssue({ code: "custom", path: ["context", "attributes", name], message: `${JSON.stringify(attributes[name])} contradicts ${name === "surface" ? "surface" : `context.${name}`} (${JSON.stringify(given)}): targeting reads one ${name}; send it once` });
      }
    }
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

/** Every reason a request is served by its fallback (the request log's fallback_reason). */
export const FALLBACK_REASONS = ["kill_switch", "no_model", "model_load_error", "model_error", "timeout", "circuit_open"] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/**
 * What stage 2 of the surface's cascade did (server/rerank/stage2.ts). `served`: the items it
 * rescored lead the list in its order, placed above every stage-1-only item; any other status: stage
 * 1's order serves. `reason` names the fault ("timeout", "model_error", "circuit_open", "kill_switch",
 * "no_model" when its model or alias is gone, "model_load_error"); `reranked` lists the ids stage 2
 * rescored, in its order (empty unless served); `ms` is the stage's wall time; `truncated`, present
 * when stage 2's model is a cross-encoder that ran, counts the documents it cut to the model's length.
 */
export interface Stage2Outcome {
  status: "served" | "timeout" | "error" | "skipped";
  reason: FallbackReason | null;
  model: { name: string; version: number; alias: string } | null;
  rerankCount: number;
  reranked: string[];
  /** When served: stage 2's own score of each item of `reranked` (index-aligned), before the items were placed above stage 1's. */
  scores?: number[];
  ms: number;
  truncated?: number;
}

export type StageTimings = Record<"resolve" | "features" | "score" | "constraints" | "total", number> & {
  /** Stage 2's time, on surfaces with a cascade (also in `stage2.ms`). */
  rescore?: number;
};

export interface RerankResponse {
  requestId: string;
  surface: string;
  items: RerankItem[];
  modelVersion: { id: string; name: string; version: number; alias: string } | null;
  variant: { experiment: string; key: string; phase: number } | null;
  fallback: { used: boolean; reason: FallbackReason | null; servedBy: "model" | "cascade" | "retrieval_order" };
  removed: Array<{ id: string; reason: string }>;
  constraints: { capsFeasible: boolean; floors: Array<{ field: string; group: string; required: number; achieved: number; feasible: boolean }> };
  /**
   * `timedOut`: the feature store could not read some candidates' or the user's features within
   * FEATURE_READ_BUDGET_SHARE of the surface's budget (or the read failed): those were served with defaults.
   */
  features: { defaulted: number; stale: number; unknownCandidates: number; timedOut: boolean };
  timings: StageTimings;
  /**
   * Present when a cross-encoder scored the request in stage 1 or stage 2: documents cut to its length
   * or max_tokens_per_doc, both stages' cuts added (stage 2's alone: `stage2.truncated`).
   */
  text?: { truncated: number };
  /** Stage 2 of the surface's cascade (the first arm's under an interleaving experiment); absent when the surface has none. */
  stage2?: Stage2Outcome;
  /** Under an interleaving experiment on a cascade surface: each arm's stage 2, keyed by variant key (`stage2` is the first arm's). */
  stage2Arms?: Record<string, Stage2Outcome>;
}
