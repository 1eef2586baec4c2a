import { z } from "zod";
import { text } from "../validation";

export const outcomeEventSchema = z.strictObject({
  eventId: text().min(1).max(128),
  requestId: text().min(1).max(128),
  type: z.enum(["impression", "click", "add_to_cart", "purchase"]),
  itemId: text().min(1).max(256),
  position: z.number().int().min(1).optional(),
  revenue: z.number().min(0).optional(),
  ts: z.iso.datetime({ offset: true }).optional(),
});

export const outcomeBatchSchema = z.strictObject({
  events: z.array(outcomeEventSchema).min(1).max(1000, "at most 1000 events per call"),
});

export type OutcomeEventInput = z.infer<typeof outcomeEventSchema>;
export type OutcomeBatch = z.infer<typeof outcomeBatchSchema>;
