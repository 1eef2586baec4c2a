import { procedureFor, router } from "../trpc";
import { createWebhookSchema, deliveriesSchema, rotateSecretSchema, updateWebhookSchema, webhookIdSchema } from "../webhooks/schema";
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks, rotateWebhookSecret, sendTestWebhook, updateWebhook } from "../webhooks/service";

// Settings → Webhooks: admins (settings.write) manage the endpoints and read the delivery log; only a
// signed-in one edits, disables, deletes or rotates (an API key gets 403: server/webhooks/service.ts).
export const webhooksRouter = router({
  list: procedureFor["settings.write"].query(({ ctx }) => listWebhooks(ctx.db)),
  /** Returns the signing secret once. */
  create: procedureFor["settings.write"].input(createWebhookSchema).mutation(({ ctx, input }) => createWebhook(ctx.db, input, ctx.actor)),
  update: procedureFor["settings.write"].input(updateWebhookSchema).mutation(({ ctx, input }) => updateWebhook(ctx.db, input, ctx.actor)),
  remove: procedureFor["settings.write"].input(webhookIdSchema).mutation(({ ctx, input }) => deleteWebhook(ctx.db, input, ctx.actor)),
  /** Returns the new signing secret once; `expectSecretId` names the secret it replaces (409 when stale). */
  rotateSecret: procedureFor["settings.write"].input(rotateSecretSchema).mutation(({ ctx, input }) => rotateWebhookSecret(ctx.db, input, ctx.actor)),
  sendTest: procedureFor["settings.write"].input(webhookIdSchema).mutation(({ ctx, input }) => sendTestWebhook(ctx.db, input, ctx.actor)),
  deliveries: procedureFor["settings.write"].input(deliveriesSchema).query(({ ctx, input }) => listDeliveries(ctx.db, input)),
});
