// Lever break test (findings 2 and 6) of Settings → Webhooks: a rotation pressed ten times at once
// rotates once and every secret it returns is the one stored; an edit that changes nothing writes
// nothing; and an automation key, even with the admin role, cannot silence or redirect on-call's
// notifications (edit, disable, delete, rotate), nor add an endpoint or send tests, as it cannot revoke serving keys.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { createCaller } from "../routers/_app";
import { callerAs } from "../testing/callers";
import { contextFor } from "../trpc";
import { secretIdOf } from "./service";

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
