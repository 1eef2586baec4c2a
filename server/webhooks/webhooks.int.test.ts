import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { HANDLERS } from "../jobs/handlers";
import { startJobRunner, type JobRunner } from "../jobs/runner";
import { TASKS } from "../jobs/tasks";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { waitFor } from "../testing/tcpProxy";
import { notify, notifyInTransaction } from "./notify";

// Webhooks end to end on real PostgreSQL and the real job queue: a lever commits, its event is
// delivered to a local node:http receiver, signed as Standard Webhooks says (checked with the
// standardwebhooks library's own verify), retried with backoff after the receiver answers 500, and
// every attempt is in the delivery log.

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers the statuses queued in `answers` (then 200), recording every request. */
function startReceiver() {
  const received: Received[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      const status = answers.shift() ?? 200;
      // A long body: the log keeps its first 1,000 characters.
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : `down for maintenance ${"x".repeat(5000)}`);
    });
  });
  return {
    received,
    answers,
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const admin = () => callerAs(["admin"], "admin@rerank.local");
const oncall = () => callerAs(["oncall"], "oncall@rerank.local");
const receiver = startReceiver();
let base: string;
let runner: JobRunner;

const verify = (secret: string, r: Received) =>
  new Webhook(secret).verify(r.body, { "webhook-id": r.headers["webhook-id"]!, "webhook-timestamp": r.headers["webhook-timestamp"]!, "webhook-signature": r.headers["webhook-signature"]! });

beforeAll(async () => {
  base = await receiver.listen();
  await createTestSurface(getDb(), { key: "t-hooks", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity") });
  runner = await startJobRunner({ connectionString: databaseUrl(), tasks: TASKS, handlers: HANDLERS, concurrency: 2, pollIntervalMs: 200, log: () => {} });
}, 120_000);

afterAll(async () => {
  await runner?.stop(2000);
  await receiver.close();
  // Other test files raise events too: leave no endpoint subscribed to them.
  await getDb().webhookEndpoint.deleteMany({});
  setEnv("WEBHOOK_PRIVATE_ADDRESSES", undefined);
});

describe("webhooks", () => {
  let ops: { id: string; secret: string };

  it("adds an endpoint (admins only), shows its secret once, masks its URL, audits without the secret", async () => {
    await expect(oncall().webhooks.create({ name: "x", url: `${base}/x`, format: "standard", eventKinds: ["rollback"] })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const created = await admin().webhooks.create({ name: "ops", url: `${base}/hooks/ops?token=abc`, format: "standard", eventKinds: ["kill_switch", "rollback"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    ops = { id: created.id, secret: created.secret };
    const listed = await admin().webhooks.list();
    expect(listed.find((e) => e.id === ops.id)).toMatchObject({ name: "ops", url: `${base}/…`, format: "standard", eventKinds: ["kill_switch", "rollback"], enabled: true, createdBy: "admin@rerank.local" });
    expect(JSON.stringify(listed)).not.toContain(ops.secret.slice(6));
    expect(JSON.stringify(listed)).not.toContain("token=abc");
    const audit = await getDb().auditLog.findFirstOrThrow({ where: { action: "webhook.create", entityId: ops.id } });
    expect(audit).toMatchObject({ actor: "admin@rerank.local", entityType: "webhook", subjectLabel: "ops", after: { name: "ops", url: `${base}/…`, format: "standard", eventKinds: ["kill_switch", "rollback"], enabled: true } });
    expect(JSON.stringify(audit.after)).not.toContain(ops.secret.slice(6));
  });

  it("refuses bad endpoints with a 400 naming the field", async () => {
    const bad = (input: Record<string, unknown>) => admin().webhooks.create({ name: "bad", url: `${base}/x`, format: "standard", eventKinds: ["rollback"], ...input } as never);
    await expect(bad({ url: "ftp://files.example.com/hook" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "url: must start with http:// or https://, not ftp://" });
    await expect(bad({ url: "hooks.example.com" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "url: must be an absolute URL such as https://hooks.example.com/rerank" });
    await expect(bad({ eventKinds: [] })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "eventKinds: choose at least one event kind" });
    await expect(bad({ eventKinds: ["canary.exploded"] })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^eventKinds\[0\]: /) });
    await expect(bad({ format: "xml" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^format: /) });
    // Cloud metadata is never a webhook target.
    await expect(bad({ url: "http://169.254.169.254/latest/meta-data" })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: "url: 169.254.169.254 is a link-local, metadata, unspecified, multicast or reserved address: webhooks are not sent there",
    });
    expect(await getDb().webhookEndpoint.count({ where: { name: "bad" } })).toBe(0);
  });

  it("delivers a kill switch signed per Standard Webhooks, retrying with backoff after the receiver answers 500 twice", async () => {
    receiver.answers.push(500, 500);
    const before = receiver.received.length;
    await oncall().oncall.killSwitch({ surface: "t-hooks", on: true, reason: "latency spike, INC-7" });
    await waitFor(async () => receiver.received.length >= before + 3 && (await getDb().webhookDelivery.count({ where: { endpointId: ops.id } })) >= 3, "three attempts", 60_000);
    const attempts = receiver.received.slice(before);
    expect(attempts).toHaveLength(3);
    for (const r of attempts) {
      expect(r.path).toBe("/hooks/ops?token=abc");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(verify(ops.secret, r)).toEqual({
        type: "kill_switch",
        timestamp: expect.any(String),
        data: { surface: "t-hooks", on: true, actor: "oncall@rerank.local", reason: "latency spike, INC-7" },
      });
    }
    // One message: the same id on every attempt; each attempt signs its own timestamp.
    expect(new Set(attempts.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(attempts[0]!.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
    const stamps = attempts.map((r) => Number(r.headers["webhook-timestamp"]));
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(2); // exp(1) s of backoff, in whole seconds
    // A signature under another secret, or of another body, does not verify.
    expect(() => verify("whsec_" + Buffer.alloc(32, 1).toString("base64"), attempts[0]!)).toThrow();
    expect(() => verify(ops.secret, { ...attempts[0]!, body: attempts[0]!.body.replace("INC-7", "INC-8") })).toThrow();

    const log = (await admin().webhooks.deliveries({ endpointId: ops.id, limit: 10 })).filter((d) => d.eventKind === "kill_switch");
    expect(log.map((d) => [d.attempt, d.status, d.error])).toEqual([[3, 200, null], [2, 500, "answered 500"], [1, 500, "answered 500"]]);
    expect(log.map((d) => d.endpoint.name)).toEqual(["ops", "ops", "ops"]);
    expect(log[0]!.nextRetryAt).toBeNull();
    for (const failed of log.slice(1)) {
      expect(failed.nextRetryAt!.getTime()).toBeGreaterThan(failed.at.getTime());
      expect(failed.responseBody).toHaveLength(1000);
      expect(failed.latencyMs).toBeGreaterThan(0);
    }
    expect(log[0]!.responseBody).toBe("ok");
    expect(JSON.stringify(log)).not.toContain(ops.secret.slice(6));
    // Nothing of the delivery is left waiting in the queue.
    // (This endpoint's jobs only: the other endpoints of this file may still be retrying.)
    const waiting = await getDb().$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'webhook.deliver' AND key LIKE ${`webhook:%:${ops.id}`}`;
    expect(waiting[0]!.n).toBe(0);
  });

  it("sends the rollback event (not alias moves) to an endpoint subscribed to rollbacks, and Slack's body to a Slack endpoint", async () => {
    const slack = await admin().webhooks.create({ name: "chat", url: `${base}/slack`, format: "slack", eventKinds: ["rollback", "alias.moved"] });
    const model = await getDb().model.findUniqueOrThrow({ where: { name: "t-hooks-model" }, include: { versions: true } });
    const v2 = model.versions.find((v) => v.version === 2)!;
    await callerAs(["ml_engineer"], "ml@rerank.local").models.setAlias({ versionId: v2.id, alias: "production", reason: "ship v2" });
    await oncall().oncall.rollback({ surface: "t-hooks", reason: "CTR drop" });
    // chat: alias moved (ship v2), alias moved (rollback's move), rollback; ops: rollback only.
    await waitFor(async () => receiver.received.filter((r) => r.path === "/slack").length >= 3 && receiver.received.some((r) => r.path.startsWith("/hooks/ops") && r.body.includes('"rollback"')), "the rollback's deliveries", 30_000);
    const toOps = receiver.received.filter((r) => r.path.startsWith("/hooks/ops")).map((r) => verify(ops.secret, r) as { type: string; data: unknown });
    expect(toOps.filter((b) => b.type !== "kill_switch")).toEqual([
      { type: "rollback", timestamp: expect.any(String), data: { surface: "t-hooks", surfaces: ["t-hooks"], model: "t-hooks-model", alias: "production", fromVersion: 2, toVersion: 1, actor: "oncall@rerank.local", reason: "CTR drop" } },
    ]);
    const chat = receiver.received.filter((r) => r.path === "/slack").map((r) => verify(slack.secret, r) as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string }; elements?: unknown[] }> });
    const rollback = chat.find((b) => b.text.includes("rolled"))!;
    expect(rollback.text).toBe("oncall@rerank.local rolled t-hooks back: t-hooks-model production v2 → v1: CTR drop");
    expect(rollback.blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: "*oncall@rerank.local rolled t-hooks back: t-hooks-model production v2 → v1*\n>CTR drop" } });
    expect(rollback.blocks[1]).toMatchObject({ type: "context", elements: [{ type: "mrkdwn", text: expect.stringMatching(/^rollback · \d{4}-\d\d-\d\dT.+ · msg_[0-9a-f]{32}$/) }] });
    expect(chat.map((b) => b.text).filter((t) => t.includes("moved"))).toEqual([
      "ml@rerank.local moved t-hooks-model production from v1 to v2: ship v2",
      "oncall@rerank.local moved t-hooks-model production from v2 to v1: rollback: CTR drop",
    ]);
  });

  it("queues nothing for a disabled endpoint, nor for a change that rolls back; raises an event with a given id once", async () => {
    await admin().webhooks.update({ id: ops.id, enabled: false });
    const update = await getDb().auditLog.findFirstOrThrow({ where: { action: "webhook.update", entityId: ops.id } });
    expect(update).toMatchObject({ before: { enabled: true }, after: { enabled: false } });
    expect(update.after).not.toHaveProperty("urlChanged");
    // A new URL on the same host reads the same masked: the entry says it changed (second break test: a redirect read as nothing).
    await admin().webhooks.update({ id: ops.id, url: `${base}/hooks/elsewhere` });
    await admin().webhooks.update({ id: ops.id, url: `${base}/hooks/ops?token=abc` });
    const moves = await getDb().auditLog.findMany({ where: { action: "webhook.update", entityId: ops.id }, orderBy: { id: "desc" }, take: 2 });
    expect(moves.map((m) => m.after)).toEqual([expect.objectContaining({ url: `${base}/…`, urlChanged: true }), expect.objectContaining({ url: `${base}/…`, urlChanged: true })]);
    // This surface's events only: the other tests of this file raise events too.
    const mine = { kind: "kill_switch", data: { path: ["surface"], equals: "t-hooks" } } as const;
    const events = await getDb().webhookEvent.count({ where: mine });
    expect(await notify(getDb(), { kind: "kill_switch", data: { surface: "t-hooks", on: false }, actor: "test" })).toEqual({ eventId: null, deliveries: 0 });
    await admin().webhooks.update({ id: ops.id, enabled: true });
    await expect(getDb().$transaction(async (tx) => {
      expect((await notifyInTransaction(tx, { kind: "kill_switch", data: { surface: "t-hooks", on: false }, actor: "test" })).deliveries).toBe(1);
      throw new Error("the change failed");
    })).rejects.toThrow("the change failed");
    expect(await getDb().webhookEvent.count({ where: mine })).toBe(events);
    const alarm = { id: "srm_test_1", kind: "rollback" as const, data: { surface: "t-hooks", model: "m", alias: "production", fromVersion: 2, toVersion: 1 }, actor: "test" };
    // ops and chat subscribe to rollbacks.
    expect(await notify(getDb(), alarm)).toEqual({ eventId: "srm_test_1", deliveries: 2 });
    expect(await notify(getDb(), alarm)).toEqual({ eventId: null, deliveries: 0 });
  });

  it("sends a test message on demand, once, and logs it", async () => {
    const { eventId } = await admin().webhooks.sendTest({ id: ops.id });
    // Audited: who had a message sent to the endpoint (it reaches someone else's system).
    expect(await getDb().auditLog.findFirst({ where: { action: "webhook.test", entityId: ops.id }, orderBy: { id: "desc" } })).toMatchObject({ actor: "admin@rerank.local", subjectLabel: "ops", after: { eventId } });
    await waitFor(async () => (await getDb().webhookDelivery.count({ where: { eventId } })) === 1, "the test delivery");
    const [row] = (await admin().webhooks.deliveries({ endpointId: ops.id, limit: 50 })).filter((d) => d.eventId === eventId);
    expect(row).toMatchObject({ eventKind: "webhook.test", attempt: 1, status: 200, error: null, nextRetryAt: null });
    const sent = receiver.received.find((r) => r.headers["webhook-id"] === eventId)!;
    expect(verify(ops.secret, sent)).toMatchObject({ type: "webhook.test", data: { endpoint: "ops", actor: "admin@rerank.local" } });
  });

  it("rotates the secret (audited), and deliveries sign with the new one", async () => {
    const listed = (await admin().webhooks.list()).find((e) => e.id === ops.id)!;
    const { secret } = await admin().webhooks.rotateSecret({ id: ops.id, expectSecretId: listed.secretId });
    expect(secret).not.toBe(ops.secret);
    expect(await getDb().auditLog.count({ where: { action: "webhook.rotate_secret", entityId: ops.id } })).toBe(1);
    const { eventId } = await admin().webhooks.sendTest({ id: ops.id });
    await waitFor(async () => receiver.received.some((r) => r.headers["webhook-id"] === eventId), "the test delivery");
    const sent = receiver.received.find((r) => r.headers["webhook-id"] === eventId)!;
    expect(() => verify(ops.secret, sent)).toThrow();
    expect(verify(secret, sent)).toMatchObject({ type: "webhook.test" });
    ops.secret = secret;
  });

  it("with WEBHOOK_PRIVATE_ADDRESSES=deny refuses loopback targets when saved and when a name resolves to one", async () => {
    setEnv("WEBHOOK_PRIVATE_ADDRESSES", "deny");
    try {
      await expect(admin().webhooks.create({ name: "local", url: `${base}/x`, format: "standard", eventKinds: ["rollback"] })).rejects.toMatchObject({
        code: "BAD_REQUEST", message: "url: 127.0.0.1 is a loopback or private address (WEBHOOK_PRIVATE_ADDRESSES=deny): webhooks are not sent there",
      });
      const named = await admin().webhooks.create({ name: "named", url: base.replace("127.0.0.1", "localhost") + "/named", format: "standard", eventKinds: ["rollback"] });
      const { eventId } = await admin().webhooks.sendTest({ id: named.id });
      await waitFor(async () => (await getDb().webhookDelivery.count({ where: { eventId } })) === 1, "the refused delivery");
      const row = await getDb().webhookDelivery.findFirstOrThrow({ where: { eventId } });
      expect(row).toMatchObject({ status: null, error: expect.stringMatching(/^not sent: localhost resolves to (127\.0\.0\.1|::1), a loopback or private address \(WEBHOOK_PRIVATE_ADDRESSES=deny\)$/) });
      expect(receiver.received.some((r) => r.path === "/named")).toBe(false);
    } finally {
      setEnv("WEBHOOK_PRIVATE_ADDRESSES", undefined);
    }
  });

  it("deletes an endpoint with its delivery log (audited)", async () => {
    await admin().webhooks.remove({ id: ops.id });
    expect(await getDb().webhookEndpoint.count({ where: { id: ops.id } })).toBe(0);
    expect(await getDb().webhookDelivery.count({ where: { endpointId: ops.id } })).toBe(0);
    const deleted = await getDb().auditLog.findFirstOrThrow({ where: { action: "webhook.delete", entityId: ops.id } });
    expect(deleted).toMatchObject({ before: { name: "ops", enabled: true }, after: null });
    await expect(admin().webhooks.remove({ id: ops.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
