// Lever break test (findings 2 and 6) of Settings → Webhooks: a rotation pressed ten times at once
// rotates once and every secret it returns is the one stored; an edit that changes nothing writes
// nothing; and an automation key, even with the admin role, cannot silence or redirect on-call's
// notifications (edit, disable, delete, rotate), nor add an endpoint or send tests, as it cannot revoke serving keys.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import type { WebhookEventKind, WebhookFormat } from "../domain/webhooks/events";
import { createCaller } from "../routers/_app";
import { callerAs } from "../testing/callers";
import { contextFor } from "../trpc";
import { secretIdOf, webhookUrlId } from "./service";

const admin = () => callerAs(["admin"], "admin@hooks.test");
const automationKey: Principal = { kind: "api_key", id: "test-key-hooks", name: "leaked pipeline key", keyKind: "automation", roles: ["admin"], surfaces: [] };
const key = () => createCaller(contextFor(automationKey));
let endpoint: { id: string; secret: string };

beforeAll(async () => {
  endpoint = await admin().webhooks.create({ name: "levers", url: "https://example.com/levers", format: "standard", eventKinds: ["rollback", "kill_switch"] });
});

describe("webhook levers", () => {
  it("ten rotations pressed at once from one page rotate once: one 200 whose secret is stored, nine 409, one audit entry", async () => {
    const listed = (await admin().webhooks.list()).find((e) => e.id === endpoint.id)!;
    expect(listed.secretId).toBe(secretIdOf(endpoint.secret));
    expect(listed).not.toHaveProperty("secret");
    const presses = await Promise.allSettled(Array.from({ length: 10 }, () => admin().webhooks.rotateSecret({ id: endpoint.id, expectSecretId: listed.secretId })));
    const done = presses.filter((p): p is PromiseFulfilledResult<{ id: string; secret: string; secretId: string }> => p.status === "fulfilled");
    const refused = presses.filter((p): p is PromiseRejectedResult => p.status === "rejected");
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.reason).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^expectSecretId: the signing secret of levers is no longer the one you meant to replace \(rotated by admin@hooks\.test at .+\); it was not rotated again/) });
    const stored = await getDb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(stored.secret).toBe(done[0]!.value.secret);
    expect(done[0]!.value.secretId).toBe(secretIdOf(stored.secret));
    expect(await getDb().auditLog.count({ where: { action: "webhook.rotate_secret", entityId: endpoint.id } })).toBe(1);
    // The old id is stale now: a rotation from the new one works.
    await expect(admin().webhooks.rotateSecret({ id: endpoint.id, expectSecretId: listed.secretId })).rejects.toMatchObject({ code: "CONFLICT" });
    const again = await admin().webhooks.rotateSecret({ id: endpoint.id, expectSecretId: done[0]!.value.secretId });
    expect((await getDb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).secret).toBe(again.secret);
    endpoint.secret = again.secret;
  });

  it("an edit that changes nothing (a disable of a disabled endpoint, five at once) writes one audit entry for the one change", async () => {
    const before = await getDb().auditLog.count({ where: { action: "webhook.update", entityId: endpoint.id } });
    const presses = await Promise.all(Array.from({ length: 5 }, () => admin().webhooks.update({ id: endpoint.id, enabled: false })));
    expect(presses.filter((p) => p.changed)).toHaveLength(1);
    expect(presses.every((p) => p.enabled === false)).toBe(true);
    expect(await admin().webhooks.update({ id: endpoint.id, name: "levers", eventKinds: ["kill_switch", "rollback"] })).toMatchObject({ changed: false });
    const entries = await getDb().auditLog.findMany({ where: { action: "webhook.update", entityId: endpoint.id }, orderBy: { id: "asc" } });
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({ before: { enabled: true }, after: { enabled: false } });
    await admin().webhooks.update({ id: endpoint.id, enabled: true });
  });

  it("an edit dialog opened before someone else switched the endpoint off is refused (409 naming what changed): nothing written or audited; a fresh pin, or none, applies; the Enabled switch stays a plain set", async () => {
    const alice = () => callerAs(["admin"], "alice@hooks.test");
    const bob = () => callerAs(["admin"], "bob@hooks.test");
    const { id } = await alice().webhooks.create({ name: "ops pager", url: "https://hooks.example.com/services/T1/B2/secret", format: "slack", eventKinds: ["rollback", "kill_switch"] });
    const row = () => getDb().webhookEndpoint.findUniqueOrThrow({ where: { id }, select: { name: true, url: true, format: true, eventKinds: true, enabled: true } });
    const entries = () => getDb().auditLog.count({ where: { action: "webhook.update", entityId: id } });
    /** The endpoint as an edit dialog opened now shows it (the list's masked URL). */
    const shownNow = async () => {
      const e = (await alice().webhooks.list()).find((x) => x.id === id)!;
      return { name: e.name, url: e.url, urlId: e.urlId, format: e.format as WebhookFormat, eventKinds: e.eventKinds as WebhookEventKind[], enabled: e.enabled };
    };
    // Alice opens Edit… to rename it.
    const shown = await shownNow();
    expect(shown).toEqual({ name: "ops pager", url: "https://hooks.example.com/…", urlId: expect.stringMatching(/^[0-9a-f]{16}$/), format: "slack", eventKinds: ["rollback", "kill_switch"], enabled: true });
    // Bob switches the misbehaving endpoint off with the switch (unpinned), then changes its events from his own dialog (pinned to what it is now).
    expect(await bob().webhooks.update({ id, enabled: false })).toMatchObject({ changed: true, enabled: false });
    await bob().webhooks.update({ id, eventKinds: ["kill_switch", "experiment.shipped"], expectBefore: await shownNow() });
    const afterBob = await row();
    expect(afterBob).toMatchObject({ enabled: false, eventKinds: ["kill_switch", "experiment.shipped"] });
    const audited = await entries();
    // Alice saves her rename with the enabled and events her dialog still holds: it would switch it back on.
    await expect(alice().webhooks.update({ id, name: "ops pager (EU)", format: shown.format, eventKinds: shown.eventKinds, enabled: shown.enabled, expectBefore: shown })).rejects.toMatchObject({
      code: "CONFLICT",
      message: 'webhook "ops pager" changed since it was shown (events: it showed kill_switch, rollback, it is now experiment.shipped, kill_switch; enabled: it showed on, it is now off): not applied over it; look at it again and decide',
    });
    expect(await row()).toEqual(afterBob);
    expect(await entries()).toBe(audited);
    // A URL moved to another host is named too (the host is all the dialog showed of it).
    const beforeMove = await shownNow();
    await getDb().webhookEndpoint.update({ where: { id }, data: { url: "https://other.example.net/x" } });
    await expect(alice().webhooks.update({ id, name: "ops pager (EU)", expectBefore: beforeMove })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^webhook "ops pager" changed since it was shown \(URL: it showed https:\/\/hooks\.example\.com\/…, it is now https:\/\/other\.example\.net\/…\): not applied/),
    });
    expect(await entries()).toBe(audited);
    // She looks again: pinned to what is there now (the events' order means nothing), her rename applies and leaves it off.
    const fresh = await shownNow();
    expect(await alice().webhooks.update({ id, name: "ops pager (EU)", format: fresh.format, eventKinds: fresh.eventKinds, enabled: fresh.enabled, expectBefore: { ...fresh, eventKinds: [...fresh.eventKinds].reverse() } }))
      .toMatchObject({ changed: true, name: "ops pager (EU)", enabled: false });
    expect(await row()).toMatchObject({ name: "ops pager (EU)", enabled: false, eventKinds: ["kill_switch", "experiment.shipped"] });
    // Unpinned (the Enabled switch, scripts): applies as before.
    expect(await bob().webhooks.update({ id, enabled: true })).toMatchObject({ changed: true, enabled: true });
    expect(await entries()).toBe(audited + 2);
    // A pin that is not an endpoint as shown is bad input naming the field; nothing changes.
    const now = await row();
    const pin = await shownNow();
    await expect(alice().webhooks.update({ id, enabled: false, expectBefore: { ...pin, eventKinds: ["no.such.kind" as WebhookEventKind] } })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectBefore\.eventKinds\[0\]: /) });
    await expect(alice().webhooks.update({ id, enabled: false, expectBefore: { ...pin, name: " " } })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectBefore\.name: /) });
    expect(await row()).toEqual(now);
    expect(await entries()).toBe(audited + 2);
    await getDb().webhookEndpoint.delete({ where: { id } });
  });

  it("an edit dialog opened before the URL moved to another path on the same host is refused (409): the list's urlId names the whole URL, which the page never holds", async () => {
    const alice = () => callerAs(["admin"], "alice@hooks.test");
    const { id } = await alice().webhooks.create({ name: "team channel", url: "https://hooks.slack.example/services/T1/B2/first-token", format: "slack", eventKinds: ["rollback"] });
    const listed = async () => (await alice().webhooks.list()).find((x) => x.id === id)!;
    const shownNow = async () => {
      const e = await listed();
      return { name: e.name, url: e.url, urlId: e.urlId, format: e.format as WebhookFormat, eventKinds: e.eventKinds as WebhookEventKind[], enabled: e.enabled };
    };
    const shown = await shownNow();
    // The list carries the masked URL and an id of the whole one, never the URL's path or token.
    expect(JSON.stringify(await listed())).not.toContain("first-token");
    expect(shown.urlId).toMatch(/^[0-9a-f]{16}$/);
    expect(shown.urlId).toBe(webhookUrlId("https://hooks.slack.example/services/T1/B2/first-token"));
    // Someone points it at another channel of the same workspace: the masked URL reads the same.
    await alice().webhooks.update({ id, url: "https://hooks.slack.example/services/T1/B9/other-token" });
    const after = await shownNow();
    expect(after.url).toBe(shown.url);
    expect(after.urlId).not.toBe(shown.urlId);
    const row = () => getDb().webhookEndpoint.findUniqueOrThrow({ where: { id }, select: { name: true, url: true, enabled: true } });
    const audited = await getDb().auditLog.count({ where: { action: "webhook.update", entityId: id } });
    // The dialog opened before it saves a rename: refused, naming the URL; nothing written or audited.
    await expect(alice().webhooks.update({ id, name: "team channel (EU)", expectBefore: shown })).rejects.toMatchObject({
      code: "CONFLICT",
      message: 'webhook "team channel" changed since it was shown (URL: it showed https://hooks.slack.example/…, it is now https://hooks.slack.example/… with another path or query): not applied over it; look at it again and decide',
    });
    expect(await row()).toMatchObject({ name: "team channel", url: "https://hooks.slack.example/services/T1/B9/other-token" });
    expect(await getDb().auditLog.count({ where: { action: "webhook.update", entityId: id } })).toBe(audited);
    // A query added is a change of the URL too; the same URL again (a pin of what it is now) applies.
    await getDb().webhookEndpoint.update({ where: { id }, data: { url: "https://hooks.slack.example/services/T1/B9/other-token?thread=1" } });
    await expect(alice().webhooks.update({ id, name: "team channel (EU)", expectBefore: after })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("URL: it showed https://hooks.slack.example/…, it is now https://hooks.slack.example/… with another path or query") });
    expect(await alice().webhooks.update({ id, name: "team channel (EU)", expectBefore: await shownNow() })).toMatchObject({ changed: true, name: "team channel (EU)" });
    // A pin without the URL's id is bad input naming the field.
    const withoutId: Partial<typeof shown> = await shownNow();
    delete withoutId.urlId;
    await expect(alice().webhooks.update({ id, enabled: false, expectBefore: withoutId as typeof shown })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectBefore\.urlId: /) });
    await getDb().webhookEndpoint.delete({ where: { id } });
  });

  it("refuses an automation key with the admin role (403) every edit, disable, delete and rotation, and changes nothing", async () => {
    const row = async () => getDb().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    const was = await row();
    const audit = await getDb().auditLog.count({ where: { entityId: endpoint.id } });
    const forbidden = { code: "FORBIDDEN", message: "only a signed-in person can do this, not an API key" };
    await expect(key().webhooks.update({ id: endpoint.id, enabled: false })).rejects.toMatchObject(forbidden);
    await expect(key().webhooks.update({ id: endpoint.id, url: "https://attacker.example/collect" })).rejects.toMatchObject(forbidden);
    await expect(key().webhooks.update({ id: endpoint.id, eventKinds: ["experiment.shipped"] })).rejects.toMatchObject(forbidden);
    await expect(key().webhooks.rotateSecret({ id: endpoint.id, expectSecretId: secretIdOf(was.secret) })).rejects.toMatchObject(forbidden);
    await expect(key().webhooks.remove({ id: endpoint.id })).rejects.toMatchObject(forbidden);
    // Nor can it add a feed of production events to its own address, or send tests (re-break: it could, and only a person could remove it).
    const endpoints = await getDb().webhookEndpoint.count();
    await expect(key().webhooks.create({ name: "exfil", url: "https://attacker.example.net/x", format: "standard", eventKinds: ["alias.moved", "kill_switch", "rollback"] })).rejects.toMatchObject({ code: "FORBIDDEN", message: "only a signed-in person can add a webhook, not an API key" });
    await expect(key().webhooks.sendTest({ id: endpoint.id })).rejects.toMatchObject({ code: "FORBIDDEN", message: "only a signed-in person can send a webhook test, not an API key" });
    expect(await getDb().webhookEndpoint.count()).toBe(endpoints);
    expect(await row()).toEqual(was);
    expect(await getDb().auditLog.count({ where: { entityId: endpoint.id } })).toBe(audit);
    // Reading the list stays open to it (settings.write): the list carries no secret.
    expect((await key().webhooks.list()).some((e) => e.id === endpoint.id)).toBe(true);
  });
});
