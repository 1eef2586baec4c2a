// Break test of the experiments levers, on real PostgreSQL through the routers: a ship moves
// production to the version its variant served in the phase; a started experiment's allocation and
// decision rule change only by a restart (a new phase); a start that another running experiment
// would leave without traffic is refused; an earlier phase's results can still be read; a lever
// pressed on a page that showed the experiment otherwise than it is now (ship, restart, edit, start)
// is refused, and nothing changes.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createUser } from "../auth/users";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { storedDefinition } from "../domain/experiments/definition";
import { shipBlocks } from "../domain/experiments/shipGate";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { createCaller } from "../routers/_app";
import { telemetry } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition, experimentLogRow, flushTelemetry, seedSurfacesOnDemoModel } from "../testing/experiments";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";
import { LATENCY_SAMPLE_PER_VARIANT } from "./results";
import { experimentInputSchema, type ExperimentInput } from "./schema";
import { shipExperiment } from "./service";

const pm = () => callerAs(["admin"], "pm@rerank.local");
/** Version ids of `model` by number. */
let versionOf: (model: string, version: number) => string;
const production = async (model: string) => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: model }, name: "production" }, include: { version: true } })).version.version;

beforeAll(async () => {
  const db = getDb();
  // t-lv-ship-model (and t-lv-ap-model): v1 production, v2 fallback, v3 shadow, v4 spare.
  for (const key of ["t-lv-ship", "t-lv-ap", "t-lv-fb", "t-lv-pin"]) {
    await createTestSurface(db, { key, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity"), shadowBytes: demoModelBytes("candidate"), extraVersions: [linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0)] });
  }
  const versions = await db.modelVersion.findMany({ select: { id: true, version: true, model: { select: { name: true } } } });
  versionOf = (model, version) => versions.find((v) => v.model.name === model && v.version === version)!.id;
  await seedSurfacesOnDemoModel(db, ["t-lv-lock", "t-lv-ov1", "t-lv-ov2", "t-lv-ov3", "t-lv-ph", "t-lv-pin-r", "t-lv-pin-u", "t-lv-pin-s"]);
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

// Two people on one experiment: Alice opens a dialog or the edit form, Bob changes the experiment, Alice
// presses. What she sends back is what her page showed (copied when it opened), as the console sends it.
describe("what the person read is what acts: a lever pressed on a page that showed the experiment otherwise is refused", () => {
  const alice = () => callerAs(["pm"], "alice@levers.test");
  const bob = () => callerAs(["pm"], "bob@levers.test");
  const audits = () => getDb().auditLog.count();
  const stored = (key: string) => getDb().experiment.findUniqueOrThrow({ where: { key }, include: { variants: { orderBy: { position: "asc" } }, phases: true } });
  /** The experiment as the edit form loads it (app/(console)/experiments/[key]/edit/page.tsx): what Save and Restart send back as expectBefore. */
  const formLoads = async (key: string) => {
    const e = await alice().experiments.get({ key });
    return { phase: e.phase, status: e.status, definition: storedDefinition(e) };
  };
  /** What the ship dialog reads when it opens and sends back: production's version, the version it names, the phase and the checks of the results shown. */
  const shipDialogOpens = async (key: string, variant: string, model: string) => {
    const results = await alice().experiments.results({ key });
    const target = await alice().experiments.shipTarget({ key, variant });
    const production = (await alice().models.get({ name: model })).aliases.find((a) => a.name === "production")?.versionId ?? null;
    return { expectFromVersionId: production, expectVersionId: target.versionId, expectPhase: results.experiment.phase, expectBlockers: shipBlocks(results, variant).map((b) => b.key) };
  };

  it("ship (#1): a restart after the dialog opened (phase 2, treat on v4, a new guardrail) refuses the ship naming what changed; nothing moves or is audited; read again, it ships", async () => {
    const model = "t-lv-pin-model";
    await alice().experiments.create(onShadow("lv-pin-ship", "t-lv-pin"));
    await alice().experiments.start({ key: "lv-pin-ship" });
    await served("lv-pin-ship", "t-lv-pin", { control: [versionOf(model, 1)], treat: [versionOf(model, 3)] });
    // Alice opens Ship: "production v1 → t-lv-pin-model v3 (what treat served in phase 1)", nothing blocking.
    const shown = await shipDialogOpens("lv-pin-ship", "treat", model);
    expect(shown).toEqual({ expectFromVersionId: versionOf(model, 1), expectVersionId: versionOf(model, 3), expectPhase: 1, expectBlockers: [] });
    // Bob restarts: phase 2, treat pinned to v4, judged by a guardrail that has no data yet (it blocks a ship).
    const restarted = { ...onShadow("lv-pin-ship", "t-lv-pin"), guardrails: [{ metric: "fallback_rate" as const, direction: "increase" as const, threshold: 0.5 }] };
    restarted.variants[1] = { ...restarted.variants[1]!, modelAlias: undefined, modelVersionId: versionOf(model, 4) };
    restarted.seed = (await stored("lv-pin-ship")).seed;
    await bob().experiments.restart({ experiment: restarted, reason: "treat on v4", expectBefore: await formLoads("lv-pin-ship") });
    const before = await audits();
    // Alice confirms what she read: it would ship v4, judged on checks she never saw.
    await expect(alice().experiments.ship({ key: "lv-pin-ship", variant: "treat", reason: "treat won", ...shown })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "lv-pin-ship" changed since it was shown (it showed phase 1, it is now phase 2): not shipped over it; look at its results again and decide',
    });
    // Each pin on its own: the version the dialog named, then the checks it showed.
    await expect(alice().experiments.ship({ key: "lv-pin-ship", variant: "treat", reason: "treat won", override: true, expectFromVersionId: versionOf(model, 1), expectVersionId: versionOf(model, 3) })).rejects.toMatchObject({
      code: "CONFLICT", message: 'variant "treat" of lv-pin-ship changed since it was shown (it showed t-lv-pin-model v3, it is now t-lv-pin-model v4): not shipped over it; look at it again and decide',
    });
    const blocks = shipBlocks(await alice().experiments.results({ key: "lv-pin-ship" }), "treat");
    expect(blocks.map((b) => b.key)).toEqual(["no data:fallback_rate/increase:treat"]);
    await expect(alice().experiments.ship({ key: "lv-pin-ship", variant: "treat", reason: "treat won", override: true, ...shown, expectPhase: 2, expectVersionId: versionOf(model, 4) })).rejects.toMatchObject({
      code: "CONFLICT", message: `the ship checks of lv-pin-ship changed since they were shown (now also: ${blocks[0]!.text}): not shipped over them; look at them again and decide`,
    });
    expect(await production(model)).toBe(1);
    expect(await stored("lv-pin-ship")).toMatchObject({ status: "running", phase: 2, shippedVariantKey: null });
    expect(await audits()).toBe(before);
    // Opened again, the dialog shows phase 2, v4 and the blocking guardrail; overriding what it shows ships.
    const again = await shipDialogOpens("lv-pin-ship", "treat", model);
    expect(again).toEqual({ expectFromVersionId: versionOf(model, 1), expectVersionId: versionOf(model, 4), expectPhase: 2, expectBlockers: ["no data:fallback_rate/increase:treat"] });
    const shipped = await alice().experiments.ship({ key: "lv-pin-ship", variant: "treat", reason: "treat won, guardrail waived", override: true, ...again });
    expect(shipped.status).toBe("shipped");
    expect(await production(model)).toBe(4);
    // Without these pins (a script) a ship is checked as before: the tests above ship without them.
  });

  it("ship (#1): a restart between the ship's checks and the experiment's lock is seen under the lock, and nothing ships", async () => {
    const model = "t-lv-pin-model";
    const definition = onShadow("lv-pin-race", "t-lv-pin");
    definition.variants[1] = { ...definition.variants[1]!, modelAlias: undefined, modelVersionId: versionOf(model, 3) };
    await alice().experiments.create(definition);
    await alice().experiments.start({ key: "lv-pin-race" });
    const shown = await shipDialogOpens("lv-pin-race", "treat", model);
    expect(shown).toMatchObject({ expectPhase: 1, expectVersionId: versionOf(model, 3), expectBlockers: [] });
    let ship: Promise<unknown> | undefined;
    await getDb().$transaction(async (tx) => {
      // A restart holds the experiment's lock: the ship reads phase 1 (uncommitted) and waits for the lock.
      await tx.$queryRaw`SELECT id FROM experiments WHERE key = 'lv-pin-race' FOR UPDATE`;
      ship = alice().experiments.ship({ key: "lv-pin-race", variant: "treat", reason: "treat won", ...shown }).catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 1_500));
      await tx.$executeRaw`UPDATE experiments SET phase = 2 WHERE key = 'lv-pin-race'`;
    }, { timeout: 30_000 });
    expect(await ship).toMatchObject({ code: "CONFLICT", message: 'experiment "lv-pin-race" changed since it was shown (it showed phase 1, it is now phase 2): not shipped over it; look at its results again and decide' });
    expect(await production(model)).toBe(4);
    expect(await stored("lv-pin-race")).toMatchObject({ status: "running", phase: 2 });
    // The service itself compares it under the lock (what an approved request's pin goes through too).
    await expect(shipExperiment(getDb(), "lv-pin-race", "treat", { kind: "user", id: null, name: "alice@levers.test" }, "treat won", { expectPhase: 1, since: "shown" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "lv-pin-race" changed since it was shown (it showed phase 1, it is now phase 2): not shipped over it; look at its results again and decide',
    });
    expect(await production(model)).toBe(4);
  });

  it("ship (#1): a check that starts blocking while the ship waits for the experiment's lock is read under the lock (where the phase and arm are compared), and nothing ships", async () => {
    const model = "t-lv-pin-model";
    const definition = onShadow("lv-pin-gate", "t-lv-pin");
    definition.variants[1] = { ...definition.variants[1]!, modelAlias: undefined, modelVersionId: versionOf(model, 3) };
    // The surface's earlier experiments end first: one running with all its traffic would take every unit of this one.
    await getDb().experiment.updateMany({ where: { surface: { key: "t-lv-pin" }, status: "running" }, data: { status: "stopped", stoppedAt: new Date() } });
    await alice().experiments.create(definition);
    await alice().experiments.start({ key: "lv-pin-gate" });
    await served("lv-pin-gate", "t-lv-pin", { control: [versionOf(model, 4)], treat: [versionOf(model, 3)] });
    // Alice opens Ship on balanced arms: nothing blocks.
    const shown = await shipDialogOpens("lv-pin-gate", "treat", model);
    expect(shown).toMatchObject({ expectPhase: 1, expectVersionId: versionOf(model, 3), expectBlockers: [] });
    const { id: experimentId } = await stored("lv-pin-gate");
    const before = await audits();
    let ship: Promise<unknown> | undefined;
    await getDb().$transaction(async (tx) => {
      // Held by another lever: the ship reads what it reads before the lock and waits for it.
      await tx.$queryRaw`SELECT id FROM experiments WHERE key = 'lv-pin-gate' FOR UPDATE`;
      ship = alice().experiments.ship({ key: "lv-pin-gate", variant: "treat", reason: "treat won", ...shown }).catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 1_500));
      // Meanwhile 200 more control units reach the rollup (committed before the lock is free): a sample-ratio mismatch.
      await tx.$executeRaw`
        INSERT INTO experiment_unit_stats (experiment_id, phase, variant_key, unit_key, requests, impressions, first_seen_at, last_seen_at)
        SELECT ${experimentId}, 1, 'control', 'lv-pin-gate-extra-' || g, 1, 1, now(), now() FROM generate_series(1, 200) g`;
    }, { timeout: 30_000 });
    expect(await ship).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^the ship checks of lv-pin-gate changed since they were shown \(now also: sample-ratio mismatch.*\): not shipped over them; look at them again and decide$/) });
    expect(await production(model)).toBe(4);
    expect(await stored("lv-pin-gate")).toMatchObject({ status: "running", phase: 1, shippedVariantKey: null, shippedAt: null });
    expect(await audits()).toBe(before);
    // Read again, the dialog shows the mismatch; overriding what it shows ships, and says so.
    const again = await shipDialogOpens("lv-pin-gate", "treat", model);
    expect(again.expectBlockers).toEqual([expect.stringMatching(/^srm/)]);
    const pressed = Date.now();
    const shipped = await alice().experiments.ship({ key: "lv-pin-gate", variant: "treat", reason: "mismatch explained", override: true, ...again });
    expect(shipped).toMatchObject({ status: "shipped", shippedAt: expect.any(Date) });
    expect(shipped.shippedAt!.getTime()).toBeGreaterThanOrEqual(pressed);
    expect(shipped.shippedAt!.getTime()).toBeLessThanOrEqual(Date.now());
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "experiment.ship", entityId: experimentId } });
    expect(entry.reason).toMatch(/^override of sample-ratio mismatch.*: mismatch explained$/);
    await pm().models.setAlias({ versionId: versionOf(model, 4), alias: "production", reason: "back to v4 for the next tests" });
  });

  it("restart with changes (#4): a restart from a form loaded before another person's restart is refused naming what changed; nothing changes or is audited; reloaded, or unpinned, it restarts", async () => {
    await alice().experiments.create(abDefinition("lv-pin-rst", "t-lv-pin-r"));
    await alice().experiments.start({ key: "lv-pin-rst" });
    const seed = (await stored("lv-pin-rst")).seed;
    const definition = abDefinition("lv-pin-rst", "t-lv-pin-r", { seed });
    const ramped = { ...definition, variants: definition.variants.map((v, i) => ({ ...v, weight: i === 0 ? 0.2 : 0.8 })) };
    // Both open the form on phase 1; Bob ramps the treatment (phase 2).
    const alicesForm = await formLoads("lv-pin-rst");
    await bob().experiments.restart({ experiment: ramped, reason: "ramp", expectBefore: await formLoads("lv-pin-rst") });
    const before = await audits();
    // Alice's form still shows 50/50: restarting it with half the coverage would undo Bob's ramp.
    await expect(alice().experiments.restart({ experiment: { ...definition, coverage: 0.5 }, reason: "half the traffic", expectBefore: alicesForm })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "lv-pin-rst" changed since it was shown (phase 1 → 2, variants): not restarted over it; reload the form and decide',
    });
    const after = await stored("lv-pin-rst");
    expect(after).toMatchObject({ phase: 2, coverage: 1, status: "running" });
    expect(after.variants.map((v) => v.weight)).toEqual([0.2, 0.8]);
    expect(after.phases).toHaveLength(2);
    expect(await audits()).toBe(before);
    // Reloaded, the form shows phase 2 and the ramp: the restart applies.
    expect(await alice().experiments.restart({ experiment: { ...ramped, coverage: 0.5 }, reason: "half the traffic", expectBefore: await formLoads("lv-pin-rst") })).toMatchObject({ phase: 3, coverage: 0.5 });
    // Unpinned (a script), as before.
    expect(await alice().experiments.restart({ experiment: { ...ramped, coverage: 0.25 }, reason: "a quarter" })).toMatchObject({ phase: 4, coverage: 0.25 });
  });

  it("edit (#5): a save from a form loaded before another person's save is refused naming the field; nothing is saved or audited; reloaded, or unpinned, it saves; shares compare beyond noise", async () => {
    const definition = abDefinition("lv-pin-upd", "t-lv-pin-u", { hypothesis: "first", variants: [
      { key: "control", name: "v1", weight: 0.3333, isControl: true, modelAlias: "fallback", constraintOverrides: {} },
      { key: "treatment", name: "v2", weight: 0.6667, isControl: false, modelAlias: "production", constraintOverrides: {} },
    ] });
    await alice().experiments.create(definition);
    const seed = (await stored("lv-pin-upd")).seed;
    const alicesForm = await formLoads("lv-pin-upd");
    // Bob renames it from his form.
    await bob().experiments.update({ ...definition, seed, name: "Bob's name", expectBefore: await formLoads("lv-pin-upd") });
    const before = await audits();
    // Alice's form still holds the old name: saving her hypothesis would put it back.
    await expect(alice().experiments.update({ ...definition, seed, hypothesis: "Alice's", expectBefore: alicesForm })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "lv-pin-upd" changed since it was shown (name): not saved over it; reload the form and decide',
    });
    expect(await stored("lv-pin-upd")).toMatchObject({ name: "Bob's name", hypothesis: "first" });
    expect(await audits()).toBe(before);
    // Reloaded, her save keeps Bob's name; a weight that went through floating-point noise on the way is the same weight.
    const reloaded = await formLoads("lv-pin-upd");
    reloaded.definition.variants[1]!.weight = 0.6667000000000001;
    expect(await alice().experiments.update({ ...definition, seed, name: "Bob's name", hypothesis: "Alice's", expectBefore: reloaded })).toMatchObject({ name: "Bob's name", hypothesis: "Alice's" });
    // Unpinned (a script), as before.
    expect(await alice().experiments.update({ ...definition, seed, name: "Bob's name", hypothesis: "scripted" })).toMatchObject({ hypothesis: "scripted" });
    // A bad pin is a 400 naming its field.
    await expect(alice().experiments.update({ ...definition, seed, expectBefore: { ...reloaded, phase: -1 } })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("expectBefore.phase") });
  });

  it("start and resume (#12): a Start or Resume over an edit, a resume or a stop made since the page showed it is refused naming what changed; nothing starts or is audited; read again, or unpinned, it starts", async () => {
    const key = "lv-pin-start";
    await alice().experiments.create(abDefinition(key, "t-lv-pin-s"));
    const seed = (await stored(key)).seed;
    /** What the results page shows and Start (or the Resume dialog, when it opens) sends back. */
    const pageShows = async () => {
      const { experiment } = await alice().experiments.results({ key });
      return { expectPhase: experiment.phase, expectAllocation: experiment.allocation };
    };
    const draft = await pageShows();
    // Bob reweights the draft; Alice presses Start on the page that shows 50/50.
    await bob().experiments.update({ ...abDefinition(key, "t-lv-pin-s", { seed }), variants: abDefinition(key, "t-lv-pin-s").variants.map((v, i) => ({ ...v, weight: i === 0 ? 0.1 : 0.9 })) });
    let before = await audits();
    await expect(alice().experiments.start({ key, ...draft })).rejects.toMatchObject({
      code: "CONFLICT", message: `experiment "${key}" changed since it was shown (variants): not started; look at it again and decide`,
    });
    expect(await stored(key)).toMatchObject({ status: "draft", phase: 0 });
    expect(await audits()).toBe(before);
    await alice().experiments.start({ key, ...(await pageShows()) });
    await alice().experiments.stop({ key });
    // Alice opens Resume (phase 1); Bob resumes and stops it again (phase 2), unpinned as a script would.
    const resumeDialog = await pageShows();
    await bob().experiments.start({ key, reason: "resume" });
    await bob().experiments.stop({ key });
    before = await audits();
    await expect(alice().experiments.start({ key, reason: "resume", ...resumeDialog })).rejects.toMatchObject({
      code: "CONFLICT", message: `experiment "${key}" changed since it was shown (phase 1 → 2): not started; look at it again and decide`,
    });
    const after = await stored(key);
    expect(after).toMatchObject({ status: "stopped", phase: 2 });
    expect(after.phases).toHaveLength(2);
    expect(await audits()).toBe(before);
    // Opened again, the dialog shows phase 2: the resume opens phase 3.
    expect(await alice().experiments.start({ key, reason: "resume", ...(await pageShows()) })).toMatchObject({ status: "running", phase: 3 });
  });
});
