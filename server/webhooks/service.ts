import { randomBytes } from "node:crypto";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { env } from "../config";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { TEST_EVENT_KIND } from "../domain/webhooks/events";
import { maskWebhookUrl } from "../domain/webhooks/url";
import { InvalidInputError, NotFoundError } from "../errors";
import { literalHost, refusedAddress } from "./address";
import { newEventId, queueDelivery, storeEvent } from "./notify";
import type { CreateWebhookInput, UpdateWebhookInput } from "./schema";

// Settings → Webhooks: endpoints (added, edited, disabled, deleted, their secret rotated; each
// change audited), "Send test", and the delivery log. The signing secret is returned once, by
// create and rotate, and never again: lists carry the URL masked and no secret.

/** A new signing secret: whsec_ and base64 of 32 random bytes (the Standard Webhooks format). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

type EndpointRow = { id: string; name: string; url: string; format: string; eventKinds: string[]; enabled: boolean };

/** What the audit trail records of an endpoint: never its secret, its URL masked. */
const auditFacts = (e: EndpointRow) => ({ name: e.name, url: maskWebhookUrl(e.url), format: e.format, eventKinds: e.eventKinds, enabled: e.enabled });

/** A literal address that deliveries would refuse is refused when saved (names are checked at delivery). */
function checkAddress(url: string) {
  const literal = literalHost(new URL(url));
  const refused = literal ? refusedAddress(literal, env().WEBHOOK_PRIVATE_ADDRESSES === "allow") : null;
  if (refused) throw new InvalidInputError("url", `${literal} is ${refused}: webhooks are not sent there`);
}

async function endpointOr404(db: Pick<Db, "webhookEndpoint">, id: string) {
  const endpoint = await db.webhookEndpoint.findUnique({ where: { id } });
  if (!endpoint) throw new NotFoundError("webhook", id);
  return endpoint;
}

/** Endpoints, newest first, with their URL masked and their latest delivery attempt. */
export async function listWebhooks(db: Db) {
  const endpoints = await db.webhookEndpoint.findMany({
    orderBy: { createdAt: "desc" },
    include: { deliveries: { orderBy: { id: "desc" }, take: 1, select: { createdAt: true, status: true, error: true } } },
  });
  return endpoints.map((e) => ({
    id: e.id, name: e.name, url: maskWebhookUrl(e.url), format: e.format, eventKinds: e.eventKinds, enabled: e.enabled,
    createdBy: e.createdBy, createdAt: e.createdAt, updatedAt: e.updatedAt, lastDelivery: e.deliveries[0] ?? null,
  }));
}

/** Adds an endpoint. @returns its id and its signing secret, shown this once. */
export async function createWebhook(db: Db, input: CreateWebhookInput, actor: Actor) {
  checkAddress(input.url);
  const secret = newSigningSecret();
  const endpoint = await db.$transaction(async (tx) => {
    const created = await tx.webhookEndpoint.create({ data: { ...input, secret, createdBy: actor.name } });
    await recordAudit(tx, { action: "webhook.create", actor, subject: subjects.webhook(created.id, created.name), after: auditFacts(created) });
    return created;
  });
  return { id: endpoint.id, name: endpoint.name, secret };
}

/** Changes the fields given; enabled: false disables (nothing is sent until enabled again). */
export async function updateWebhook(db: Db, input: UpdateWebhookInput, actor: Actor) {
  const { id, ...changes } = input;
  if (changes.url !== undefined) checkAddress(changes.url);
  return db.$transaction(async (tx) => {
    const before = await endpointOr404(tx, id);
    const after = await tx.webhookEndpoint.update({ where: { id }, data: { ...changes, updatedAt: new Date() } });
    // The URLs are masked to their host: say that it changed, or a redirect to another topic on the same host reads as nothing.
    await recordAudit(tx, { action: "webhook.update", actor, subject: subjects.webhook(id, after.name), before: auditFacts(before), after: { ...auditFacts(after), ...(after.url !== before.url ? { urlChanged: true } : {}) } });
    return { id, name: after.name, enabled: after.enabled };
  });
}

/** Deletes an endpoint with its delivery log; deliveries still queued for it are skipped. */
export async function deleteWebhook(db: Db, input: { id: string }, actor: Actor) {
  return db.$transaction(async (tx) => {
    const before = await endpointOr404(tx, input.id);
    await tx.webhookEndpoint.delete({ where: { id: input.id } });
    await recordAudit(tx, { action: "webhook.delete", actor, subject: subjects.webhook(before.id, before.name), before: auditFacts(before) });
    return { id: before.id, name: before.name };
  });
}

/** Replaces the signing secret (deliveries from now on use the new one). @returns it, shown this once. */
export async function rotateWebhookSecret(db: Db, input: { id: string }, actor: Actor) {
  const secret = newSigningSecret();
  await db.$transaction(async (tx) => {
    const endpoint = await endpointOr404(tx, input.id);
    await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { secret, updatedAt: new Date() } });
    await recordAudit(tx, { action: "webhook.rotate_secret", actor, subject: subjects.webhook(endpoint.id, endpoint.name) });
  });
  return { id: input.id, secret };
}

/**
 * Sends a `webhook.test` event to one endpoint (enabled or not), once, without retries: its
 * attempt appears in the delivery log within moments. @returns the event's id.
 */
export async function sendTestWebhook(db: Db, input: { id: string }, actor: Actor) {
  return db.$transaction(async (tx) => {
    const endpoint = await endpointOr404(tx, input.id);
    const eventId = newEventId();
    await storeEvent(tx, eventId, { kind: TEST_EVENT_KIND, data: { endpoint: endpoint.name }, actor: actor.name, reason: null });
    await queueDelivery(tx, endpoint.id, eventId, 1);
    await recordAudit(tx, { action: "webhook.test", actor, subject: subjects.webhook(endpoint.id, endpoint.name), after: { eventId } });
    return { eventId };
  });
}

/** The delivery log, newest attempt first: of one endpoint, or of all. */
export async function listDeliveries(db: Db, input: { endpointId?: string; limit: number }) {
  const rows = await db.webhookDelivery.findMany({
    where: input.endpointId ? { endpointId: input.endpointId } : {},
    orderBy: { id: "desc" },
    take: input.limit,
    include: { endpoint: { select: { id: true, name: true } }, event: { select: { kind: true } } },
  });
  return rows.map((r) => ({
    id: r.id.toString(), at: r.createdAt, eventId: r.eventId, eventKind: r.event.kind, endpoint: r.endpoint, attempt: r.attempt,
    status: r.status, latencyMs: r.latencyMs, error: r.error, responseBody: r.responseBody, nextRetryAt: r.nextRetryAt,
  }));
}
