import { z } from "zod";
import type { ConstraintConfig } from "../domain/constraints/applyConstraints";
import { decimal, float32, int32, text } from "../validation";

// The declarative constraints of a surface (and of an experiment variant's overrides), validated
// when written and when read back.

const attribute = z.enum(["category", "providerGroup", "brand"]);
/** Positions and windows count served items: at most the 1,000 candidates a request may carry. */
const MAX_POSITION = 1000;

export const constraintConfigSchema = z.strictObject({
  blockedFlags: z.array(text(64, 1)).max(100).optional(),
  blockedIds: z.array(text(256, 1)).max(100_000).optional(),
  pins: z.array(z.strictObject({ id: text(256, 1), position: int32(1, MAX_POSITION) })).max(100).optional(),
  // Boosts end in float32 scores: a multiplier or addend past float32 would turn scores into ±Infinity.
  boosts: z
    .array(z.strictObject({ field: z.enum(["id", "category", "providerGroup", "brand"]), value: text(256), multiplier: decimal(0, 1e6).positive().optional(), add: float32().min(-1e6).max(1e6).optional() }))
    .max(100)
    .optional(),
  maxPerCategory: z.strictObject({ limit: int32(1, MAX_POSITION), withinTop: int32(1, MAX_POSITION) }).optional(),
  diversity: z.strictObject({ lambda: decimal(0, 1), field: attribute, withinTop: int32(1, MAX_POSITION).optional() }).optional(),
  exposureFloors: z
    .array(z.strictObject({ field: attribute, group: text(256, 1), minShare: decimal(0, 1).gt(0), withinTop: int32(1, MAX_POSITION) }))
    .max(50)
    .optional(),
}) satisfies z.ZodType<ConstraintConfig>;

/** Variant overrides replace whole keys of the surface's constraints. */
export function mergeConstraints(base: ConstraintConfig, overrides: ConstraintConfig | undefined): ConstraintConfig {
  return overrides ? { ...base, ...overrides } : base;
}
