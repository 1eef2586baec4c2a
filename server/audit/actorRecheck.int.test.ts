// Re-break of the levers (finding 1): a lever checks its caller when the request arrives, then may
// wait up to a minute for a row lock (another press, the canary judge, a model opening). A person
// disabled, or a key revoked, while it waited must not finish the change with the old rights: a
// disabled admin turned four-eyes approval off, a disabled on-call person pressed the kill switch, a
// disabled admin redirected a webhook, and an approval applied although its requester had been
// disabled. Every audited lever now re-checks its actor in the change's transaction (recordAudit,
// server/audit/record.ts), and an approval its requester (server/approvals/service.ts). Real
// PostgreSQL, real row locks held by another connection.
import { beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../auth/apiKeys";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createdPerson } from "../testing/callers";
import { createCaller } from "../routers/_app";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const disabled = { code: "FORBIDDEN", message: "you have been disabled: nothing was changed" };

const person = createdPerson;
const as = (p: Principal) => createCaller(contextFor(p));

/**
 * Holds `lockSql`'s row lock in another connection while `press` starts and waits for it, runs
 * `meanwhile` (a disable committing in a third connection), then releases the lock.
 * @returns what the press answered (its result, or the error it threw).
 */
async function pressWhileLocked(lockSql: string, press: () => Promise<unknown>, meanwhile: () => Promise<unknown>): Promise<unknown> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = getDb().$transaction(async (tx) => {
    await tx.$queryRawUnsafe(lockSql);
    locked();
    await released;
  }, { timeout: 30_000 });
  await isLocked;
  const answer = press().catch((error: unknown) => error);
  await sleep(300); // the press is waiting for the lock now
  await meanwhile();
  release();
  await holder;
  return answer;
}

const auditCount = (actor: string) => getDb().auditLog.count({ where: { actor } });

beforeAll(async () => {
  await seedDemo(getDb());
}, 120_000);

describe("a lever whose caller was disabled or revoked while it waited for a lock", () => {
  it("approvals on/off, the kill switch and a webhook edit by a person disabled meanwhile: 403, nothing changed, nothing audited", async () => {
    const db = getDb();
    const admin = await person("adm-wait@recheck.test", ["admin"]);
    const oncall = await person("oncall-wait@recheck.test", ["oncall"]);
    const webhook = await as(await person("hooks@recheck.test", ["admin"])).webhooks.create({ name: "recheck", url: "https://example.com/recheck", format: "standard", eventKinds: ["rollback"] });
    const disable = (p: Principal) => () => db.user.update({ where: { id: p.id }, data: { disabled: true } });

    const approvals = await pressWhileLocked("SELECT id FROM surfaces WHERE key = 'search' FOR UPDATE",
      () => as(admin).approvals.setRequired({ surface: "search", required: true, reason: "four eyes from now on" }), disable(admin));
    expect(approvals).toMatchObject(disabled);
    expect((await db.surface.findUniqueOrThrow({ where: { key: "search" } })).requireApproval).toBe(false);

    const kill = await pressWhileLocked("SELECT id FROM surfaces WHERE key = 'home-feed' FOR UPDATE",
      () => as(oncall).oncall.killSwitch({ surface: "home-feed", on: true, reason: "bad model output" }), disable(oncall));
    expect(kill).toMatchObject(disabled);
    expect((await db.surface.findUniqueOrThrow({ where: { key: "home-feed" } })).killSwitch).toBe(false);

    await db.user.update({ where: { id: admin.id }, data: { disabled: false } });
    const redirect = await pressWhileLocked(`SELECT id FROM webhook_endpoints WHERE id = '${webhook.id}' FOR UPDATE`,
      () => as(admin).webhooks.update({ id: webhook.id, url: "https://evil.example.com/hook" }), disable(admin));
    expect(redirect).toMatchObject(disabled);
    expect((await db.webhookEndpoint.findUniqueOrThrow({ where: { id: webhook.id } })).url).toBe("https://example.com/recheck");
    expect(await auditCount(admin.name)).toBe(0);
    expect(await auditCount(oncall.name)).toBe(0);
  });

  it("an automation key revoked while its alias move waited for the model's lock: 403, the alias stays", async () => {
    const db = getDb();
    const owner = await person("key-owner@recheck.test", ["admin"]);
    const surface = await createTestSurface(db, { key: "t-recheck-key", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
    const v4 = await db.modelVersion.findFirstOrThrow({ where: { modelId: surface.modelId!, version: 4 } });
    const { apiKey } = await createApiKey(db, { name: "pipeline", kind: "automation", roles: ["ml_engineer"] }, owner.id);
    const key: Principal = { kind: "api_key", id: apiKey.id, name: apiKey.name, keyKind: "automation", roles: ["ml_engineer"], surfaces: [] };
    const move = await pressWhileLocked(`SELECT id FROM models WHERE id = '${surface.modelId}' FOR UPDATE`,
      () => as(key).models.setAlias({ versionId: v4.id, alias: "production", reason: "v4 won offline" }),
      () => db.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: new Date() } }));
    expect(move).toMatchObject({ code: "FORBIDDEN", message: "this API key has been revoked: nothing was changed" });
    const production = await db.modelAlias.findFirstOrThrow({ where: { modelId: surface.modelId!, name: "production" }, include: { version: true } });
    expect(production.version.version).toBe(1);
    expect(await auditCount("pipeline")).toBe(0);
  });

  it("an approval whose requester was disabled while the change waited for the model's lock is not applied: 409, the request failed, the alias stays", async () => {
    const db = getDb();
    const surface = await createTestSurface(db, { key: "t-recheck-appr", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
    await db.surface.update({ where: { key: "t-recheck-appr" }, data: { requireApproval: true } });
    const v4 = await db.modelVersion.findFirstOrThrow({ where: { modelId: surface.modelId!, version: 4 } });
    const requester = await person("ml2@recheck.test", ["ml_engineer"]);
    const approver = await person("ml3@recheck.test", ["ml_engineer"]);
    const request = await as(requester).approvals.request({ change: { kind: "alias_move", versionId: v4.id, alias: "production" }, reason: "v4 won offline" });
    const decision = await pressWhileLocked(`SELECT id FROM models WHERE id = '${surface.modelId}' FOR UPDATE`,
      () => as(approver).approvals.decide({ id: request.id, approve: true, comment: "numbers look right" }),
      () => db.user.update({ where: { id: requester.id }, data: { disabled: true } }));
    expect(decision).toMatchObject({ code: "CONFLICT", message: "its requester ml2@recheck.test has been disabled since: not applied; someone who holds the permission files it again if the change is still wanted" });
    expect((await db.changeRequest.findUniqueOrThrow({ where: { id: request.id } })).status).toBe("failed");
    const production = await db.modelAlias.findFirstOrThrow({ where: { modelId: surface.modelId!, name: "production" }, include: { version: true } });
    expect(production.version.version).toBe(1);
  });

  it("a person disabled before the press is refused at once; one disabled after it committed changed it (a disable waits for a press in flight)", async () => {
    const db = getDb();
    const oncall = await person("oncall-order@recheck.test", ["oncall"]);
    expect(await as(oncall).oncall.killSwitch({ surface: "product-qa", on: true, reason: "pressed before the disable" })).toMatchObject({ killSwitch: true, changed: true });
    await db.user.update({ where: { id: oncall.id }, data: { disabled: true } });
    await expect(as(oncall).oncall.killSwitch({ surface: "product-qa", on: false, reason: "pressed after the disable" })).rejects.toMatchObject(disabled);
    expect((await db.surface.findUniqueOrThrow({ where: { key: "product-qa" } })).killSwitch).toBe(true);
  });
});
