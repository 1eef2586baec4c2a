// Break test of the experiments levers, on real PostgreSQL through the routers: a ship moves
// production to the version its variant served in the phase; a started experiment's allocation and
// decision rule change only by a restart (a new phase); a start that another running experiment
// would leave without traffic is refused; an earlier phase's results can still be read.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createUser } from "../auth/users";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { createCaller } from "../routers/_app";
import { telemetry } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition, experimentLogRow, flushTelemetry, seedSurfacesOnDemoModel } from "../testing/experiments";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";
import { LATENCY_SAMPLE_PER_VARIANT } from "./results";
import { experimentInputSchema, type ExperimentInput } from "./schema";

const pm = () => callerAs(["admin"], "pm@rerank.local");
/** Version ids of `model` by number. */
let versionOf: (model: string, version: number) => string;
const production = async (model: string) => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: model }, name: "production" }, include: { version: true } })).version.version;

beforeAll(async () => {
  const db = getDb();
  // t-lv-ship-model (and t-lv-ap-model): v1 production, v2 fallback, v3 shadow, v4 spare.
  for (const key of ["t-lv-ship", "t-lv-ap", "t-lv-fb"]) {
    await createTestSurface(db, { key, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity"), shadowBytes: demoModelBytes("candidate"), extraVersions: [linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0)] });
  }
  const versions = await db.modelVersion.findMany({ select: { id: true, version: true, model: { select: { name: true } } } });
  versionOf = (model, version) => versions.find((v) => v.model.name === model && v.version === version)!.id;
  await seedSurfacesOnDemoModel(db, ["t-lv-lock", "t-lv-ov1", "t-lv-ov2", "t-lv-ov3", "t-lv-ph"]);
});

/** An experiment on `surface` whose treatment ("treat") serves the model's "shadow" alias. */
const onShadow = (key: string, surface: string) => experimentInputSchema.parse({
  key, name: key, surface, owner: "pm@rerank.local",
  variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelAlias: "shadow" }],
});

/** Logs `units` requests per arm of `key`'s phase `phase`, each arm served by the version given (a version id), as the serving path does. */
async function served(key: string, surface: string, arms: Record<string, string[]>, units = 40, phase = 1) {
  for (const [variant, versionIds] of Object.entries(arms)) {
    for (let u = 0; u < units; u++) {
      telemetry().requests.enqueue(experimentLogRow(key, surface, `${key}-${variant}-${u}`, variant, phase, { experimentPhase: phase, modelVersionId: versionIds[u % versionIds.length]!, requestId: `${key}-${phase}-${variant}-${u}` }));
    }
  }
  await flushTelemetry();
}

describe("a ship moves production to the version the variant served", () => {
  it("not to the one its alias points at now (it moved after the experiment stopped)", async () => {
    const model = "t-lv-ship-model";
    await pm().experiments.create(onShadow("lv-ship", "t-lv-ship"));
    await pm().experiments.start({ key: "lv-ship" });
    await served("lv-ship", "t-lv-ship", { control: [versionOf(model, 1)], treat: [versionOf(model, 3)] });
    await pm().experiments.stop({ key: "lv-ship" });
    await pm().models.setAlias({ versionId: versionOf(model, 4), alias: "shadow", reason: "next candidate" });
    // The dialog names the version it will ship: what treat served in phase 1.
    expect(await pm().experiments.shipTarget({ key: "lv-ship", variant: "treat" })).toMatchObject({ version: 3, modelName: model, source: "served", phase: 1 });
    const shipped = await pm().experiments.ship({ key: "lv-ship", variant: "treat", reason: "treat won", override: true, expectFromVersionId: versionOf(model, 1) });
    expect(shipped.status).toBe("shipped");
    expect(await production(model)).toBe(3);
  });

  it("a variant that served two versions in the phase is refused (409) naming them; production stays", async () => {
    const model = "t-lv-ship-model";
    await pm().models.setAlias({ versionId: versionOf(model, 1), alias: "production", reason: "back to v1" });
    await pm().experiments.create(onShadow("lv-two", "t-lv-ship"));
    await pm().experiments.start({ key: "lv-two" });
    await served("lv-two", "t-lv-ship", { control: [versionOf(model, 1)], treat: [versionOf(model, 3), versionOf(model, 4)] });
    await pm().experiments.stop({ key: "lv-two" });
    const refusal = { code: "CONFLICT", message: expect.stringMatching(/^variant "treat" of lv-two served t-lv-ship-model v3, t-lv-ship-model v4 in phase 1/) };
    await expect(pm().experiments.shipTarget({ key: "lv-two", variant: "treat" })).rejects.toMatchObject(refusal);
    await expect(pm().experiments.ship({ key: "lv-two", variant: "treat", reason: "treat won", override: true, expectFromVersionId: versionOf(model, 1) })).rejects.toMatchObject(refusal);
    expect(await production(model)).toBe(1);
    expect((await pm().experiments.get({ key: "lv-two" })).status).toBe("stopped");
  });

  it("the results page and the dialog name what it ships, however many requests a fallback served since", async () => {
    const model = "t-lv-fb-model";
    await pm().experiments.create(onShadow("lv-fb", "t-lv-fb"));
    await pm().experiments.start({ key: "lv-fb" });
    await served("lv-fb", "t-lv-fb", { control: [versionOf(model, 1)], treat: [versionOf(model, 3)] });
    // Then the circuit opened and the kill switch went on: more of treat's requests than the page
    // samples, all newer, served by the cascade's fallback (v2) or in retrieval order (no version).
    await getDb().$executeRaw`
      INSERT INTO rerank_requests (request_id, ts, surface, user_key, experiment_key, experiment_phase, variant_key, exposed, model_version_id,
        fallback_used, fallback_reason, candidate_count, top_k, served, latency_ms)
      SELECT 'lv-fb-fallback-' || i, now() + i * interval '1 millisecond', 't-lv-fb', 'lv-fb-treat-' || (i % 40), 'lv-fb', 1, 'treat', true,
        CASE WHEN i % 2 = 0 THEN ${versionOf(model, 2)}::text END, true, CASE WHEN i % 2 = 0 THEN 'circuit_open' ELSE 'kill_switch' END, 10, 10, '[]', 5
      FROM generate_series(1, ${LATENCY_SAMPLE_PER_VARIANT + 1}::int) i`;
    const results = await pm().experiments.results({ key: "lv-fb" });
    const servedBy = (variant: string) => results.variants.find((v) => v.key === variant)!.served;
    expect(servedBy("treat")).toEqual([{ model, version: 3, requests: 40 }]);
    expect(servedBy("control")).toEqual([{ model, version: 1, requests: 40 }]);
    expect(await pm().experiments.shipTarget({ key: "lv-fb", variant: "treat" })).toMatchObject({ version: 3, modelName: model, source: "served", phase: 1 });
    await pm().experiments.stop({ key: "lv-fb" });
    await pm().experiments.ship({ key: "lv-fb", variant: "treat", reason: "treat won", override: true, expectFromVersionId: versionOf(model, 1) });
    expect(await production(model)).toBe(3);
  });

  it("an approval request names, pins and ships the served version too", async () => {
    const model = "t-lv-ap-model";
    const person = async (email: string): Promise<Principal> => {
      const { user } = await createUser(getDb(), { email, name: email, roles: ["pm"], password: "a long enough password" });
      return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles: ["pm"] };
    };
    const [ana, bo] = [await person("ana@levers.test"), await person("bo@levers.test")];
    const as = (p: Principal) => createCaller(contextFor(p));
    await as(ana).experiments.create(onShadow("lv-ap", "t-lv-ap"));
    await as(ana).experiments.start({ key: "lv-ap" });
    await served("lv-ap", "t-lv-ap", { control: [versionOf(model, 1)], treat: [versionOf(model, 3)] });
    await as(ana).experiments.stop({ key: "lv-ap" });
    await pm().models.setAlias({ versionId: versionOf(model, 4), alias: "shadow", reason: "next candidate" });
    await pm().approvals.setRequired({ surface: "t-lv-ap", required: true, reason: "guarded" });
    const request = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "lv-ap", variant: "treat", override: true }, reason: "treat (v3) won" });
    expect(request.summary).toMatch(/^ship variant treat \(t-lv-ap-model v3\) of experiment lv-ap to production on t-lv-ap, now v1/);
    await as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" });
    expect(await production(model)).toBe(3);
  });
});

describe("once started, the allocation and the decision rule change only by a restart", () => {
  it("an edit of a stopped or running experiment that changes them is refused (409) naming them; a restart applies them in a new phase", async () => {
    await pm().experiments.create(abDefinition("lv-lock", "t-lv-lock", { guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }] }));
    await pm().experiments.start({ key: "lv-lock" });
    const seed = (await getDb().experiment.findUniqueOrThrow({ where: { key: "lv-lock" } })).seed;
    const stored = abDefinition("lv-lock", "t-lv-lock", { seed, guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }] });
    // Running: the decision rule is locked as the allocation is.
    await expect(pm().experiments.update({ ...stored, primaryMetric: "conversion", minDetectableEffect: 0.5 })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^experiment "lv-lock" is running: changing primaryMetric, minDetectableEffect needs a restart with the changes, which starts a new analysis phase \(phase 2\)/),
    });
    await pm().experiments.stop({ key: "lv-lock" });
    // Stopped: no weights (SRM), guardrails, engine or primary metric edited away before a ship.
    const reweighted = { ...stored, variants: stored.variants.map((v, i) => ({ ...v, weight: i === 0 ? 0.2 : 0.8 })) };
    const edits: Array<[ExperimentInput, string]> = [
      [reweighted, "variants"], [{ ...stored, guardrails: [] }, "guardrails"], [{ ...stored, analysisMode: "bayesian" }, "analysisMode"],
      [{ ...stored, primaryMetric: "ndcg", coverage: 0.5 }, "coverage, primaryMetric"],
    ];
    for (const [edit, fields] of edits) {
      await expect(pm().experiments.update(edit)).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining(`is stopped: changing ${fields} needs a restart`) });
    }
    const unchanged = await getDb().experiment.findUniqueOrThrow({ where: { key: "lv-lock" }, include: { variants: true } });
    expect(unchanged.guardrails).toEqual(stored.guardrails);
    expect(unchanged.variants.map((v) => v.weight)).toEqual([0.5, 0.5]);
    // Name, hypothesis, owner and secondary metrics stay editable.
    await pm().experiments.update({ ...stored, name: "Renamed", hypothesis: "clearer", owner: "someone@rerank.local", secondaryMetrics: ["ndcg"] });
    // A restart of the stopped experiment applies the rest in phase 2, running.
    const restarted = await pm().experiments.restart({ experiment: { ...reweighted, guardrails: [], name: "Renamed" }, reason: "new rule, new phase" });
    expect(restarted).toMatchObject({ status: "running", phase: 2, guardrails: [] });
    expect(restarted.phases.map((p) => [p.phase, p.endedAt !== null])).toEqual([[1, true], [2, false]]);
    expect(restarted.variants.map((v) => v.weight)).toEqual([0.2, 0.8]);
  });
});

describe("a start that another running experiment would leave without traffic", () => {
  it("is refused (409) naming the experiment that takes every unit; nothing starts", async () => {
    await pm().experiments.create(abDefinition("lv-first", "t-lv-ov1"));
    await pm().experiments.start({ key: "lv-first" });
    await pm().experiments.create(abDefinition("lv-second", "t-lv-ov1", { coverage: 0.5 }));
    await expect(pm().experiments.start({ key: "lv-second" })).rejects.toMatchObject({
      code: "CONFLICT", message: expect.stringMatching(/^experiment "lv-first" is running on t-lv-ov1 with all of its traffic .* "lv-second" would get no traffic/),
    });
    expect((await pm().experiments.get({ key: "lv-second" })).status).toBe("draft");
  });

  it("goes through when they only overlap, and the later one's page names the earlier one", async () => {
    await pm().experiments.create(abDefinition("lv-part", "t-lv-ov2", { coverage: 0.5 }));
    await pm().experiments.start({ key: "lv-part" });
    await pm().experiments.create(abDefinition("lv-later", "t-lv-ov2"));
    await pm().experiments.start({ key: "lv-later" });
    expect(await pm().experiments.overlaps({ key: "lv-later" })).toEqual([expect.stringMatching(/^experiment "lv-part" \(running since .*\) is served first on t-lv-ov2 and shares units with this one: units it enrols first are not in this experiment$/)]);
    expect(await pm().experiments.overlaps({ key: "lv-part" })).toEqual([]);
  });

  it("goes through, with no warning, on disjoint ranges of one namespace", async () => {
    await pm().experiments.create(abDefinition("lv-ns-a", "t-lv-ov3", { namespace: { id: "ns", start: 0, end: 0.5 } }));
    await pm().experiments.start({ key: "lv-ns-a" });
    await pm().experiments.create(abDefinition("lv-ns-b", "t-lv-ov3", { namespace: { id: "ns", start: 0.5, end: 1 } }));
    await pm().experiments.start({ key: "lv-ns-b" });
    expect(await pm().experiments.overlaps({ key: "lv-ns-b" })).toEqual([]);
  });
});

describe("an earlier phase's results", () => {
  it("stay readable after a resume (results' phase), with their units; a phase outside 1 … current is a 400 naming phase", async () => {
    await pm().experiments.create(abDefinition("lv-phase", "t-lv-ph"));
    await pm().experiments.start({ key: "lv-phase" });
    await served("lv-phase", "t-lv-ph", { control: [versionOf("search-ranker", 1)], treatment: [versionOf("search-ranker", 2)] }, 30);
    await pm().experiments.stop({ key: "lv-phase" });
    await pm().experiments.start({ key: "lv-phase", reason: "resume after the incident" });
    const current = await pm().experiments.results({ key: "lv-phase" });
    expect(current.experiment).toMatchObject({ phase: 2, viewedPhase: 2 });
    expect(current.variants.map((v) => v.units)).toEqual([0, 0]);
    const first = await pm().experiments.results({ key: "lv-phase", phase: 1 });
    expect(first.experiment).toMatchObject({ phase: 2, viewedPhase: 1 });
    expect(first.variants.map((v) => v.units)).toEqual([30, 30]);
    await expect(pm().experiments.results({ key: "lv-phase", phase: 3 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: 'phase: experiment "lv-phase" has phases 1 to 2, not 3' });
  });
});
