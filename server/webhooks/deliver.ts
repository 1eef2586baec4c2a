import { storableText } from "../validation";
import { Webhook } from "standardwebhooks";
import { env } from "../config";
import type { Db } from "../db/client";
import { slackBody, standardWebhookBody, TEST_EVENT_KIND, type WebhookEventFacts } from "../domain/webhooks/events";
import { retryDelayMs } from "../jobs/queue";
import type { JobContext } from "../jobs/runner";
import { postWebhook, type SendResult } from "./send";

// One delivery attempt of one event to one endpoint: the "webhook.deliver" job. It signs the body
// as the Standard Webhooks spec says (webhook-id: the event's id, the same on every attempt and
// every endpoint; webhook-timestamp: this attempt's time in Unix seconds; webhook-signature:
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under the endpoint's secret), posts it, writes a
// row of the delivery log, and throws when it failed so that the queue retries it with backoff.

/** Thrown to have the queue retry: the message names the endpoint and the failure, never its URL or secret. */
export class WebhookDeliveryFailed extends Error {
  readonly code = "WEBHOOK_DELIVERY_FAILED";
}

/** An event row as stored (data holds the kind's fields plus actor and reason) read back as facts. */
export function eventFacts(row: { id: string; kind: string; data: unknown; createdAt: Date }): WebhookEventFacts {
  const { actor, reason, ...data } = (row.data ?? {}) as Record<string, unknown>;
  return { id: row.id, kind: row.kind, data, actor: String(actor ?? "rerank-console"), reason: (reason as string | null) ?? null, occurredAt: row.createdAt } as WebhookEventFacts;
}

/** The body an endpoint of `format` receives for `event`, as sent (a JSON string). */
export function webhookBody(format: string, event: WebhookEventFacts): string {
  return JSON.stringify(format === "slack" ? slackBody(event, env().PUBLIC_URL ?? null) : standardWebhookBody(event));
}

/** The three Standard Webhooks headers for `body`, signed at `at` with `secret` (whsec_…). */
export function signatureHeaders(secret: string, eventId: string, at: Date, body: string): Record<string, string> {
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(eventId, at, body),
  };
}

/**
 * Runs one attempt. An endpoint deleted since is skipped; a disabled one gets a log row saying it
 * was not sent (test events are sent anyway: "Send test" works before enabling). @throws
 * WebhookDeliveryFailed after logging a failed attempt that has retries left, so that the queue
 * retries it.
 */
export async function deliverWebhook(db: Db, payload: { endpointId: string; eventId: string }, job: Pick<JobContext, "attempt" | "maxAttempts">): Promise<void> {
  const [endpoint, event] = await Promise.all([
    db.webhookEndpoint.findUnique({ where: { id: payload.endpointId } }),
    db.webhookEvent.findUnique({ where: { id: payload.eventId } }),
  ]);
  if (!endpoint || !event) return;
  const log = (result: Omit<SendResult, "ok">, nextRetryAt: Date | null) =>
    db.webhookDelivery.create({
      data: {
        endpointId: endpoint.id, eventId: event.id, attempt: job.attempt, status: result.status, latencyMs: result.latencyMs,
        // What the receiver said is logged as it came, but storable (a NUL or a lone surrogate in its body must not fail the log row and retry a delivered event).
        error: result.error === null ? null : storableText(result.error), responseBody: result.body === null ? null : storableText(result.body), nextRetryAt,
      },
    });
  if (!endpoint.enabled && event.kind !== TEST_EVENT_KIND) {
    await log({ status: null, latencyMs: 0, body: null, error: "not sent: the endpoint is disabled" }, null);
    return;
  }
  const facts = eventFacts(event);
  const body = webhookBody(endpoint.format, facts);
  const config = env();
  const result = await postWebhook(endpoint.url, body, signatureHeaders(endpoint.secret, event.id, new Date(), body), {
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    allowPrivate: config.WEBHOOK_PRIVATE_ADDRESSES === "allow",
  });
  const retries = !result.ok && job.attempt < job.maxAttempts;
  await log(result, retries ? new Date(Date.now() + retryDelayMs(job.attempt)) : null);
  // The last failed attempt is only logged: the job ends there instead of waiting in the queue as failed.
  if (retries) throw new WebhookDeliveryFailed(`webhook "${endpoint.name}" (${event.kind}, attempt ${job.attempt} of ${job.maxAttempts}): ${result.error}`);
}
