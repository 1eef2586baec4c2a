import { z } from "zod";
import { WEBHOOK_EVENT_KIND_NAMES, WEBHOOK_FORMATS, type WebhookFormat } from "../domain/webhooks/events";
import { webhookUrlProblem } from "../domain/webhooks/url";
import { idString, text } from "../validation";

// Inputs of the webhook procedures (Settings → Webhooks): one schema each, errors naming the field.

const id = idString();
const name = text(100).trim().min(1, "give the endpoint a name");
const url = text(2048).trim().superRefine((raw, ctx) => {
  const problem = webhookUrlProblem(raw);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const format = z.enum(Object.keys(WEBHOOK_FORMATS) as [WebhookFormat, ...WebhookFormat[]]);
const eventKinds = z.array(z.enum(WEBHOOK_EVENT_KIND_NAMES as [string, ...string[]])).min(1, "choose at least one event kind").max(WEBHOOK_EVENT_KIND_NAMES.length)
  .transform((kinds) => [...new Set(kinds)]);

export const createWebhookSchema = z.strictObject({ name, url, format, eventKinds, enabled: z.boolean().default(true) });

/**
 * The endpoint as an edit dialog showed it (its URL as the list shows it, masked, and the URL's id,
 * `urlId`, from the list: the whole URL is never sent to the page): an edit pinned to it applies only
 * while the endpoint is still so.
 */
export const shownWebhookSchema = z.strictObject({
  name, url: text(2048).trim().min(1, "give the URL as the list shows it (masked)"),
  urlId: text(64).trim().min(1, "give the URL's id as the list names it (urlId)"), format, eventKinds, enabled: z.boolean(),
});

/**
 * Fields left out stay as they are (the URL is shown masked, so the form leaves it out unless retyped).
 * `expectBefore`: the endpoint as the edit dialog showed it; when any of it changed meanwhile, nothing
 * is written (409 naming what changed). Absent: not pinned (the Enabled switch, scripts).
 */
export const updateWebhookSchema = z.strictObject({
  id,
  name: name.optional(),
  url: url.optional(),
  format: format.optional(),
  eventKinds: eventKinds.optional(),
  enabled: z.boolean().optional(),
  expectBefore: shownWebhookSchema.optional(),
});

export const webhookIdSchema = z.strictObject({ id });

/** `expectSecretId`: the secret the caller means to replace, as the list names it (secretId): a stale one is a 409, nothing rotates. */
export const rotateSecretSchema = z.strictObject({ id, expectSecretId: text(64).trim().min(1, "give the id of the secret to replace (secretId, from the list)") });

export const deliveriesSchema = z.strictObject({
  endpointId: id.optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;
export type UpdateWebhookInput = z.infer<typeof updateWebhookSchema>;
export type ShownWebhook = z.infer<typeof shownWebhookSchema>;
export type RotateSecretInput = z.infer<typeof rotateSecretSchema>;
