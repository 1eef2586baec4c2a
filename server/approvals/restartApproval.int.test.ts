// Restarting a started experiment with changes on a surface that requires approval (real PostgreSQL,
// the real routers): the direct restart is refused pointing to the request; an `experiment_restart`
// request is checked as a direct restart is when filed, says what changes and that a new phase
// starts, pins what it was filed against, and another person's approval opens the new phase with
// the changes — or, when the experiment changed since, is a 409 naming what changed, and nothing applies.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { storedDefinition } from "../domain/experiments/definition";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { experimentInputSchema, type ExperimentInput } from "../experiments/schema";
import { createCaller } from "../routers/_app";
import { callerAs, createdPerson } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";

const person = createdPerson;
const as = (p: Principal) => createCaller(contextFor(p));
const sql = (q: string, ...args: unknown[]) => getDb().$executeRawUnsafe(q, ...args);

let ana: Principal;
let bo: Principal;
/** Model version ids of t-rst-model by number: v1 production, v2 fallback, v4 and v5 spare. */
let id: (version: number) => string;

beforeAll(async () => {
  const db = getDb();
  await createTestSurface(db, { key: "t-rst", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity"), extraVersions: [demoModelBytes("candidate"), linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0)] });
  await createTestSurface(db, { key: "t-rst-other", bytes: demoModelBytes("popularity"), featureSpec: demoFeatureSpec() });
  const versions = await db.modelVersion.findMany({ where: { model: { name: "t-rst-model" } } });
  id = (v) => versions.find((x) => x.version === v)!.id;
  ana = await person("ana@rst.test", ["pm"]);
  bo = await person("bo@rst.test", ["pm"]);
});

const definition = (key: string, overrides: Partial<ExperimentInput> = {}, weights = [0.5, 0.5], treat: { modelAlias?: string; modelVersionId?: string } = { modelVersionId: "" }) => experimentInputSchema.parse({
  key, name: key, surface: "t-rst", owner: "ana@rst.test", hypothesis: "v4 lifts CTR",
  variants: [{ key: "control", name: "control", weight: weights[0], isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: weights[1], ...(treat.modelVersionId === "" ? { modelVersionId: id(4) } : treat) }],
  guardrails: [], secondaryMetrics: [],
  ...overrides,
});

/** Creates `key` on t-rst and starts it (phase 1, running) with the surface unguarded, then guards it again. */
async function running(key: string, treat?: { modelAlias?: string; modelVersionId?: string }) {
  await sql(`UPDATE surfaces SET require_approval = false WHERE key = 't-rst'`);
  try {
    await as(ana).experiments.create(definition(key, {}, [0.5, 0.5], treat));
    await as(ana).experiments.start({ key });
  } finally {
    await sql(`UPDATE surfaces SET require_approval = true WHERE key = 't-rst'`);
  }
}
const stored = (key: string) => getDb().experiment.findUniqueOrThrow({ where: { key }, include: { variants: { orderBy: { position: "asc" } }, phases: { orderBy: { phase: "asc" } } } });

describe("restarting an experiment with changes on a guarded surface", () => {
  beforeAll(async () => {
    await callerAs(["admin"], "admin@rst.test").approvals.setRequired({ surface: "t-rst", required: true, reason: "guarded" });
  });

  it("the direct restart is a 409 pointing to the request; a request says what changes, its requester cannot approve it, and another's approval opens the new phase with the changes", async () => {
    await running("rst-apply");
    const changed = definition("rst-apply", {
      coverage: 0.5, primaryMetric: "conversion", analysisMode: "fixed", minDetectableEffect: 0.03,
      guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }], name: "rst apply, ramped",
    }, [0.2, 0.8]);
    await expect(as(ana).experiments.restart({ experiment: changed, reason: "ramp" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^surface "t-rst" requires approval for this change: request the restart \(an experiment_restart change request: "Request restart" in the experiment's restart dialog\)/),
    });
    expect(await stored("rst-apply")).toMatchObject({ phase: 1, coverage: 1 });

    const request = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-apply", experiment: changed }, reason: "ramp treat to 80 %" });
    expect(request).toMatchObject({ kind: "experiment_restart", status: "pending" });
    expect(request.summary).toBe([
      "restart experiment rst-apply with changes on t-rst: phase 1 ends and phase 2 starts, running (a new analysis phase: its results start from zero, phase 1's stay in history);",
      "variants: control 50 % (control, production, t-rst-model v1), treat 50 % (t-rst-model v4) → control 20 % (control, production, t-rst-model v1), treat 80 % (t-rst-model v4);",
      "coverage: 100 % → 50 %;",
      "primary metric: ctr → conversion;",
      "guardrails: none → fallback_rate must not rise by more than 50 %;",
      "analysis engine: sequential → fixed;",
      "minimum detectable effect: none → 3 %;",
      'name: "rst-apply" → "rst apply, ramped"',
    ].join("\n"));
    expect((request.payload as { pinned: unknown }).pinned).toMatchObject({ restartFrom: { phase: 1, status: "running" }, versions: { control: id(1), treat: id(4) } });

    // Four eyes: the requester cannot decide their own request.
    await expect(as(ana).approvals.decide({ id: request.id, approve: true, comment: "self-approved" })).rejects.toMatchObject({ code: "CONFLICT", message: "id: you cannot approve or reject your own request; another person must" });
    expect(await stored("rst-apply")).toMatchObject({ phase: 1 });

    const decided = await as(bo).approvals.decide({ id: request.id, approve: true, comment: "ramp checked" });
    expect(decided).toMatchObject({ status: "applied", decidedById: bo.id, surfaces: ["t-rst"] });
    const after = await stored("rst-apply");
    expect(after).toMatchObject({ status: "running", phase: 2, coverage: 0.5, primaryMetric: "conversion", analysisMode: "fixed", minDetectableEffect: 0.03, name: "rst apply, ramped", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }] });
    expect(after.variants.map((v) => [v.key, v.weight])).toEqual([["control", 0.2], ["treat", 0.8]]);
    expect(after.phases).toHaveLength(2);
    expect(after.phases[0]!.endedAt).not.toBeNull();
    expect(after.phases[1]).toMatchObject({ phase: 2, weights: { control: 0.2, treat: 0.8 }, coverage: 0.5, endedAt: null });
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "experiment.restart", entityId: after.id } });
    expect(entry).toMatchObject({ actor: "bo@rst.test", before: { phase: 1, status: "running" }, after: { phase: 2, status: "running" }, reason: "ramp treat to 80 % (requested by ana@rst.test, approved by bo@rst.test)" });
    await as(bo).experiments.stop({ key: "rst-apply", reason: "test over" });
  });

  it("a stopped experiment's request says it resumes; approved, it runs in the next phase", async () => {
    await running("rst-resume");
    await as(ana).experiments.stop({ key: "rst-resume", reason: "pause" });
    const request = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-resume", experiment: definition("rst-resume", { coverage: 0.25 }) }, reason: "resume at a quarter" });
    expect(request.summary).toBe("restart experiment rst-resume with changes on t-rst: stopped in phase 1, it resumes in phase 2 (a new analysis phase: its results start from zero, phase 1's stay in history);\ncoverage: 100 % → 25 %");
    await as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" });
    expect(await stored("rst-resume")).toMatchObject({ status: "running", phase: 2, coverage: 0.25 });
    await as(bo).experiments.stop({ key: "rst-resume", reason: "test over" });
  });

  it("weights round-tripped through the form's percentages are no change: an edit is allowed and a restart's summary lists only what changed (break: 0.6667 → 66.67 % → 0.6667000000000001)", async () => {
    await sql(`UPDATE surfaces SET require_approval = false WHERE key = 't-rst'`);
    try {
      await as(ana).experiments.create(definition("rst-noise", {}, [0.3333, 0.6667]));
      await as(ana).experiments.start({ key: "rst-noise" });
      // What the form sent before it converted without noise: 33.33 / 100 and 66.67 / 100.
      const noisy = [33.33 / 100, 66.67 / 100];
      expect(noisy).not.toEqual([0.3333, 0.6667]);
      // An edit of the hypothesis alone, with the form's weights: allowed (it was a 409 "changing variants needs a restart").
      await as(ana).experiments.update(definition("rst-noise", { hypothesis: "v4 lifts CTR by 2 %" }, noisy));
      expect(await stored("rst-noise")).toMatchObject({ hypothesis: "v4 lifts CTR by 2 %", phase: 1, variants: [{ weight: 0.3333 }, { weight: 0.6667 }] });
    } finally {
      await sql(`UPDATE surfaces SET require_approval = true WHERE key = 't-rst'`);
    }
    // A restart request with the form's weights and a new coverage: the summary names the coverage only.
    const request = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-noise", experiment: definition("rst-noise", { coverage: 0.5, hypothesis: "v4 lifts CTR by 2 %" }, [33.33 / 100, 66.67 / 100]) }, reason: "half the traffic" });
    expect(request.summary).toBe("restart experiment rst-noise with changes on t-rst: phase 1 ends and phase 2 starts, running (a new analysis phase: its results start from zero, phase 1's stay in history);\ncoverage: 100 % → 50 %");
    await as(ana).approvals.cancel({ id: request.id });
    // A real weight change finer than the summary's 0.0001 % is written out whole, not as a "names" line.
    const fine = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-noise", experiment: definition("rst-noise", { hypothesis: "v4 lifts CTR by 2 %" }, [0.33329999, 0.66670001]) }, reason: "a hair more" });
    expect(fine.summary).toContain(";\nvariant weights: control 33.33 %, treat 66.67 % → control 33.329999 %, treat 66.670001 %");
    await as(ana).approvals.cancel({ id: fine.id });
    await as(ana).experiments.stop({ key: "rst-noise", reason: "test over" });
  });

  it("a bad field is refused when filed, naming it, and nothing is filed", async () => {
    await running("rst-bad");
    const filed = () => getDb().changeRequest.count({ where: { kind: "experiment_restart", summary: { contains: "rst-bad" } } });
    const ask = (experiment: unknown, key = "rst-bad") => as(ana).approvals.request({ change: { kind: "experiment_restart", key, experiment: experiment as ExperimentInput }, reason: "try it" });
    // As experiments.restart checks its input: the schema (weights that do not sum to 1)…
    await expect(ask({ ...definition("rst-bad"), variants: definition("rst-bad").variants.map((v) => ({ ...v, weight: 0.7 })) })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringContaining("change.experiment.variants: weights sum to 1.400, not 1"),
    });
    // …and the service: a variant's model that does not exist, another surface, another key.
    await expect(ask(definition("rst-bad", {}, [0.5, 0.5], { modelVersionId: "no-such-version" }))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: 'variants[1].modelVersionId: no model version "no-such-version"',
    });
    await expect(ask(definition("rst-bad", {}, [0.5, 0.5], { modelAlias: "canary" }))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: 'variants[1].modelAlias: the surface\'s model has no alias "canary"',
    });
    await expect(ask(definition("rst-bad", { surface: "t-rst-other" }))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringMatching(/^experiment\.surface: an experiment's surface cannot change \(it runs on "t-rst", not "t-rst-other"\)/),
    });
    await expect(ask(definition("rst-other-key"), "rst-bad")).rejects.toMatchObject({
      code: "BAD_REQUEST", message: 'experiment.key: an experiment\'s key cannot change (this restarts "rst-bad", not "rst-other-key")',
    });
    // A draft is started, not restarted.
    await sql(`UPDATE surfaces SET require_approval = false WHERE key = 't-rst'`);
    await as(ana).experiments.create(definition("rst-draft"));
    await sql(`UPDATE surfaces SET require_approval = true WHERE key = 't-rst'`);
    await expect(ask(definition("rst-draft"), "rst-draft")).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining('experiment "rst-draft" is draft; only a running or stopped experiment restarts') });
    // Someone without experiments.write cannot request it.
    const engineer = await person("eng@rst.test", ["ml_engineer"]);
    await expect(as(engineer).approvals.request({ change: { kind: "experiment_restart", key: "rst-bad", experiment: definition("rst-bad", { coverage: 0.5 }) }, reason: "try it" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await filed()).toBe(0);
    expect(await getDb().changeRequest.count({ where: { kind: "experiment_restart", summary: { contains: "rst-draft" } } })).toBe(0);
    expect(await stored("rst-bad")).toMatchObject({ phase: 1, coverage: 1 });
    await as(bo).experiments.stop({ key: "rst-bad", reason: "test over" });
  });

  it("approved after the experiment changed since it was filed (another restart, a stop, an edit, a variant's alias moved) it is a 409 naming what changed, and nothing applies", async () => {
    await running("rst-pin");
    const half = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-pin", experiment: definition("rst-pin", { coverage: 0.5 }) }, reason: "half the traffic" });
    const ramp = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-pin", experiment: definition("rst-pin", {}, [0.1, 0.9]) }, reason: "ramp" });
    // Another restart applies first: phase 2, new weights.
    await as(bo).approvals.decide({ id: ramp.id, approve: true, comment: "ramp checked" });
    const refusal = 'experiment "rst-pin" changed since the request was filed (phase 1 → 2, variants): not restarted; file a new request for it as it is now';
    await expect(as(bo).approvals.decide({ id: half.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: half.id } })).toMatchObject({ status: "failed", error: refusal });
    const afterRamp = await stored("rst-pin");
    expect(afterRamp).toMatchObject({ phase: 2, coverage: 1, status: "running" });
    expect(afterRamp.phases).toHaveLength(2);

    // An edit of a field a restart also writes (the name), filed before it: refused, naming it.
    const renamed = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-pin", experiment: definition("rst-pin", { coverage: 0.5 }, [0.1, 0.9]) }, reason: "half the traffic" });
    await as(bo).experiments.update(definition("rst-pin", { name: "renamed meanwhile" }, [0.1, 0.9]));
    await expect(as(bo).approvals.decide({ id: renamed.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("changed since the request was filed (name)") });

    // A stop meanwhile (the phase stays 2): refused, naming it.
    const stopped = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-pin", experiment: definition("rst-pin", { coverage: 0.5, name: "renamed meanwhile" }, [0.1, 0.9]) }, reason: "half the traffic" });
    await as(bo).experiments.stop({ key: "rst-pin", reason: "guardrail scare" });
    await expect(as(bo).approvals.decide({ id: stopped.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("changed since the request was filed (running → stopped)") });
    expect(await stored("rst-pin")).toMatchObject({ phase: 2, coverage: 1, status: "stopped", name: "renamed meanwhile" });
    expect((await stored("rst-pin")).phases).toHaveLength(2);
  });

  it("a new variant's alias moved after the request was filed: 409 naming both versions, and nothing applies", async () => {
    await getDb().modelAlias.create({ data: { modelId: (await getDb().modelVersion.findUniqueOrThrow({ where: { id: id(4) } })).modelId, name: "cb", versionId: id(4) } });
    await running("rst-alias");
    const request = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-alias", experiment: definition("rst-alias", {}, [0.5, 0.5], { modelAlias: "cb" }) }, reason: "serve the cb alias" });
    expect(request.summary).toContain("treat 50 % (t-rst-model v4) → control 50 % (control, production, t-rst-model v1), treat 50 % (cb, t-rst-model v4)");
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'cb' AND model_id = (SELECT id FROM models WHERE name = 't-rst-model')`, id(5));
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'variant "treat" of rst-alias changed since the request was filed (it showed t-rst-model v4, it is now t-rst-model v5): not restarted; file a new request if the change is still wanted',
    });
    const after = await stored("rst-alias");
    expect(after).toMatchObject({ phase: 1, status: "running" });
    expect(after.variants.map((v) => v.modelVersionId)).toEqual([null, id(4)]);
    await as(bo).experiments.stop({ key: "rst-alias", reason: "test over" });
  });

  it("a ship filed on phase 1's results is refused once an approved restart opened phase 2 (review: it shipped from a phase with no data and another decision rule)", async () => {
    await running("rst-ship");
    const ship = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "rst-ship", variant: "treat" }, reason: "treat wins in phase 1" });
    const restart = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-ship", experiment: definition("rst-ship", { primaryMetric: "conversion" }, [0.9, 0.1]) }, reason: "new phase" });
    await as(bo).approvals.decide({ id: restart.id, approve: true, comment: "restart ok" });
    await expect(as(bo).approvals.decide({ id: ship.id, approve: true, comment: "ship ok" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "rst-ship" changed since the request was filed (it showed phase 1, it is now phase 2): not shipped; file a new request on phase 2\'s results',
    });
    expect(await stored("rst-ship")).toMatchObject({ phase: 2, status: "running" });
    await as(bo).experiments.stop({ key: "rst-ship", reason: "test over" });
  });

  /** The experiment as the edit form loads it (the edit page): what a restart request sends as expectBefore. */
  const formLoads = async (key: string) => {
    const e = await as(ana).experiments.get({ key });
    return { phase: e.phase, status: e.status, definition: storedDefinition(e) };
  };
  const requestsOf = (key: string) => getDb().changeRequest.count({ where: { summary: { contains: `experiment ${key} ` } } });

  it("a restart request filed from a form loaded before another restart is refused when filed (409 naming what changed), and nothing is filed or audited; reloaded, or unpinned, it is filed (#4)", async () => {
    await running("rst-shown");
    const anasForm = await formLoads("rst-shown");
    // Another restart is approved meanwhile: phase 2, treat at 90 %.
    const ramp = await as(bo).approvals.request({ change: { kind: "experiment_restart", key: "rst-shown", experiment: definition("rst-shown", {}, [0.1, 0.9]), expectBefore: await formLoads("rst-shown") }, reason: "ramp" });
    await as(ana).approvals.decide({ id: ramp.id, approve: true, comment: "ramp checked" });
    const [filed, audits] = [await requestsOf("rst-shown"), await getDb().auditLog.count()];
    // Ana's form still shows 50/50 in phase 1: her request would put the weights back.
    await expect(as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-shown", experiment: definition("rst-shown", { coverage: 0.5 }), expectBefore: anasForm }, reason: "half the traffic" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "rst-shown" changed since it was shown (phase 1 → 2, variants): no request filed; reload the form and decide',
    });
    expect(await requestsOf("rst-shown")).toBe(filed);
    expect(await getDb().auditLog.count()).toBe(audits);
    const reloaded = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-shown", experiment: definition("rst-shown", { coverage: 0.5 }, [0.1, 0.9]), expectBefore: await formLoads("rst-shown") }, reason: "half the traffic" });
    expect(reloaded).toMatchObject({ status: "pending" });
    expect(reloaded.summary).toContain("phase 2 ends and phase 3 starts");
    const unpinned = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "rst-shown", experiment: definition("rst-shown", { coverage: 0.25 }, [0.1, 0.9]) }, reason: "a quarter" });
    expect(unpinned).toMatchObject({ status: "pending" });
    await as(bo).experiments.stop({ key: "rst-shown", reason: "test over" });
  });

  it("a ship request filed from a dialog that showed phase 1 is refused when filed once a restart opened phase 2; nothing is filed (#1)", async () => {
    await running("rst-shipshown");
    // The dialog showed phase 1, treat serving v4, nothing blocking.
    const shown = { expectPhase: 1, expectVersionId: id(4), expectBlockers: [] };
    const restart = await as(bo).approvals.request({ change: { kind: "experiment_restart", key: "rst-shipshown", experiment: definition("rst-shipshown", {}, [0.5, 0.5], { modelVersionId: id(5) }) }, reason: "treat on v5" });
    await as(ana).approvals.decide({ id: restart.id, approve: true, comment: "v5 checked" });
    const filed = await requestsOf("rst-shipshown");
    await expect(as(ana).approvals.request({ change: { kind: "experiment_ship", key: "rst-shipshown", variant: "treat", ...shown }, reason: "treat wins in phase 1" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "rst-shipshown" changed since it was shown (it showed phase 1, it is now phase 2): no request filed; look at its results again and decide',
    });
    await expect(as(ana).approvals.request({ change: { kind: "experiment_ship", key: "rst-shipshown", variant: "treat", expectVersionId: id(4) }, reason: "treat wins in phase 1" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'variant "treat" of rst-shipshown changed since it was shown (it showed t-rst-model v4, it is now t-rst-model v5): no request filed; look at it again and decide',
    });
    expect(await requestsOf("rst-shipshown")).toBe(filed);
    const again = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "rst-shipshown", variant: "treat", expectPhase: 2, expectVersionId: id(5), expectBlockers: [] }, reason: "treat wins in phase 2" });
    expect(again.summary).toMatch(/^ship variant treat \(t-rst-model v5\) of experiment rst-shipshown/);
    await as(ana).approvals.cancel({ id: again.id });
    await as(bo).experiments.stop({ key: "rst-shipshown", reason: "test over" });
  });

  it("an approved ship whose experiment a restart moves to phase 2 while the ship waits for the experiment's lock ships nothing (#1: the phase is compared under the lock)", async () => {
    await running("rst-shiprace");
    const request = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "rst-shiprace", variant: "treat" }, reason: "treat wins in phase 1" });
    const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-rst-model" }, name: "production" } })).versionId;
    const before = await production();
    let decided: Promise<unknown> | undefined;
    await getDb().$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM experiments WHERE key = 'rst-shiprace' FOR UPDATE`;
      decided = as(bo).approvals.decide({ id: request.id, approve: true, comment: "ship ok" }).catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 1_500));
      await tx.$executeRaw`UPDATE experiments SET phase = 2 WHERE key = 'rst-shiprace'`;
    }, { timeout: 30_000 });
    const refusal = 'experiment "rst-shiprace" changed since the request was filed (it showed phase 1, it is now phase 2): not shipped; file a new request on phase 2\'s results';
    expect(await decided).toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: refusal });
    expect(await production()).toBe(before);
    expect(await stored("rst-shiprace")).toMatchObject({ phase: 2, status: "running" });
    await as(bo).experiments.stop({ key: "rst-shiprace", reason: "test over" });
  });
});
