// Lever break test (findings 2 and 4) of the kill switch and the approval switch: a press that
// changes nothing writes nothing and sends nothing, also when ten arrive at once; and a press that
// queues behind a row lock for longer than Prisma's default 5 s still applies instead of a 503.
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { LEVER_TRANSACTION } from "../db/leverTransaction";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";

const oncall = () => callerAs(["oncall"], "oncall@switch.test");
const admin = () => callerAs(["admin"], "admin@switch.test");

beforeAll(async () => {
  await createTestSurface(getDb(), { key: "t-switch", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  await getDb().webhookEndpoint.create({ data: { name: "t-switch", url: "https://example.com/switch", format: "standard", eventKinds: ["kill_switch"], secret: "whsec_dGVzdA==", createdBy: "test" } });
});

const counts = async () => {
  const db = getDb();
  const surface = await db.surface.findUniqueOrThrow({ where: { key: "t-switch" } });
  return {
    audit: await db.auditLog.count({ where: { action: "surface.kill_switch", surfaceKeys: { has: "t-switch" } } }),
    history: await db.promotionHistory.count({ where: { kind: "kill_switch", surfaceKey: "t-switch" } }),
    webhooks: await db.webhookEvent.count({ where: { kind: "kill_switch", data: { path: ["surface"], equals: "t-switch" } } }),
    configVersion: surface.configVersion,
  };
};

describe("kill switch presses", () => {
  it("ten presses of `on` at once turn it on once: one audit entry (false → true), one history row, one webhook; the rest change nothing and say who did", async () => {
    const before = await counts();
    const presses = await Promise.all(Array.from({ length: 10 }, (_, i) => oncall().oncall.killSwitch({ surface: "t-switch", on: true, reason: `latency spike ${i}` })));
    expect(presses.every((p) => p.killSwitch)).toBe(true);
    expect(presses.filter((p) => p.changed)).toHaveLength(1);
    for (const p of presses.filter((x) => !x.changed)) expect(p.already).toMatchObject({ by: "oncall@switch.test", reason: expect.stringMatching(/^latency spike \d$/) });
    expect(await counts()).toEqual({ audit: before.audit + 1, history: before.history + 1, webhooks: before.webhooks + 1, configVersion: before.configVersion + 1 });
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "surface.kill_switch", surfaceKeys: { has: "t-switch" } }, orderBy: { id: "desc" } });
    expect(entry).toMatchObject({ before: { killSwitch: false }, after: { killSwitch: true } });
    // Off is a change again.
    expect(await oncall().oncall.killSwitch({ surface: "t-switch", on: false, reason: "mitigated" })).toMatchObject({ killSwitch: false, changed: true });
    expect((await counts()).audit).toBe(before.audit + 2);
  });

  it("a press queued behind a surface's row lock for longer than 5 s applies when the lock is released (no 503)", async () => {
    const db = getDb();
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => { locked = resolve; });
    const holder = db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM surfaces WHERE key = 't-switch' FOR UPDATE`;
      locked();
      await held;
    }, LEVER_TRANSACTION);
    await isLocked;
    const started = Date.now();
    const press = oncall().oncall.killSwitch({ surface: "t-switch", on: true, reason: "behind a lock" });
    setTimeout(release, 6_000);
    await holder;
    expect(await press).toMatchObject({ killSwitch: true, changed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(6_000);
    await oncall().oncall.killSwitch({ surface: "t-switch", on: false, reason: "done" });
  }, 30_000);
});

describe("approval switch presses", () => {
  it("five presses of `required: true` at once write one audit entry (false → true); the rest change nothing", async () => {
    const entries = () => getDb().auditLog.findMany({ where: { action: "surface.approvals", surfaceKeys: { has: "t-switch" } }, orderBy: { id: "asc" } });
    const before = (await entries()).length;
    const presses = await Promise.all(Array.from({ length: 5 }, () => admin().approvals.setRequired({ surface: "t-switch", required: true, reason: "production surface" })));
    expect(presses.every((p) => p.requireApproval)).toBe(true);
    expect(presses.filter((p) => p.changed)).toHaveLength(1);
    const after = await entries();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({ before: { requireApproval: false }, after: { requireApproval: true } });
    expect(await admin().approvals.setRequired({ surface: "t-switch", required: true, reason: "again" })).toMatchObject({ changed: false });
    expect(await entries()).toHaveLength(before + 1);
  });
});
