import { z } from "zod";
import { aliasNameSchema } from "../registry/schema";
import { reasonSchema } from "../validation";

// The three production changes a surface can require a second person for, as stored on a change
// request and applied on approval. One schema: the direct mutations take the same shapes.

const surfaceKey = z.string().min(1).max(100);
const reason = reasonSchema;

export const startRolloutSchema = z.strictObject({
  surface: surfaceKey,
  version: z.number().int().min(1),
  steps: z.array(z.number()).min(1).max(10).optional(),
  minRequests: z.number().int().min(10).max(1_000_000).optional(),
  minImpressions: z.number().int().min(10).max(100_000_000).optional(),
  maxLatencyIncrease: z.number().min(0).max(100).optional(),
  /** Older name of maxLatencyIncrease (stored change requests use it). */
  maxP99Increase: z.number().min(0).max(100).optional(),
  maxFallbackRateIncrease: z.number().min(0).max(1).optional(),
  maxCtrDecrease: z.number().min(0).max(1).optional(),
  reason: z.string().max(500).optional(),
});

export const changePayloadSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("alias_move"), versionId: z.string().min(1).max(100), alias: aliasNameSchema }),
  z.strictObject({ kind: z.literal("canary_start"), rollout: startRolloutSchema.omit({ reason: true }) }),
  z.strictObject({ kind: z.literal("experiment_start"), key: z.string().min(1).max(63) }),
  z.strictObject({ kind: z.literal("experiment_ship"), key: z.string().min(1).max(63), variant: z.string().min(1).max(63), override: z.boolean().optional() }),
]);
export type ChangePayload = z.infer<typeof changePayloadSchema>;

export const requestChangeSchema = z.strictObject({ change: changePayloadSchema, reason });
export const decideChangeSchema = z.strictObject({ id: z.string().min(1).max(100), approve: z.boolean(), comment: z.string().trim().max(500).default("") });
export const cancelChangeSchema = z.strictObject({ id: z.string().min(1).max(100) });
export const listChangesSchema = z.strictObject({
  status: z.enum(["pending", "applied", "rejected", "cancelled", "failed"]).optional(),
  surface: surfaceKey.optional(),
  limit: z.number().int().min(1).max(200).default(50),
});
export const setApprovalSchema = z.strictObject({ surface: surfaceKey, required: z.boolean(), reason });
