import { z } from "zod";
import type { ConstraintConfig } from "../domain/constraints/applyConstraints";

// The declarative constraints of a surface (and of an experiment variant's overrides), validated
// when written and when read back.

const attribute = z.enum(["category", "providerGroup", "brand"]);

export const constraintConfigSchema = z.strictObject({
  blockedFlags: z.array(z.string().min(1)).optional(),
  blockedIds: z.array(z.string().min(1)).optional(),
  pins: z.array(z.strictObject({ id: z.string().min(1), position: z.number().int().min(1) })).optional(),
  boosts: z
    .array(z.strictObject({ field: z.enum(["id", "category", "providerGroup", "brand"]), value: z.string(), multiplier: z.number().positive().optional(), add: z.number().optional() }))
    .optional(),
  maxPerCategory: z.strictObject({ limit: z.number().int().min(1), withinTop: z.number().int().min(1) }).optional(),
  diversity: z.strictObject({ lambda: z.number().min(0).max(1), field: attribute, withinTop: z.number().int().min(1).optional() }).optional(),
  exposureFloors: z
    .array(z.strictObject({ field: attribute, group: z.string().min(1), minShare: z.number().gt(0).max(1), withinTop: z.number().int().min(1) }))
    .optional(),
}) satisfies z.ZodType<ConstraintConfig>;

/** Variant overrides replace whole keys of the surface's constraints. */
export function mergeConstraints(base: ConstraintConfig, overrides: ConstraintConfig | undefined): ConstraintConfig {
  return overrides ? { ...base, ...overrides } : base;
}
