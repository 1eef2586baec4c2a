import { randomUUID } from "node:crypto";
import { env } from "../config";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import type { WebhookEventInput, WebhookEventKind } from "../domain/webhooks/events";
import { enqueueInTransaction } from "../jobs/tasks";

// notify(event): the one way the console raises a notification. The event is stored once and one
// delivery job per subscribed endpoint is queued (server/jobs), in the caller's transaction when
// there is one, so that a change and its notification commit or roll back together. The jobs
// deliver after the commit, each retried with backoff on its own (server/webhooks/deliver.ts).

type Tx = Pick<Prisma.TransactionClient, "$queryRaw" | "$executeRaw" | "webhookEndpoint">;

export type NotifyEvent = WebhookEventInput<WebhookEventKind> & {
  /**
   * The event's id (the webhook-id header). Give one to raise an event at most once: a second
   * notify with the same id does nothing (one sample-ratio alarm per experiment phase). Default: new.
   */
  id?: string;
};

export interface Notified {
  /** The stored event's id; null when no endpoint subscribes to the kind (nothing stored) or the id was raised before. */
  eventId: string | null;
  /** Delivery jobs queued: one per enabled endpoint subscribed to the kind. */
  deliveries: number;
}

/** A new event id: msg_ and 32 hex digits. */
export const newEventId = () => `msg_${randomUUID().replaceAll("-", "")}`;

/**
 * Raises `event` inside `tx`: stores it and queues a delivery job for each enabled endpoint that
 * subscribes to its kind. Nothing is stored when none does (an endpoint added later is not sent
 * older events). Call it beside recordAudit, in the transaction that makes the change.
 */
export async function notifyInTransaction(tx: Tx, event: NotifyEvent): Promise<Notified> {
  const endpoints = await tx.webhookEndpoint.findMany({ where: { enabled: true, eventKinds: { has: event.kind } }, select: { id: true } });
  if (endpoints.length === 0) return { eventId: null, deliveries: 0 };
  const id = event.id ?? newEventId();
  const stored = await storeEvent(tx, id, event);
  if (!stored) return { eventId: null, deliveries: 0 };
  for (const endpoint of endpoints) await queueDelivery(tx, endpoint.id, id, env().WEBHOOK_MAX_ATTEMPTS);
  return { eventId: id, deliveries: endpoints.length };
}

/** notifyInTransaction in a transaction of its own, for changes that are not made in one (the canary analysis). */
export async function notify(db: Db, event: NotifyEvent): Promise<Notified> {
  // Most events have no subscriber: one read, no transaction.
  if ((await db.webhookEndpoint.count({ where: { enabled: true, eventKinds: { has: event.kind } } })) === 0) return { eventId: null, deliveries: 0 };
  return db.$transaction((tx) => notifyInTransaction(tx, event));
}

/**
 * As notify, but a failure is logged instead of thrown: for callers whose change has already
 * committed and must not fail because of its notification.
 */
export async function notifyAfterCommit(db: Db, event: NotifyEvent, log: (line: string) => void = console.error): Promise<void> {
  try {
    await notify(db, event);
  } catch (error) {
    log(`[webhooks] ${event.kind} not queued: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** Stores the event; false when an event with this id exists already. */
export async function storeEvent(tx: Pick<Tx, "$executeRaw">, id: string, event: WebhookEventInput): Promise<boolean> {
  const data = JSON.stringify({ ...event.data, actor: event.actor, reason: event.reason ?? null });
  const inserted = await tx.$executeRaw`INSERT INTO webhook_events (id, kind, data) VALUES (${id}, ${event.kind}, ${data}::jsonb) ON CONFLICT (id) DO NOTHING`;
  return inserted > 0;
}

/**
 * Queues one delivery of a stored event to one endpoint; the job key makes a repeat a no-op while it
 * waits. One queue per endpoint: its deliveries go one at a time, in the order their events were
 * queued (a chat channel shows "moved v1 → v2" before the rollback's "moved v2 → v1"; with the job
 * queue's concurrency they could cross). A delivery waiting for its retry does not hold the
 * endpoint's later events back (graphile-worker unlocks the queue when a job fails).
 */
export function queueDelivery(tx: Pick<Tx, "$queryRaw">, endpointId: string, eventId: string, maxAttempts: number) {
  return enqueueInTransaction(tx, "webhook.deliver", { endpointId, eventId }, { jobKey: `webhook:${eventId}:${endpointId}`, jobKeyMode: "unsafe_dedupe", maxAttempts, queueName: `webhook:${endpointId}` });
}
