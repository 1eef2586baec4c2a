// An approval applies what its summary showed, or nothing (session 21 break test of access control).
// Real PostgreSQL and the real routers: a ship's variant version, a start's allocation and a surface's
// stage 2 are pinned when the request is filed; an approval that cannot apply answers its error (not
// a 200) and stores no driver text; a withdrawal is audited; four-eyes is switched by people only.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { experimentInputSchema } from "../experiments/schema";
import { experimentAllocation, getExperiment, shipExperiment } from "../experiments/service";
import { createCaller } from "../routers/_app";
import { callerAs, createdPerson } from "../testing/callers";
import { experimentLogRow, flushTelemetry } from "../testing/experiments";
import { createTestSurface } from "../testing/models";
import { telemetry } from "../telemetry/streams";
import { contextFor } from "../trpc";

const person = createdPerson;
const as = (p: Principal) => createCaller(contextFor(p));
const sql = (q: string, ...args: unknown[]) => getDb().$executeRawUnsafe(q, ...args);
const admin = () => callerAs(["admin"], "admin@pins.test");

let ana: Principal;
let bo: Principal;
/** Model version ids of t-pins-model by number: v1 production, v2 fallback, v4 and v5 spare. */
let id: (version: number) => string;
const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-pins-model" }, name: "production" }, include: { version: true } })).version.version;

beforeAll(async () => {
  const db = getDb();
  await createTestSurface(db, { key: "t-pins", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity"), extraVersions: [demoModelBytes("candidate"), linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0)] });
  const versions = await db.modelVersion.findMany({ where: { model: { name: "t-pins-model" } } });
  id = (v) => versions.find((x) => x.version === v)!.id;
  ana = await person("ana@pins.test", ["ml_engineer", "pm"]);
  bo = await person("bo@pins.test", ["ml_engineer", "oncall", "pm"]);
  await admin().approvals.setRequired({ surface: "t-pins", required: true, reason: "guarded" });
});

const experiment = (key: string, treat: { modelAlias?: string; modelVersionId?: string }, weights = [0.5, 0.5]) => experimentInputSchema.parse({
  key, name: key, surface: "t-pins", owner: "ana@pins.test", hypothesis: "x",
  variants: [{ key: "control", name: "control", weight: weights[0], isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: weights[1], ...treat }],
});

describe("an approval applies what its summary showed", () => {
  it("a ship names the version its variant serves; if the variant's alias moved since, the approval is a 409 and production stays", async () => {
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'fallback' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(4));
    await as(ana).experiments.create(experiment("pins-ship", { modelAlias: "fallback" }));
    await sql(`UPDATE experiments SET status = 'stopped', stopped_at = now() WHERE key = 'pins-ship'`);
    const request = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "pins-ship", variant: "treat", override: true }, reason: "treat (v4) won" });
    expect(request.summary).toMatch(/^ship variant treat \(t-pins-model v4\) of experiment pins-ship to production on t-pins, now v1; (overriding the checks that block it: |with an override of the ship checks \(none blocks it now\)$)/);
    // The variant's alias moves to v5 (fallback ranks no guarded traffic here… it is the cascade's: moved by SQL, as another replica or psql would).
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'fallback' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(5));
    const refusal = 'variant "treat" of pins-ship changed since the request was filed (it showed t-pins-model v4, it is now t-pins-model v5): not shipped; file a new request if the change is still wanted';
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await production()).toBe(1);
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: refusal });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-ship" } })).status).toBe("stopped");
  });

  it("a start names each variant's share and version; an experiment edited after the request was filed is not started", async () => {
    await as(ana).experiments.create(experiment("pins-start", { modelVersionId: id(4) }));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-start" }, reason: "ready" });
    expect(request.summary).toBe("start experiment pins-start: its variants serve part of t-pins's traffic: control 50 % (production, t-pins-model v1), treat 50 % (t-pins-model v4); judged by primary metric: ctr; analysis engine: sequential; guardrails: none; minimum detectable effect: none");
    // Edited while the request waits: 99 % to another version.
    await as(ana).experiments.update(experiment("pins-start", { modelVersionId: id(5) }, [0.01, 0.99]));
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "pins-start" changed since the request was filed (variants): not started; file a new request for it as it is now',
    });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-start" } })).status).toBe("draft");
    // Filed again as it is now, it starts; a description edit alone would not have counted.
    const again = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-start" }, reason: "ready, 1/99" });
    expect(await as(bo).approvals.decide({ id: again.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied", surfaces: ["t-pins"] });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-start" } })).status).toBe("running");
    await as(bo).experiments.stop({ key: "pins-start", reason: "test over" });
  });

  it("a start request filed from a page that showed another allocation or phase is refused when filed (409 naming what changed); nothing is filed", async () => {
    await as(ana).experiments.create(experiment("pins-shown", { modelVersionId: id(4) }));
    const shown = experimentAllocation(await getExperiment(getDb(), "pins-shown"));
    // Another tab moves the split to 10/90 after the page showed 50/50.
    await as(ana).experiments.update(experiment("pins-shown", { modelVersionId: id(4) }, [0.1, 0.9]));
    await expect(as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-shown", expectPhase: 0, expectAllocation: shown }, reason: "ready" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "pins-shown" changed since it was shown (variants): no request filed; look at it again and decide',
    });
    await expect(as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-shown", expectPhase: 1 }, reason: "ready" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "pins-shown" changed since it was shown (phase 1 → 0): no request filed; look at it again and decide',
    });
    expect(await getDb().changeRequest.count({ where: { payload: { path: ["key"], equals: "pins-shown" } } })).toBe(0);
    // As it is now, it is filed.
    const now = experimentAllocation(await getExperiment(getDb(), "pins-shown"));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-shown", expectPhase: 0, expectAllocation: now }, reason: "ready, 10/90" });
    expect(request.summary).toContain("control 10 %");
    await as(ana).approvals.cancel({ id: request.id });
  });

  it("an approved start request is compared again when applied: a phase started and stopped since, or an edit since, is a 409, the request failed, and nothing starts", async () => {
    await as(ana).experiments.create(experiment("pins-resume", { modelVersionId: id(4) }));
    await sql(`UPDATE experiments SET status = 'stopped', phase = 1, stopped_at = now() WHERE key = 'pins-resume'`);
    const shown = experimentAllocation(await getExperiment(getDb(), "pins-resume"));
    const resume = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-resume", expectPhase: 1, expectAllocation: shown }, reason: "resume" });
    // Resumed and stopped again elsewhere (phase 2) while the request waited: approved, it would resume phase 3, not what was filed.
    await sql(`UPDATE experiments SET phase = 2 WHERE key = 'pins-resume'`);
    const refusal = 'experiment "pins-resume" changed since the request was filed (phase 1 → 2): not started; file a new request for it as it is now';
    await expect(as(bo).approvals.decide({ id: resume.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: resume.id } })).toMatchObject({ status: "failed", error: refusal });
    expect(await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-resume" } })).toMatchObject({ status: "stopped", phase: 2 });

    await as(ana).experiments.create(experiment("pins-edited", { modelVersionId: id(4) }));
    const filed = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-edited", expectPhase: 0, expectAllocation: experimentAllocation(await getExperiment(getDb(), "pins-edited")) }, reason: "ready" });
    await as(ana).experiments.update({ ...experiment("pins-edited", { modelVersionId: id(4) }), coverage: 0.5 });
    const edited = 'experiment "pins-edited" changed since the request was filed (coverage): not started; file a new request for it as it is now';
    await expect(as(bo).approvals.decide({ id: filed.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: edited });
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: filed.id } })).toMatchObject({ status: "failed", error: edited });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-edited" } })).status).toBe("draft");
  });

  it("a stage 2 request is not applied over a stage 2 set since it was filed", async () => {
    await createTestSurface(getDb(), { key: "t-pins-s2x", bytes: demoModelBytes("popularity"), featureSpec: demoFeatureSpec() });
    const stage2 = { model: "t-pins-s2x-model", alias: "production", rerankCount: 5, budgetMs: 100 };
    const first = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2 }, reason: "rescore the top 5" });
    const second = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2: { ...stage2, rerankCount: 10 } }, reason: "no, the top 10" });
    expect(await as(bo).approvals.decide({ id: second.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    await expect(as(bo).approvals.decide({ id: first.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "stage 2 of t-pins changed since the request was filed (it showed none, it is now t-pins-s2x-model production over the top 10 within 100 ms): not applied over it; file a new request if the change is still wanted",
    });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-pins" } })).stage2).toMatchObject({ rerankCount: 10 });
    // Stored stage 2 comes back from jsonb with its keys in another order: an unchanged one still applies.
    const remove = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2: null }, reason: "off again" });
    expect(await as(bo).approvals.decide({ id: remove.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
  });

  it("a stage 2 request filed from a dialog that showed another stage 2 is refused when filed (break test: a stale tab's request quietly undid a newer stage 2)", async () => {
    const stage2 = { model: "t-pins-s2x-model", alias: "production", rerankCount: 5, budgetMs: 100 };
    // Stored: none (the previous test removed it). The stale dialog showed the top 10.
    const pending = await getDb().changeRequest.count({ where: { status: "pending" } });
    await expect(as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2, expectBefore: { ...stage2, rerankCount: 10 } }, reason: "top 5" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "stage 2 of t-pins changed since it was shown (it showed t-pins-s2x-model production over the top 10 within 100 ms, it is now none): no request filed; look at it again and decide",
    });
    expect(await getDb().changeRequest.count({ where: { status: "pending" } })).toBe(pending);
    // What is stored, pinned: filed.
    const filed = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2, expectBefore: null }, reason: "top 5" });
    expect(filed).toMatchObject({ status: "pending", summary: "stage 2 of t-pins: none → t-pins-s2x-model production over the top 5 within 100 ms" });
    await as(ana).approvals.cancel({ id: filed.id });
  });
});

describe("pins under concurrency and what a summary shows (session 21, second break test)", () => {
  it("two stage 2 requests approved at the same moment: one applies, the other is a 409 (both applied before)", async () => {
    const stage2 = { model: "t-pins-s2x-model", alias: "production", rerankCount: 5, budgetMs: 100 };
    for (let round = 0; round < 3; round++) {
      const a = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2: { ...stage2, rerankCount: 10 + round } }, reason: "top 10" });
      const b = await as(bo).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2: { ...stage2, rerankCount: 20 + round } }, reason: "top 20" });
      const decided = await Promise.allSettled([as(bo).approvals.decide({ id: a.id, approve: true, comment: "checked it" }), as(ana).approvals.decide({ id: b.id, approve: true, comment: "checked it" })]);
      expect(decided.map((d) => d.status).sort(), `round ${round}`).toEqual(["fulfilled", "rejected"]);
      expect((decided.find((d) => d.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^stage 2 of t-pins changed since the request was filed/) });
      const off = await as(ana).approvals.request({ change: { kind: "surface_stage2", surface: "t-pins", stage2: null }, reason: "off" });
      await as(bo).approvals.decide({ id: off.id, approve: true, comment: "checked it" });
    }
  });

  it("an edit racing the approval of a start: the experiment runs the allocation the request showed, or does not start", async () => {
    for (let round = 0; round < 4; round++) {
      const key = `pins-race-${round}`;
      await as(ana).experiments.create(experiment(key, { modelVersionId: id(4) }));
      const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key }, reason: "ready" });
      await Promise.allSettled([as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" }), as(ana).experiments.update({ ...experiment(key, { modelVersionId: id(4) }), coverage: 0.9 })]);
      const stored = await getDb().experiment.findUniqueOrThrow({ where: { key } });
      if (stored.status === "running") expect(stored.coverage, `round ${round}`).toBe(1);
      else expect(stored.status).toBe("draft");
      if (stored.status === "running") await as(bo).experiments.stop({ key, reason: "round over" });
    }
  });

  it("kind is part of the allocation: a running experiment changes it only by a restart, and a start request pins it", async () => {
    await as(ana).experiments.create(experiment("pins-kind", { modelVersionId: id(4) }));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-kind" }, reason: "A/B" });
    await as(ana).experiments.update({ ...experiment("pins-kind", { modelVersionId: id(4) }), kind: "interleaving" });
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("(kind)") });
    await sql(`UPDATE surfaces SET require_approval = false WHERE key = 't-pins'`);
    try {
      await as(ana).experiments.start({ key: "pins-kind" });
      await expect(as(ana).experiments.update(experiment("pins-kind", { modelVersionId: id(4) }))).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^experiment "pins-kind" is running: changing kind needs a restart with the changes, which starts a new analysis phase \(phase 2\)/) });
      await as(ana).experiments.stop({ key: "pins-kind", reason: "test over" });
    } finally {
      await sql(`UPDATE surfaces SET require_approval = true WHERE key = 't-pins'`);
    }
  });

  it("a start whose variant's alias moved after the request was filed is a 409 naming both versions", async () => {
    const v4 = await getDb().modelVersion.findUniqueOrThrow({ where: { id: id(4) } });
    await getDb().modelAlias.create({ data: { modelId: v4.modelId, name: "cb", versionId: v4.id } });
    await as(ana).experiments.create(experiment("pins-cb", { modelAlias: "cb" }));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "pins-cb" }, reason: "try the cb alias" });
    expect(request.summary).toContain("treat 50 % (cb, t-pins-model v4)");
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'cb' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(5));
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'variant "treat" of pins-cb changed since the request was filed (it showed t-pins-model v4, it is now t-pins-model v5): not started; file a new request if the change is still wanted',
    });
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "pins-cb" } })).status).toBe("draft");
  });

  it("an override approved after a new check blocks the ship (a sample-ratio mismatch since) is a 409 naming it", async () => {
    await as(ana).experiments.create(experiment("pins-ov", { modelVersionId: id(4) }));
    await getDb().experiment.update({ where: { key: "pins-ov" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    const request = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "pins-ov", variant: "treat", override: true }, reason: "ship it" });
    expect(request.summary).toMatch(/with an override of the ship checks \(none blocks it now\)$/);
    for (let u = 0; u < 40; u++) telemetry().requests.enqueue(experimentLogRow("pins-ov", "t-pins", `ov-${u}`, "control", 0));
    await flushTelemetry();
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^the ship checks of pins-ov changed since the request was filed \(now also: sample-ratio mismatch.*\): not shipped; file a new request if the override is still wanted$/),
    });
    expect(await production()).toBe(1);
  });
});

describe("a ship racing an edit (review)", () => {
  it("a ship whose arm a concurrent edit changed under the experiment's lock ships nothing", async () => {
    await as(ana).experiments.create(experiment("pins-shiprace", { modelVersionId: id(4) }));
    await sql(`UPDATE experiments SET status = 'stopped', stopped_at = now() WHERE key = 'pins-shiprace'`);
    let ship: Promise<unknown> | undefined;
    await getDb().$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM experiments WHERE key = 'pins-shiprace' FOR UPDATE`;
      ship = shipExperiment(getDb(), "pins-shiprace", "treat", { kind: "user", id: null, name: "ana@pins.test" }, "treat won").catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 500));
      await tx.experimentVariant.updateMany({ where: { experiment: { key: "pins-shiprace" }, key: "treat" }, data: { modelVersionId: id(5) } });
    });
    expect(await ship).toMatchObject({ code: "CONFLICT", message: expect.stringContaining('variant "treat" of pins-shiprace changed while it was being shipped (it now serves t-pins-model v5)') });
    expect(await production()).toBe(1);
  });
});

describe("an approval that cannot apply says so", () => {
  it("a canary start of a version that does not exist is refused when filed, naming the field", async () => {
    await expect(as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 99 } }, reason: "canary v99" })).rejects.toMatchObject({
      code: "BAD_REQUEST", message: "version: t-pins-model has no v99",
    });
    expect(await getDb().changeRequest.count({ where: { summary: { contains: "v99" } } })).toBe(0);
  });

  it("an approved canary start whose version serves by then answers the 400 a direct start gives, and the request is failed with that message", async () => {
    const request = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 4 } }, reason: "canary v4" });
    // As stored before starts pinned their baseline (a pinned one is refused first: production moved since it was filed).
    await sql(`UPDATE change_requests SET payload = payload #- '{rollout,expectFromVersionId}' WHERE id = $1`, request.id);
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'production' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(4));
    try {
      await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: 'version: v4 already serves "t-pins" (production)' });
      expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: 'version: v4 already serves "t-pins" (production)' });
    } finally {
      await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'production' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(1));
    }
  });

  it("a database fault while applying is a 500 whose stored error names what failed, never the driver's text", async () => {
    const request = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5 } }, reason: "canary v5" });
    await sql(`CREATE OR REPLACE FUNCTION pins_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault in rollouts'; END $$`);
    await sql(`CREATE TRIGGER pins_fault BEFORE INSERT ON rollouts FOR EACH ROW EXECUTE FUNCTION pins_fault()`);
    try {
      await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    } finally {
      await sql(`DROP TRIGGER pins_fault ON rollouts`);
    }
    const stored = await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(stored.status).toBe("failed");
    expect(stored.error).toMatch(/applying the approved change/);
    expect(stored.error).not.toMatch(/prisma|injected|P0001|invocation/i);
    expect(await getDb().rollout.count({ where: { surface: { key: "t-pins" } } })).toBe(0);
  });

  it("break test: a canary start whose tolerances turn a metric off is refused when filed (400 naming the field); one within bounds names and pins every non-default tolerance, and the approved start uses exactly them", async () => {
    await expect(as(ana).approvals.request({
      change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, minRequests: 100, maxFallbackRateIncrease: 1 } }, reason: "canary v5",
    })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^maxFallbackRateIncrease: 1 is above 0\.1 /) });
    for (const [field, value] of [["minRequests", 10], ["maxLatencyIncrease", 100], ["maxTailShareIncrease", 1], ["maxCtrDecrease", 1]] as const) {
      await expect(as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, [field]: value } }, reason: "canary v5" }), field)
        .rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(new RegExp(`^${field}: `)) });
    }
    const request = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, steps: [50], maxFallbackRateIncrease: 0.05 } }, reason: "canary v5, looser fallbacks" });
    expect(request.summary).toContain("; judge policy: fallback tolerance +5 points (default +1 points)");
    // Pinned: every settable field written out, as shown.
    expect((request.payload as { rollout: Record<string, unknown> }).rollout).toMatchObject({ maxFallbackRateIncrease: 0.05, minRequests: 500, minImpressions: 20_000, maxCtrDecrease: 0.05, stepDeadlineMinutes: 120 });
    await as(bo).approvals.decide({ id: request.id, approve: true, comment: "tolerance checked" });
    const rollout = await getDb().rollout.findFirstOrThrow({ where: { surface: { key: "t-pins" }, status: "running" } });
    expect((rollout.analysis as { policy: Record<string, unknown> }).policy).toMatchObject({ maxFallbackRateIncrease: 0.05, minRequests: 500 });
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "rollout.start", entityId: rollout.id } });
    expect(entry.after).toMatchObject({ policy: { maxFallbackRateIncrease: 0.05, minRequests: 500 }, nonDefault: ["fallback tolerance +5 points (default +1 points)"] });
    await as(bo).rollouts.abort({ surface: "t-pins", reason: "test done", rolloutId: rollout.id });
  });
});

// Break test (#7): a canary start request's summary names the baseline ("production v1 → v5"), the
// request pins it, and an approval after a ship meanwhile is a 409 that starts nothing.
describe("a canary start request applies over the baseline its summary showed", () => {
  it("filed over v1, approved after v4 shipped: 409, failed, nothing started or audited; a dialog's stale pin is refused when filed; filed as it is now, it applies", async () => {
    const db = getDb();
    const rolloutStarts = () => db.auditLog.count({ where: { action: "rollout.start", surfaceKeys: { has: "t-pins" } } });
    const request = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, steps: [50] } }, reason: "canary v5" });
    expect(request.summary).toBe("canary of t-pins-model v5 on t-pins (50 %, then promote: t-pins-model production v1 → v5); judge policy: the defaults");
    expect((request.payload as { rollout: Record<string, unknown> }).rollout).toMatchObject({ expectFromVersionId: id(1) });
    // Bob ships v4 meanwhile (by SQL: a move on the guarded surface would be a request of its own).
    await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'production' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(4));
    try {
      const [rollouts, starts] = [await db.rollout.count({ where: { surface: { key: "t-pins" } } }), await rolloutStarts()];
      const refusal = "t-pins-model production changed since the request was filed (it showed v1, it is now v4): not applied over it; file a new request if the change is still wanted";
      // Before: applied, a canary of v5 judged against, and promoted over, the v4 the approver never saw.
      await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
      expect(await db.changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: refusal });
      expect(await db.rollout.count({ where: { surface: { key: "t-pins" } } })).toBe(rollouts);
      expect(await rolloutStarts()).toBe(starts);

      // A filer whose dialog showed v1: refused when filed, nothing filed.
      const pending = await db.changeRequest.count({ where: { status: "pending" } });
      await expect(as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, steps: [50], expectFromVersionId: id(1) } }, reason: "canary v5" })).rejects.toMatchObject({
        code: "CONFLICT", message: 'canary start on "t-pins" refused: t-pins-model production changed since it was read (was v1, now v4); reload and check',
      });
      expect(await db.changeRequest.count({ where: { status: "pending" } })).toBe(pending);

      // Filed from a dialog that showed v4: applies, judged against v4.
      const fresh = await as(ana).approvals.request({ change: { kind: "canary_start", rollout: { surface: "t-pins", version: 5, steps: [50], expectFromVersionId: id(4) } }, reason: "canary v5 over v4" });
      expect(fresh.summary).toContain("then promote: t-pins-model production v4 → v5");
      expect(await as(bo).approvals.decide({ id: fresh.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
      const started = await db.rollout.findFirstOrThrow({ where: { surface: { key: "t-pins" }, status: "running" } });
      expect(started).toMatchObject({ fromVersionId: id(4), toVersionId: id(5) });
      await as(bo).rollouts.abort({ surface: "t-pins", reason: "test done", rolloutId: started.id });
    } finally {
      await sql(`UPDATE model_aliases SET version_id = $1 WHERE name = 'production' AND model_id = (SELECT id FROM models WHERE name = 't-pins-model')`, id(1));
    }
  });
});

describe("withdrawals, races and who switches four-eyes", () => {
  it("an alias move filed from a page that showed another version is refused when filed (break test: it was filed, sure to fail when approved)", async () => {
    const production = await getDb().modelAlias.findFirstOrThrow({ where: { name: "production", model: { name: "t-pins-model" } }, select: { versionId: true } });
    const stale = [1, 2, 4].map(id).find((v) => v !== production.versionId)!;
    const filed = await getDb().changeRequest.count();
    await expect(as(ana).approvals.request({ change: { kind: "alias_move", versionId: id(5), alias: "production", expectFromVersionId: stale }, reason: "try v5" }))
      .rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^t-pins-model production changed since it was shown \(it showed v\d, it is now v\d\): no request filed; look at it again and decide$/) });
    expect(await getDb().changeRequest.count()).toBe(filed);
    // Pinned to what it points at now: filed.
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: id(5), alias: "production", expectFromVersionId: production.versionId }, reason: "try v5" });
    await as(ana).approvals.cancel({ id: request.id });
  });

  it("a withdrawn request is audited, and of two decisions at once the loser is told what the winner made it", async () => {
    const withdrawn = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: id(5), alias: "production" }, reason: "try v5" });
    await as(ana).approvals.cancel({ id: withdrawn.id });
    expect(await getDb().auditLog.findFirst({ where: { action: "change_request.cancel", surfaceKeys: { has: "t-pins" } }, orderBy: { id: "desc" } })).toMatchObject({ actor: "ana@pins.test", after: { id: withdrawn.id } });
    const raced = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: id(5), alias: "production" }, reason: "try v5 again" });
    const results = await Promise.allSettled([as(bo).approvals.decide({ id: raced.id, approve: false, comment: "checked it" }), as(bo).approvals.decide({ id: raced.id, approve: false, comment: "checked it" })]);
    const lost = results.filter((r) => r.status === "rejected");
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: "id: the request is rejected already" });
  });

  it("an API key, even an admin automation key, cannot switch four-eyes off", async () => {
    const key = createCaller(contextFor({ kind: "api_key", id: "k-pins", name: "ci-bot", keyKind: "automation", roles: ["admin"], surfaces: [] }));
    await expect(key.approvals.setRequired({ surface: "t-pins", required: false, reason: "bypass" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-pins" } })).requireApproval).toBe(true);
  });
});
