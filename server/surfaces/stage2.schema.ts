import { z } from "zod";
import { aliasNameSchema, modelNameSchema } from "../registry/schema";
import { int32 } from "../validation";

// Stage 2 of a surface's cascade: a heavier model (a cross-encoder, or a larger tree ensemble) that
// rescores the top `rerankCount` of stage 1's order within `budgetMs` (server/rerank/stage2.ts).
// Validated when written and when read back; stored in surfaces.stage2.

/** Most candidates stage 2 may rescore: a request carries at most 1,000. */
export const MAX_RERANK_COUNT = 1000;
/** Longest budget stage 2 may be given, in ms: a cascade serves interactive requests. */
export const MAX_STAGE2_BUDGET_MS = 10_000;

export const stage2ConfigSchema = z.strictObject({
  /** A registry model's name (any model, not only the surface's). */
  model: modelNameSchema,
  /** The alias of that model whose version rescores. */
  alias: aliasNameSchema,
  rerankCount: int32(1, MAX_RERANK_COUNT),
  budgetMs: int32(1, MAX_STAGE2_BUDGET_MS),
});

export type Stage2Config = z.infer<typeof stage2ConfigSchema>;
