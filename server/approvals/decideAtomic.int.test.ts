// Lever break test (finding 5): an approval marked the request applied in one statement and applied
// the change in another transaction, so while the change waited (or after a crash) everyone read
// "applied" though nothing had changed. The status now commits with the change: while the change
// waits for the model's lock the request reads pending; a change that fails there leaves it failed,
// never applied.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createUser } from "../auth/users";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import type { Role } from "../domain/access/permissions";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { createCaller } from "../routers/_app";
import { holdRowLocks } from "../testing/locks";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";

async function person(email: string, roles: Role[]): Promise<Principal> {
  const { user } = await createUser(getDb(), { email, name: email, roles, password: "a long enough password" });
  return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles };
}
const as = (p: Principal) => createCaller(contextFor(p));
const serving = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-appr-atomic-model" }, name: "production" }, include: { version: true } })).version.version;
const statusOf = async (id: string) => (await getDb().changeRequest.findUniqueOrThrow({ where: { id } })).status;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let ana: Principal;
let bo: Principal;
let modelId: string;
const versionIds: Record<number, string> = {};

/** Holds the model's row lock (as every alias move takes it) until `release` is called; `during` runs in the holder's transaction first. */
const holdModelLock = (during?: Parameters<typeof holdRowLocks>[1]) => holdRowLocks((tx) => tx.$queryRaw`SELECT id FROM models WHERE id = ${modelId} FOR UPDATE`, during);

beforeAll(async () => {
  const surface = await createTestSurface(getDb(), { key: "t-appr-atomic", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity"), linearRankerOnnx(demoFeatureSpec().map(() => 0.3), 0)] });
  modelId = surface.modelId!;
  for (const v of [1, 4, 5]) versionIds[v] = (await getDb().modelVersion.findFirstOrThrow({ where: { modelId, version: v } })).id;
  ana = await person("ana@atomic.test", ["ml_engineer"]);
  bo = await person("bo@atomic.test", ["ml_engineer"]);
  await getDb().surface.update({ where: { key: "t-appr-atomic" }, data: { requireApproval: true } });
});

describe("an approval's status commits with its change", () => {
  it("reads pending while the approved move waits for the model's lock, applied once it committed", async () => {
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: versionIds[4]!, alias: "production" }, reason: "v4 won offline" });
    const lock = holdModelLock();
    await lock.isLocked;
    const decision = as(bo).approvals.decide({ id: request.id, approve: true, comment: "looks right" });
    await sleep(1_500);
    // Before: "applied" here, with production still v1.
    expect(await statusOf(request.id)).toBe("pending");
    expect(await serving()).toBe(1);
    lock.release();
    await lock.done;
    expect(await decision).toMatchObject({ status: "applied", decidedById: bo.id, surfaces: ["t-appr-atomic"] });
    expect(await serving()).toBe(4);
  }, 30_000);

  it("a change that fails under the lock (the alias moved meanwhile) leaves the request failed with why, never applied, and moves nothing", async () => {
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: versionIds[1]!, alias: "production" }, reason: "back to v1" });
    const lock = holdModelLock((tx) => tx.modelAlias.update({ where: { modelId_name: { modelId, name: "production" } }, data: { versionId: versionIds[5]! } }));
    await lock.isLocked;
    const decision = as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" });
    const settled = decision.then(() => null, (error: unknown) => error);
    await sleep(1_500);
    expect(await statusOf(request.id)).toBe("pending");
    lock.release();
    await lock.done;
    expect(await settled).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("changed since it was read (was v4, now v5)") });
    const stored = await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(stored).toMatchObject({ status: "failed", decidedById: bo.id, error: expect.stringContaining("changed since it was read (was v4, now v5)") });
    expect(await serving()).toBe(5);
    // One fail entry, no approve entry.
    const entries = await getDb().auditLog.findMany({ where: { action: { in: ["change_request.approve", "change_request.fail"] }, surfaceKeys: { has: "t-appr-atomic" } }, orderBy: { id: "asc" } });
    expect(entries.map((e) => [e.action, (e.after as { id: string }).id])).toEqual([["change_request.approve", expect.any(String)], ["change_request.fail", request.id]]);
  }, 30_000);

  it("two approvals at once: one applies, the other is refused (409 applied already); the requester cannot approve their own", async () => {
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: versionIds[4]!, alias: "production" }, reason: "v4 again" });
    await expect(as(ana).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("your own request") });
    const carl = await person("carl@atomic.test", ["ml_engineer"]);
    const results = await Promise.allSettled([as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" }), as(carl).approvals.decide({ id: request.id, approve: true, comment: "checked it" })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toMatchObject({ code: "CONFLICT", message: "id: the request is applied already" });
    expect(await serving()).toBe(4);
    expect(await getDb().auditLog.count({ where: { action: "model.alias.set", entityId: modelId, reason: { startsWith: "v4 again" } } })).toBe(1);
  }, 30_000);
});
