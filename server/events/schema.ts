import { z } from "zod";
import { int32, isoInstantText, items, revenue, text } from "../validation";

export const outcomeEventSchema = z.strictObject({
  eventId: text(128, 1),
  requestId: text(128, 1),
  type: z.enum(["impression", "click", "add_to_cart", "purchase"]),
  itemId: text(256, 1),
  position: int32(1).optional(),
  revenue: revenue().optional(),
  ts: isoInstantText().optional(),
});

export const outcomeBatchSchema = z.strictObject({
  // items(): checking stops after the first 20 issues (1,000 wrong events answered 1 MB).
  events: items(outcomeEventSchema, { min: 1, max: 1000, tooMany: "at most 1000 events per call" }),
});

export type OutcomeEventInput = z.infer<typeof outcomeEventSchema>;
export type OutcomeBatch = z.infer<typeof outcomeBatchSchema>;
