import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createUser } from "../auth/users";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import type { Role } from "../domain/access/permissions";
import { createCaller } from "../routers/_app";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { experimentInputSchema } from "../experiments/schema";
import { contextFor } from "../trpc";

// Approvals on real PostgreSQL: on a surface that requires them, moving its serving alias becomes
// a request another person approves; the requester cannot approve their own; the direct mutation
// is refused before it changes anything; rollback and the kill switch never wait.

async function person(email: string, roles: Role[]): Promise<Principal> {
  const { user } = await createUser(getDb(), { email, name: email, roles, password: "a long enough password" });
  return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles };
}
const as = (p: Principal) => createCaller(contextFor(p));
const serving = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-approve-model" }, name: "production" }, include: { version: true } })).version.version;

let ana: Principal;
let bo: Principal;
let viewer: Principal;
let v2: string;

beforeAll(async () => {
  await createTestSurface(getDb(), { key: "t-approve", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
  v2 = (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-approve-model" }, version: 4 } })).id;
  ana = await person("ana@approve.test", ["ml_engineer"]);
  bo = await person("bo@approve.test", ["ml_engineer", "oncall"]);
  viewer = await person("vi@approve.test", ["viewer"]);
});

describe("approvals", () => {
  it("turns a serving-alias move on a guarded surface into a request that another person approves", async () => {
    await callerAs(["admin"], "admin@approve.test").approvals.setRequired({ surface: "t-approve", required: true, reason: "production surface" });
    // The direct move is refused before anything changes.
    await expect(as(ana).models.setAlias({ versionId: v2, alias: "production", reason: "try directly" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining('surface "t-approve" requires approval'),
    });
    expect(await serving()).toBe(1);

    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: v2, alias: "production" }, reason: "v4 won offline" });
    expect(request).toMatchObject({ status: "pending", summary: "t-approve-model production: v1 → v4 (serves t-approve)" });
    // The requester cannot approve their own request, and a viewer cannot decide at all.
    await expect(as(ana).approvals.decide({ id: request.id, approve: true })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("your own request") });
    await expect(as(viewer).approvals.decide({ id: request.id, approve: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await serving()).toBe(1);

    const decided = await as(bo).approvals.decide({ id: request.id, approve: true, comment: "looks good" });
    expect(decided).toMatchObject({ status: "applied", decidedById: bo.id, decisionComment: "looks good" });
    expect(await serving()).toBe(4);
    // Deciding twice is refused; nothing moves again.
    await expect(as(bo).approvals.decide({ id: request.id, approve: false })).rejects.toMatchObject({ code: "CONFLICT" });
    const audit = await getDb().auditLog.findMany({ where: { action: { startsWith: "change_request." } }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.actor])).toEqual([["change_request.create", "ana@approve.test"], ["change_request.approve", "bo@approve.test"]]);
    const move = await getDb().auditLog.findFirstOrThrow({ where: { action: "model.alias.set" }, orderBy: { id: "desc" } });
    expect(move.reason).toContain("requested by ana@approve.test, approved by bo@approve.test");
  });

  it("records a rejection with its comment and changes nothing", async () => {
    const v1 = (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-approve-model" }, version: 1 } })).id;
    const request = await as(bo).approvals.request({ change: { kind: "alias_move", versionId: v1, alias: "production" }, reason: "go back" });
    const rejected = await as(ana).approvals.decide({ id: request.id, approve: false, comment: "v4 is fine" });
    expect(rejected).toMatchObject({ status: "rejected", decisionComment: "v4 is fine" });
    expect(await serving()).toBe(4);
  });

  it("never makes on-call wait: rollback and the kill switch apply at once on a guarded surface", async () => {
    const oncall = as(bo);
    const back = await oncall.oncall.rollback({ surface: "t-approve", reason: "incident 42" });
    expect(back).toMatchObject({ version: 1 });
    expect(await serving()).toBe(1);
    const killed = await oncall.oncall.killSwitch({ surface: "t-approve", on: true, reason: "incident 42" });
    expect(killed).toMatchObject({ killSwitch: true });
    await oncall.oncall.killSwitch({ surface: "t-approve", on: false, reason: "incident 42 over" });
  });

  it("guards every alias a surface's traffic reaches: its cascade (fallback) alias too", async () => {
    await getDb().surface.update({ where: { key: "t-approve" }, data: { fallbackAlias: "fallback" } });
    await expect(as(ana).models.setAlias({ versionId: v2, alias: "fallback", reason: "direct cascade move" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining('surface "t-approve" requires approval') });
    // An alias no surface serves moves freely.
    await as(ana).models.setAlias({ versionId: v2, alias: "staging", reason: "not served" });
  });

  it("makes starting an experiment on a guarded surface a request too, applied on approval", async () => {
    const experiment = experimentInputSchema.parse({
      key: "appr-exp", name: "Approval experiment", surface: "t-approve", owner: "pm@approve.test", hypothesis: "x",
      variants: [
        { key: "control", name: "control", weight: 0.01, isControl: true, modelAlias: "production" },
        { key: "treat", name: "treat", weight: 0.99, modelVersionId: v2 },
      ],
    });
    const pm1 = await person("pm1@approve.test", ["pm"]);
    const pm2 = await person("pm2@approve.test", ["pm"]);
    await as(pm1).experiments.create(experiment);
    await expect(as(pm1).experiments.start({ key: "appr-exp" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining('surface "t-approve" requires approval') });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "appr-exp" } })).status).toBe("draft");
    const request = await as(pm1).approvals.request({ change: { kind: "experiment_start", key: "appr-exp" }, reason: "ready to run" });
    expect(request.summary).toBe("start experiment appr-exp: its variants serve part of t-approve's traffic");
    await as(pm2).approvals.decide({ id: request.id, approve: true });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "appr-exp" } })).status).toBe("running");
    await as(pm2).experiments.stop({ key: "appr-exp", reason: "test over" });
  });

  it("applies directly where the surface does not require approval, and refuses a request there", async () => {
    await callerAs(["admin"]).approvals.setRequired({ surface: "t-approve", required: false, reason: "relax" });
    await expect(as(ana).approvals.request({ change: { kind: "alias_move", versionId: v2, alias: "production" }, reason: "x y z" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await as(ana).models.setAlias({ versionId: v2, alias: "production", reason: "direct" });
    expect(await serving()).toBe(4);
  });
});
