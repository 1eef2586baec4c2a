import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createCaller } from "../routers/_app";
import { failAudit } from "../testing/auditFaults";
import { callerAs, createdPerson } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { experimentInputSchema } from "../experiments/schema";
import { contextFor } from "../trpc";

// Approvals on real PostgreSQL: on a surface that requires them, moving its serving alias becomes
// a request another person approves; the requester cannot approve their own; the direct mutation
// is refused before it changes anything; rollback and the kill switch never wait.

const person = createdPerson;
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
    await expect(as(ana).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("your own request") });
    await expect(as(viewer).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await serving()).toBe(1);

    const decided = await as(bo).approvals.decide({ id: request.id, approve: true, comment: "looks good" });
    expect(decided).toMatchObject({ status: "applied", decidedById: bo.id, decisionComment: "looks good" });
    expect(await serving()).toBe(4);
    // Deciding twice is refused; nothing moves again.
    await expect(as(bo).approvals.decide({ id: request.id, approve: false, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT" });
    const audit = await getDb().auditLog.findMany({ where: { action: { startsWith: "change_request." }, surfaceKeys: { has: "t-approve" } }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.actor])).toEqual([["change_request.create", "ana@approve.test"], ["change_request.approve", "bo@approve.test"]]);
    const move = await getDb().auditLog.findFirstOrThrow({ where: { action: "model.alias.set" }, orderBy: { id: "desc" } });
    expect(move.reason).toContain("requested by ana@approve.test, approved by bo@approve.test");
  });

  it("answers an approval whose change applied as applied, with a warning, when only the approval's own audit entry fails", async () => {
    // Found by a break test: the change applied and committed with its own entry, then the
    // change_request.approve entry failed and the approver got a 500 (their retry: "applied already").
    const v1 = (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-approve-model" }, version: 1 } })).id;
    const before = await serving();
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: v1, alias: "production" }, reason: "audit fault" });
    const restore = await failAudit(["change_request.approve"]);
    let decided;
    try {
      decided = await as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" });
    } finally {
      await restore();
    }
    expect(decided).toMatchObject({ status: "applied", decidedById: bo.id, surfaces: ["t-approve"] });
    expect((decided as { warning?: string }).warning).toMatch(/^applied; .*: the change's own audit entry names you as the approver$/);
    expect(await serving()).toBe(1);
    const move = await getDb().auditLog.findFirstOrThrow({ where: { action: "model.alias.set" }, orderBy: { id: "desc" } });
    expect(move.reason).toBe("audit fault (requested by ana@approve.test, approved by bo@approve.test)");
    // Put back for the tests below.
    const back = await as(bo).approvals.request({ change: { kind: "alias_move", versionId: v2, alias: "production" }, reason: "restore" });
    await as(ana).approvals.decide({ id: back.id, approve: true, comment: "checked it" });
    expect(await serving()).toBe(before);
  });

  it("refuses to apply a request whose requester was disabled or lost the permission since: 409, marked failed, nothing moves", async () => {
    // Found by the access-control break test: a leaver's request, approved after the leaver was disabled, moved production.
    const db = getDb();
    const v1 = (await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-approve-model" }, version: 1 } })).id;
    const before = await serving();
    for (const [email, leave, words] of [
      ["leaver@approve.test", (id: string) => db.user.update({ where: { id }, data: { disabled: true } }), "has been disabled since"],
      ["moved-team@approve.test", (id: string) => db.user.update({ where: { id }, data: { roles: ["viewer"] } }), "no longer holds the permission (models.write)"],
      ["reset@approve.test", (id: string) => db.user.update({ where: { id }, data: { mustChangePassword: true } }), "has had their password reset since"],
    ] as const) {
      const requester = await person(email, ["ml_engineer"]);
      const request = await as(requester).approvals.request({ change: { kind: "alias_move", versionId: v1, alias: "production" }, reason: "before leaving" });
      await leave(requester.id);
      const listed = await as(bo).approvals.list({ status: "pending", surface: "t-approve", limit: 100 });
      expect(listed.find((r) => r.id === request.id)?.stale).toContain(`its requester ${email} ${words}: not applied`);
      await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
        code: "CONFLICT",
        message: `its requester ${email} ${words}: not applied; ${words.startsWith("has had") ? "they (or someone who holds the permission)" : `someone who holds ${words.startsWith("no longer") ? "it" : "the permission"}`} file${words.startsWith("has had") ? "" : "s"} it again if the change is still wanted`,
      });
      expect(await db.changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", decidedById: bo.id });
      expect(await serving()).toBe(before);
    }
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
    expect(request.summary).toBe("start experiment appr-exp: its variants serve part of t-approve's traffic: control 1 % (production, t-approve-model v1), treat 99 % (t-approve-model v4); judged by primary metric: ctr; analysis engine: sequential; guardrails: none; minimum detectable effect: none");
    await as(pm2).approvals.decide({ id: request.id, approve: true, comment: "checked it" });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "appr-exp" } })).status).toBe("running");
    await as(pm2).experiments.stop({ key: "appr-exp", reason: "test over" });
  });

  it("applies directly where the surface does not require approval, and refuses a request there", async () => {
    await callerAs(["admin"]).approvals.setRequired({ surface: "t-approve", required: false, reason: "relax" });
    await expect(as(ana).approvals.request({ change: { kind: "alias_move", versionId: v2, alias: "production" }, reason: "x y z" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await as(ana).models.setAlias({ versionId: v2, alias: "production", reason: "direct" });
    expect(await serving()).toBe(4);
  });

  it("review s11 item 1: stage 2 on a guarded surface is a change request, and so is a move of the alias it uses as stage 2 (another model's)", async () => {
    const db = getDb();
    const spec = demoFeatureSpec();
    // t-appr-s2 requires approval; t-appr-s2x-model (production v1, v4, v5) serves t-appr-s2x, which does not.
    await createTestSurface(db, { key: "t-appr-s2", bytes: demoModelBytes("linear"), featureSpec: spec });
    await createTestSurface(db, { key: "t-appr-s2x", bytes: demoModelBytes("popularity"), featureSpec: spec, extraVersions: [demoModelBytes("linear"), demoModelBytes("candidate")] });
    await callerAs(["admin"], "admin@approve.test").approvals.setRequired({ surface: "t-appr-s2", required: true, reason: "guarded" });
    const version = async (v: number) => (await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-appr-s2x-model" }, version: v } })).id;
    const stage2 = { model: "t-appr-s2x-model", alias: "production", rerankCount: 5, budgetMs: 100 };
    const stage2Of = async () => (await db.surface.findUniqueOrThrow({ where: { key: "t-appr-s2" } })).stage2;

    // The direct mutation is refused before it changes anything; a request with a bad model is refused naming the field.
    await expect(as(ana).surfaces.configureStage2({ surface: "t-appr-s2", stage2, reason: "direct" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining('surface "t-appr-s2" requires approval'),
    });
    expect(await stage2Of()).toBeNull();
    await expect(as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-appr-s2", stage2: { ...stage2, model: "nope" } }, reason: "typo" })).rejects.toThrow(
      'stage2.model: no model is registered as "nope"',
    );
    const request = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-appr-s2", stage2 }, reason: "rescore the top 5" });
    expect(request).toMatchObject({ kind: "surface_stage2", status: "pending", summary: "stage 2 of t-appr-s2: none → t-appr-s2x-model production over the top 5 within 100 ms" });
    await expect(as(ana).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await stage2Of()).toBeNull();
    expect(await as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    expect(await stage2Of()).toEqual(stage2);
    expect(await db.auditLog.findFirst({ where: { action: "surface.stage2", surfaceKeys: { has: "t-appr-s2" } }, orderBy: { id: "desc" } })).toMatchObject({ actor: "bo@approve.test" });

    // t-appr-s2x-model production now ranks t-appr-s2's top 5: moving it needs approval, though its own surface does not.
    await expect(as(ana).models.setAlias({ versionId: await version(4), alias: "production", reason: "direct" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining('surface "t-appr-s2" requires approval'),
    });
    expect(await as(viewer).models.aliasReach({ name: "t-appr-s2x-model", alias: "production" })).toEqual([
      { key: "t-appr-s2", roles: ["stage2"], requireApproval: true }, { key: "t-appr-s2x", roles: ["serving"], requireApproval: false },
    ]);
    const move = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: await version(4), alias: "production", expectFromVersionId: await version(1) }, reason: "v4 rescores better" });
    expect(move.summary).toBe("t-appr-s2x-model production: v1 → v4 (serves t-appr-s2 (stage 2), t-appr-s2x)");
    expect(await as(bo).approvals.decide({ id: move.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    // A request filed from a page that is stale by the time it is approved fails and moves nothing.
    const stale = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: await version(5), alias: "production", expectFromVersionId: await version(4) }, reason: "v5 next" });
    await as(bo).oncall.rollback({ surface: "t-appr-s2x", reason: "v4 misbehaves" });
    const refusal = "t-appr-s2x-model production changed since the request was filed (it showed v4, it is now v1): not applied over it; file a new request if the change is still wanted";
    await expect(as(bo).approvals.decide({ id: stale.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await db.changeRequest.findUniqueOrThrow({ where: { id: stale.id } })).toMatchObject({ status: "failed", error: refusal });
    expect((await db.modelAlias.findFirstOrThrow({ where: { model: { name: "t-appr-s2x-model" }, name: "production" }, include: { version: true } })).version.version).toBe(1);

    // Removing stage 2 is a request too.
    const removal = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-appr-s2", stage2: null }, reason: "not worth it" });
    expect(removal.summary).toBe("stage 2 of t-appr-s2: t-appr-s2x-model production over the top 5 within 100 ms → none");
    await as(bo).approvals.decide({ id: removal.id, approve: true, comment: "checked it" });
    expect(await stage2Of()).toBeNull();
    // Without stage 2, the alias moves freely again.
    expect((await as(ana).models.setAlias({ versionId: await version(4), alias: "production", reason: "now unguarded" })).to.version).toBe(4);
  });

  it("a canary start or a ship on an open surface is a request when the alias it promotes also serves a guarded surface", async () => {
    const db = getDb();
    const open = await createTestSurface(db, { key: "t-appr-open", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
    await db.surface.create({ data: { key: "t-appr-guarded", name: "t-appr-guarded", modelId: open.modelId, modelAlias: "production", requireApproval: true } });
    await expect(as(ana).rollouts.start({ surface: "t-appr-open", version: 4, reason: "canary" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining('surface "t-appr-guarded" requires approval'),
    });
    const request = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-appr-open", version: 4 } }, reason: "canary v4" });
    expect(request.summary).toBe("canary of t-appr-open-model v4 on t-appr-open (1 → 5 → 25 → 50 %, then promote: t-appr-open-model production v1 → v4, which also serves t-appr-guarded); judge policy: the defaults");
    await as(ana).approvals.cancel({ id: request.id });
    const pm = await person("pm3@approve.test", ["pm"]);
    await as(pm).experiments.create(experimentInputSchema.parse({
      key: "appr-open-exp", name: "Open surface experiment", surface: "t-appr-open", owner: "pm3@approve.test", hypothesis: "x",
      variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelVersionId: (await db.modelVersion.findFirstOrThrow({ where: { modelId: open.modelId!, version: 4 } })).id }],
    }));
    await as(pm).experiments.start({ key: "appr-open-exp" });
    await expect(as(pm).experiments.ship({ key: "appr-open-exp", variant: "treat", reason: "ship it" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringContaining('surface "t-appr-guarded" requires approval'),
    });
    expect((await db.experiment.findUniqueOrThrow({ where: { key: "appr-open-exp" } })).status).toBe("running");
    await as(pm).experiments.stop({ key: "appr-open-exp", reason: "test over" });
  });

  it("#14 break test: a request filed without expectFromVersionId pins the version it showed; approved after an on-call rollback it is a 409 naming the alias and both versions", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "t-appr-pin", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity"), demoModelBytes("candidate")] });
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-appr-pin-model" }, include: { versions: true } });
    const id = (v: number) => model.versions.find((x) => x.version === v)!.id;
    const production = async () => (await db.modelAlias.findFirstOrThrow({ where: { modelId: model.id, name: "production" }, include: { version: true } })).version.version;
    // production: v1 → v4 → v5 (history), then guarded.
    await as(ana).models.setAlias({ versionId: id(4), alias: "production", reason: "ship v4" });
    await as(ana).models.setAlias({ versionId: id(5), alias: "production", reason: "ship v5" });
    await callerAs(["admin"], "admin@approve.test").approvals.setRequired({ surface: "t-appr-pin", required: true, reason: "guarded" });
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: id(1), alias: "production" }, reason: "back to v1" });
    expect(request.summary).toBe("t-appr-pin-model production: v5 → v1 (serves t-appr-pin)");
    expect(request.payload).toMatchObject({ expectFromVersionId: id(5) });
    // On-call rolls back meanwhile (never waits): production v5 → v4.
    expect((await as(bo).oncall.rollback({ surface: "t-appr-pin", reason: "incident" })).version).toBe(4);
    const refusal = "t-appr-pin-model production changed since the request was filed (it showed v5, it is now v4): not applied over it; file a new request if the change is still wanted";
    // The Approvals list says so before anyone presses Approve (the request is stale), in the same words.
    const listed = await as(bo).approvals.list({ status: "pending", surface: "t-appr-pin", limit: 100 });
    expect(listed.find((r) => r.id === request.id)?.stale).toBe(refusal);
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await production()).toBe(4);
    expect(await db.changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: refusal });
    expect(await db.auditLog.findFirst({ where: { action: "change_request.fail", surfaceKeys: { has: "t-appr-pin" } } })).toMatchObject({ actor: "bo@approve.test" });

    // A ship request pins production the same way.
    const pm = await person("pm-pin@approve.test", ["pm"]);
    const pm2 = await person("pm-pin2@approve.test", ["pm"]);
    await as(pm).experiments.create(experimentInputSchema.parse({
      key: "appr-pin-exp", name: "Pin experiment", surface: "t-appr-pin", owner: "pm-pin@approve.test", hypothesis: "x",
      variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelVersionId: id(5) }],
    }));
    await db.experiment.update({ where: { key: "appr-pin-exp" }, data: { status: "stopped", stoppedAt: new Date() } });
    const ship = await as(pm).approvals.request({ change: { kind: "experiment_ship", key: "appr-pin-exp", variant: "treat", override: true }, reason: "ship v5" });
    expect(ship.summary).toMatch(/^ship variant treat \(t-appr-pin-model v5\) of experiment appr-pin-exp to production on t-appr-pin, now v4; (overriding the checks that block it: |with an override of the ship checks \(none blocks it now\)$)/);
    expect(ship.payload).toMatchObject({ expectFromVersionId: id(4) });
    expect((await as(bo).oncall.rollback({ surface: "t-appr-pin", reason: "incident 2" })).version).toBe(1);
    await expect(as(pm2).approvals.decide({ id: ship.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: "t-appr-pin-model production changed since the request was filed (it showed v4, it is now v1): not applied over it; file a new request if the change is still wanted",
    });
    expect(await production()).toBe(1);
    expect((await db.experiment.findUniqueOrThrow({ where: { key: "appr-pin-exp" } })).status).toBe("stopped");
  });

  it("break test: of two canary start requests on one surface, once one is approved the other is stale (another rollout runs), as its approval's 409 says", async () => {
    const db = getDb();
    await callerAs(["admin"], "admin@approve.test").approvals.setRequired({ surface: "t-approve", required: true, reason: "guarded for canaries" });
    const current = await serving();
    const other = current === 4 ? 1 : 4;
    const first = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-approve", version: other, steps: [10, 50] } }, reason: "canary, ten then fifty" });
    const second = await as(bo).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-approve", version: other, steps: [25] } }, reason: "canary, a quarter" });
    // Second review: a move of the alias the canary will be judged on, and a canary on a surface sharing that alias.
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-approve-model" }, include: { versions: true } });
    await db.surface.create({ data: { key: "t-approve-b", name: "t-approve-b", modelId: model.id, modelAlias: "production", timeoutMs: 1000 } });
    const move = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: model.versions.find((v) => v.version === other)!.id, alias: "production" }, reason: "straight to it" });
    const shared = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-approve-b", version: other, steps: [25] } }, reason: "canary on b" });
    const staleOf = async (id: string) => (await as(viewer).approvals.list({ status: "pending", limit: 100 })).find((r) => r.id === id)?.stale;
    expect([await staleOf(second.id), await staleOf(move.id), await staleOf(shared.id)]).toEqual([null, null, null]);
    expect(await as(bo).approvals.decide({ id: first.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    const refusal = 'a rollout is already running on "t-approve": abort it first';
    expect(await staleOf(second.id)).toBe(refusal);
    const rollout = await db.rollout.findFirstOrThrow({ where: { surface: { key: "t-approve" }, status: "running" } });
    // Each as the lever itself refuses it (a direct call with the same input meets the same words).
    const moveRefusal = `t-approve-model production is the serving alias (the baseline) of rollout ${rollout.id} on "t-approve" (running, v${other} at 10 %): moving it now would change what that canary is judged against. Promote or abort the rollout first (an on-call rollback always works, and aborts it)`;
    expect(await staleOf(move.id)).toBe(moveRefusal);
    await expect(as(bo).approvals.decide({ id: move.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: moveRefusal });
    const sharedStale = await staleOf(shared.id);
    expect(sharedStale).toBe(`cannot start a canary on "t-approve-b": t-approve-model production also serves "t-approve", where rollout ${rollout.id} is running (v${other} at 10 %); promoting here would move the baseline that rollout is judged against. Let it end, or abort it, first`);
    await expect(as(bo).approvals.decide({ id: shared.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: sharedStale });
    await expect(as(ana).approvals.decide({ id: second.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await db.changeRequest.findUniqueOrThrow({ where: { id: second.id } })).toMatchObject({ status: "failed", error: refusal });
    await as(bo).rollouts.abort({ surface: "t-approve", reason: "test over" });
    expect(await serving()).toBe(current);
  });
});
