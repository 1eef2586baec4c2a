import { LEVER_TRANSACTION } from "../db/leverTransaction";
import { createHash, randomBytes } from "node:crypto";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { env } from "../config";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { TEST_EVENT_KIND } from "../domain/webhooks/events";
import { maskWebhookUrl } from "../domain/webhooks/url";
import { changedSince } from "../domain/changedSince";
import { keyedHash } from "../redact";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { literalHost, refusedAddress } from "./address";
import { requirePerson } from "../auth/principal";
import { newEventId, queueDelivery, storeEvent } from "./notify";
import type { CreateWebhookInput, RotateSecretInput, ShownWebhook, UpdateWebhookInput } from "./schema";

// Settings → Webhooks: endpoints (added, edited, disabled, deleted, their secret rotated; each
// change audited), "Send test", and the delivery log. The signing secret is returned once, by
// create and rotate, and never again: lists carry the URL masked and no secret.
// Only a signed-in person silences or redirects the endpoints (edit, disable, delete, rotate): a
// leaked automation key with the admin role must not be able to blind on-call's notifications, as
// it may not revoke serving keys (server/auth/service.ts actingUserId).

/** A new signing secret: whsec_ and base64 of 32 random bytes (the Standard Webhooks format). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

type EndpointRow = { id: string; name: string; url: string; format: string; eventKinds: string[]; enabled: boolean };

/**
 * Names the endpoint's current signing secret without revealing it: 16 hex digits of its SHA-256
 * (the secret is 32 random bytes, so this says nothing of it). Lists carry it, and a rotation names
 * the secret it replaces with it (`expectSecretId`).
 */
export const secretIdOf = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 16);

/**
 * Names the endpoint's whole URL without revealing it: 16 hex digits of its keyed hash (HMAC-SHA256
 * under the deployment's secret: keyedHash). Lists carry it beside the masked URL, and an edit dialog
 * sends it back (`expectBefore.urlId`), so a change of the URL's path or query since the dialog opened,
 * which the masked form (host only) hides, is seen. Keyed, not a plain SHA-256 as secretIdOf: a URL's
 * secret part may be guessable (an ntfy topic "ops-alerts"), and a plain hash would let anyone who
 * reads the list test guesses offline.
 */
export const webhookUrlId = (url: string) => keyedHash(`webhook-url\u0000${url}`).slice(0, 16);


/** Whether a field given to an edit is what the endpoint has: the event kinds as a set (their order means nothing). */
const sameField = (given: unknown, stored: unknown) =>
  Array.isArray(given) && Array.isArray(stored) ? JSON.stringify([...given].sort()) === JSON.stringify([...stored].sort()) : given === stored;

/** The endpoint's row, locked until the transaction ends: changes of one endpoint take turns, and each reads what the one before left. */
async function lockedEndpointOr404(tx: Prisma.TransactionClient, id: string) {
  await tx.$queryRaw`SELECT id FROM webhook_endpoints WHERE id = ${id} FOR UPDATE`;
  return endpointOr404(tx, id);
}

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

/** Endpoints, newest first, with their URL masked and its id (webhookUrlId), their secret's id (secretIdOf, never the secret) and their latest delivery attempt. */
export async function listWebhooks(db: Db) {
  const endpoints = await db.webhookEndpoint.findMany({
    orderBy: { createdAt: "desc" },
    include: { deliveries: { orderBy: { id: "desc" }, take: 1, select: { createdAt: true, status: true, error: true } } },
  });
  return endpoints.map((e) => ({
    id: e.id, name: e.name, url: maskWebhookUrl(e.url), urlId: webhookUrlId(e.url), format: e.format, eventKinds: e.eventKinds, enabled: e.enabled, secretId: secretIdOf(e.secret),
    createdBy: e.createdBy, createdAt: e.createdAt, updatedAt: e.updatedAt, lastDelivery: e.deliveries[0] ?? null,
  }));
}

/**
 * Adds an endpoint. A signed-in person only, as for editing or removing one (a leaked automation key
 * could add a feed of production events to its own address that only a person could take back).
 * @returns its id, its signing secret (shown this once) and the secret's id.
 * @throws ForbiddenError for an API key.
 */
export async function createWebhook(db: Db, input: CreateWebhookInput, actor: Actor) {
  requirePerson(actor, "add a webhook");
  checkAddress(input.url);
  const secret = newSigningSecret();
  const endpoint = await db.$transaction(async (tx) => {
    const created = await tx.webhookEndpoint.create({ data: { ...input, secret, createdBy: actor.name } });
    await recordAudit(tx, { action: "webhook.create", actor, subject: subjects.webhook(created.id, created.name), after: auditFacts(created) });
    return created;
  }, LEVER_TRANSACTION);
  return { id: endpoint.id, name: endpoint.name, secret, secretId: secretIdOf(secret) };
}

/**
 * Why an edit made from a dialog that showed `shown` must not apply over the endpoint as it is now,
 * naming each field that changed; null when none did (the URL compared by its id, webhookUrlId, so a
 * new path or query on the same host counts, and named as the list shows it, masked; the event kinds
 * as a set).
 */
export function webhookChangedSince(shown: ShownWebhook, now: EndpointRow): string | null {
  const onOff = (b: boolean) => (b ? "on" : "off");
  const kinds = (k: string[]) => [...k].sort().join(", ");
  const masked = maskWebhookUrl(now.url);
  const fields = [
    shown.name !== now.name && { field: "name", shown: `"${shown.name}"`, now: `"${now.name}"` },
    (shown.urlId !== webhookUrlId(now.url) || shown.url !== masked) && { field: "URL", shown: shown.url, now: shown.url === masked ? `${masked} with another path or query` : masked },
    shown.format !== now.format && { field: "format", shown: shown.format, now: now.format },
    !sameField(shown.eventKinds, now.eventKinds) && { field: "events", shown: kinds(shown.eventKinds), now: kinds(now.eventKinds) },
    shown.enabled !== now.enabled && { field: "enabled", shown: onOff(shown.enabled), now: onOff(now.enabled) },
  ].filter((c) => c !== false);
  return fields.length ? changedSince({ what: `webhook "${now.name}"`, change: { fields }, since: "shown" }) : null;
}

/**
 * Changes the fields given; enabled: false disables (nothing is sent until enabled again). A person
 * only (ForbiddenError for an API key). An edit that changes nothing (every field given as it is
 * already) writes nothing: no audit entry. `expectBefore` (the endpoint as the edit dialog showed it):
 * compared under the endpoint's lock; when anything of it changed meanwhile (someone switched it off,
 * renamed it, changed its events), nothing is written or audited. Absent: not pinned (the Enabled switch).
 * @returns { id, name, enabled, changed }.
 * @throws NotFoundError; InvalidInputError("url") for a refused address; ConflictError (409) naming
 *   what changed since `expectBefore`.
 */
export async function updateWebhook(db: Db, input: UpdateWebhookInput, actor: Actor) {
  requirePerson(actor);
  const { id, expectBefore, ...changes } = input;
  if (changes.url !== undefined) checkAddress(changes.url);
  return db.$transaction(async (tx) => {
    const before = await lockedEndpointOr404(tx, id);
    const stale = expectBefore ? webhookChangedSince(expectBefore, before) : null;
    if (stale) throw new ConflictError(stale);
    const differs = (Object.keys(changes) as Array<keyof typeof changes>).some((k) => changes[k] !== undefined && !sameField(changes[k], before[k]));
    if (!differs) return { id, name: before.name, enabled: before.enabled, changed: false };
    const after = await tx.webhookEndpoint.update({ where: { id }, data: { ...changes, updatedAt: new Date() } });
    // The URLs are masked to their host: say that it changed, or a redirect to another topic on the same host reads as nothing.
    await recordAudit(tx, { action: "webhook.update", actor, subject: subjects.webhook(id, after.name), before: auditFacts(before), after: { ...auditFacts(after), ...(after.url !== before.url ? { urlChanged: true } : {}) } });
    return { id, name: after.name, enabled: after.enabled, changed: true };
  }, LEVER_TRANSACTION);
}

/** Deletes an endpoint with its delivery log; deliveries still queued for it are skipped. A person only (ForbiddenError for an API key). */
export async function deleteWebhook(db: Db, input: { id: string }, actor: Actor) {
  requirePerson(actor);
  return db.$transaction(async (tx) => {
    const before = await lockedEndpointOr404(tx, input.id);
    await tx.webhookEndpoint.delete({ where: { id: input.id } });
    await recordAudit(tx, { action: "webhook.delete", actor, subject: subjects.webhook(before.id, before.name), before: auditFacts(before) });
    return { id: before.id, name: before.name };
  }, LEVER_TRANSACTION);
}

/**
 * Replaces the signing secret (deliveries from now on use the new one). A person only (ForbiddenError
 * for an API key). `expectSecretId`: the id of the secret the caller means to replace (secretIdOf, from
 * the list); checked under the endpoint's lock, so of two presses from one page (a double click) one
 * rotates and the other is refused (ConflictError, 409) instead of returning a secret that the first
 * press's, or its own, was immediately replaced by: every secret returned is the one stored.
 * @returns { id, secret, secretId }: the new secret, shown this once.
 */
export async function rotateWebhookSecret(db: Db, input: RotateSecretInput, actor: Actor) {
  requirePerson(actor);
  const secret = newSigningSecret();
  await db.$transaction(async (tx) => {
    const endpoint = await lockedEndpointOr404(tx, input.id);
    if (secretIdOf(endpoint.secret) !== input.expectSecretId) {
      const last = await tx.auditLog.findFirst({ where: { action: "webhook.rotate_secret", entityId: endpoint.id }, orderBy: { id: "desc" }, select: { actor: true, ts: true } });
      const by = last ? ` (rotated by ${last.actor} at ${last.ts.toISOString()})` : "";
      throw new ConflictError(`expectSecretId: the signing secret of ${endpoint.name} is no longer the one you meant to replace${by}; it was not rotated again. Whoever rotated it holds the secret in use; reload and rotate again if you need a new one`);
    }
    await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { secret, updatedAt: new Date() } });
    await recordAudit(tx, { action: "webhook.rotate_secret", actor, subject: subjects.webhook(endpoint.id, endpoint.name) });
  }, LEVER_TRANSACTION);
  return { id: input.id, secret, secretId: secretIdOf(secret) };
}

/**
 * Sends a `webhook.test` event to one endpoint (enabled or not), once, without retries: its
 * attempt appears in the delivery log within moments. A signed-in person only.
 * @returns the event's id. @throws ForbiddenError for an API key.
 */
export async function sendTestWebhook(db: Db, input: { id: string }, actor: Actor) {
  requirePerson(actor, "send a webhook test");
  return db.$transaction(async (tx) => {
    const endpoint = await endpointOr404(tx, input.id);
    const eventId = newEventId();
    await storeEvent(tx, eventId, { kind: TEST_EVENT_KIND, data: { endpoint: endpoint.name }, actor: actor.name, reason: null });
    await queueDelivery(tx, endpoint.id, eventId, 1);
    await recordAudit(tx, { action: "webhook.test", actor, subject: subjects.webhook(endpoint.id, endpoint.name), after: { eventId } });
    return { eventId };
  }, LEVER_TRANSACTION);
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
