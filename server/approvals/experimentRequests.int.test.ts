// An experiment's lever requests (start, restart, ship) on a surface that requires approval, on real
// PostgreSQL through the real routers (break test of a clean clone):
// - a start pins the decision rule shown (primary metric, guardrails, engine, MDE) as it pins the phase
//   and allocation: another user's change of the primary metric between showing and applying is a
//   409, when filed and when approved, never a start with a metric the approver never saw;
// - a lever request that a pending one already asks for (another tab's Request start, the same restart,
//   a ship of the same variant) is a 409 naming the pending request, who filed it and when, and nothing
//   is filed; competing changes (other restart changes, the other variant) are each filed.
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import type { Role } from "../domain/access/permissions";
import { experimentInputSchema, type ExperimentInput } from "../experiments/schema";
import { experimentAllocation, experimentDecision, getExperiment } from "../experiments/service";
import { experimentResults } from "../experiments/results";
import { createCaller } from "../routers/_app";
import { callerAs, storePerson, testPerson } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";

/** A person with `roles` whose row is stored (the audited levers re-check it): the test helpers' own. */
async function person(email: string, roles: Role[]): Promise<Principal> {
  const p = testPerson(roles, email) as Principal & { kind: "user" };
  await storePerson(p);
  return p;
}
const as = (p: Principal) => createCaller(contextFor(p));
const sql = (q: string, ...args: unknown[]) => getDb().$executeRawUnsafe(q, ...args);

let ana: Principal;
let bo: Principal;
let cy: Principal;

beforeAll(async () => {
  const db = getDb();
  await createTestSurface(db, { key: "t-xr", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity") });
  await createTestSurface(db, { key: "t-xr-open", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity") });
  ana = await person("ana@xr.test", ["pm"]);
  bo = await person("bo@xr.test", ["pm"]);
  cy = await person("cy@xr.test", ["pm"]);
  await callerAs(["admin"], "admin@xr.test").approvals.setRequired({ surface: "t-xr", required: true, reason: "guarded" });
});

const definition = (key: string, overrides: Partial<ExperimentInput> = {}, surface = "t-xr") => experimentInputSchema.parse({
  key, name: key, surface, owner: "ana@xr.test", hypothesis: "x",
  variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelAlias: "fallback" }],
  ...overrides,
});
/** What the results page shows and sends back with Start, Resume or Request start: phase, allocation, decision rule. */
async function shown(key: string) {
  const e = (await experimentResults(getDb(), key)).experiment;
  return { expectPhase: e.phase, expectAllocation: e.allocation, expectDecision: e.decision };
}
/** Creates and starts `key` on t-xr, running on the guarded surface (started while it was not guarded). */
async function startedUnguarded(key: string) {
  await sql(`UPDATE surfaces SET require_approval = false WHERE key = 't-xr'`);
  try {
    await as(ana).experiments.create(definition(key));
    await as(ana).experiments.start({ key });
  } finally {
    await sql(`UPDATE surfaces SET require_approval = true WHERE key = 't-xr'`);
  }
}
const status = async (key: string) => (await getDb().experiment.findUniqueOrThrow({ where: { key } })).status;
const filedFor = (key: string) => getDb().changeRequest.count({ where: { payload: { path: ["key"], equals: key } } });

describe("a start pins the primary metric (the whole decision rule) it showed", () => {
  it("the results page carries the decision rule it sends back, as it carries the allocation", async () => {
    await as(ana).experiments.create(definition("xr-page", { guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }], minDetectableEffect: 0.05 }));
    const e = await getExperiment(getDb(), "xr-page");
    expect(await shown("xr-page")).toEqual({ expectPhase: 0, expectAllocation: experimentAllocation(e), expectDecision: experimentDecision(e) });
    expect(experimentDecision(e)).toEqual({ primaryMetric: "ctr", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }], analysisMode: "sequential", minDetectableEffect: 0.05 });
  });

  it("a request filed from a page that showed another primary metric is a 409 naming it; nothing is filed", async () => {
    await as(ana).experiments.create(definition("xr-filing"));
    const page = await shown("xr-filing");
    // Another user changes the draft's primary metric after the page showed CTR.
    await as(bo).experiments.update(definition("xr-filing", { primaryMetric: "conversion" }));
    await expect(as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-filing", ...page }, reason: "ready" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "xr-filing" changed since it was shown (primary metric ctr → conversion): no request filed; look at it again and decide',
    });
    expect(await filedFor("xr-filing")).toBe(0);
  });

  it("a request names the decision rule and pins it: a primary metric changed before the approval is a 409, the request failed, and nothing starts", async () => {
    await as(ana).experiments.create(definition("xr-approve", { guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }] }));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-approve", ...(await shown("xr-approve")) }, reason: "ready" });
    expect(request.summary).toMatch(/; judged by primary metric: ctr; analysis engine: sequential; guardrails: fallback_rate must not rise by more than 20 %; minimum detectable effect: none$/);
    expect((request.payload as { pinned?: { decision?: unknown } }).pinned?.decision).toEqual({ primaryMetric: "ctr", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }], analysisMode: "sequential", minDetectableEffect: null });
    // Between filing and approval another user makes the draft judged on conversion (allocation untouched).
    await as(cy).experiments.update(definition("xr-approve", { primaryMetric: "conversion", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }] }));
    const refusal = 'experiment "xr-approve" changed since the request was filed (primary metric ctr → conversion): not started; file a new request for it as it is now';
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "failed", error: refusal });
    expect(await status("xr-approve")).toBe("draft");
    // A guardrail loosened since, or the engine changed, is refused alike (named).
    const again = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-approve", ...(await shown("xr-approve")) }, reason: "ready, on conversion" });
    await as(cy).experiments.update(definition("xr-approve", { primaryMetric: "conversion", analysisMode: "fixed", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }] }));
    await expect(as(bo).approvals.decide({ id: again.id, approve: true, comment: "checked it" })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "xr-approve" changed since the request was filed (guardrails, analysis engine sequential → fixed): not started; file a new request for it as it is now',
    });
    // Filed as it is now, it starts.
    const third = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-approve", ...(await shown("xr-approve")) }, reason: "ready, as it is" });
    expect(await as(bo).approvals.decide({ id: third.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    expect(await getDb().experiment.findUniqueOrThrow({ where: { key: "xr-approve" } })).toMatchObject({ status: "running", primaryMetric: "conversion", analysisMode: "fixed" });
    await as(bo).experiments.stop({ key: "xr-approve", reason: "test over" });
  });

  it("a request filed without what it showed (a script) pins the decision rule as it is when filed", async () => {
    await as(ana).experiments.create(definition("xr-script"));
    const request = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-script" }, reason: "ready" });
    await as(cy).experiments.update(definition("xr-script", { minDetectableEffect: 0.1 }));
    await expect(as(bo).approvals.decide({ id: request.id, approve: true, comment: "checked it" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("(minimum detectable effect)") });
    expect(await status("xr-script")).toBe("draft");
  });

  it("a direct Start (a surface without approvals) of a page that showed another primary metric is a 409; shares round-tripped through the form are not a change", async () => {
    await as(ana).experiments.create(definition("xr-direct", { guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0.1 }], minDetectableEffect: 0.07 }, "t-xr-open"));
    const page = await shown("xr-direct");
    await as(bo).experiments.update(definition("xr-direct", { primaryMetric: "ndcg", guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0.1 }], minDetectableEffect: 0.07 }, "t-xr-open"));
    await expect(as(ana).experiments.start({ key: "xr-direct", ...page })).rejects.toMatchObject({
      code: "CONFLICT", message: 'experiment "xr-direct" changed since it was shown (primary metric ctr → ndcg): not started; look at it again and decide',
    });
    expect(await status("xr-direct")).toBe("draft");
    // A threshold and an MDE as a form's percentages give them back (0.07 → 7.000000000000001 % → 0.07000000000000001) start.
    const now = await shown("xr-direct");
    const noisy = { ...now.expectDecision, guardrails: [{ metric: "ctr", direction: "decrease", threshold: (0.1 * 100) / 100 + 1e-17 }], minDetectableEffect: (0.07 * 100) / 100 };
    expect(await as(ana).experiments.start({ key: "xr-direct", ...now, expectDecision: noisy })).toMatchObject({ status: "running" });
    await as(ana).experiments.stop({ key: "xr-direct", reason: "test over" });
  });
});

describe("no second pending request for the same experiment lever", () => {
  it("a second Request start (another tab) is a 409 naming the pending request, who filed it and when; nothing is filed; once it is withdrawn, a new one is filed", async () => {
    await as(ana).experiments.create(definition("xr-twice"));
    const page = await shown("xr-twice");
    const first = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-twice", ...page }, reason: "tab one" });
    const refusal = `experiment "xr-twice" already has a pending request to start it, filed by ana@xr.test at ${first.createdAt.toISOString()} (request ${first.id}): no request filed; another person with the permission decides it, or ana@xr.test withdraws it (Approvals page), before another is filed`;
    await expect(as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-twice", ...page }, reason: "tab two" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    // Another person too.
    await expect(as(bo).approvals.request({ change: { kind: "experiment_start", key: "xr-twice" }, reason: "me too" })).rejects.toMatchObject({ code: "CONFLICT", message: refusal });
    expect(await filedFor("xr-twice")).toBe(1);
    await as(ana).approvals.cancel({ id: first.id });
    const second = await as(bo).approvals.request({ change: { kind: "experiment_start", key: "xr-twice", ...page }, reason: "now" });
    expect(second.status).toBe("pending");
    // A decided (rejected) request blocks nothing either.
    await as(ana).approvals.decide({ id: second.id, approve: false, comment: "not yet" });
    const third = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-twice", ...page }, reason: "again" });
    await as(ana).approvals.cancel({ id: third.id });
  });

  it("two tabs filing at the same moment file one request; the other is told which", async () => {
    for (let round = 0; round < 4; round++) {
      const key = `xr-race-${round}`;
      await as(ana).experiments.create(definition(key));
      const page = await shown(key);
      const results = await Promise.allSettled([ana, bo, ana].map((p, i) => as(p).approvals.request({ change: { kind: "experiment_start", key, ...page }, reason: `tab ${i}` })));
      const filed = results.filter((r) => r.status === "fulfilled");
      expect(filed, `round ${round}`).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "CONFLICT", message: expect.stringContaining(`already has a pending request to start it, filed by `) });
      expect(await getDb().changeRequest.count({ where: { status: "pending", payload: { path: ["key"], equals: key } } })).toBe(1);
    }
  });

  it("restart and ship: the same restart or a ship of the same variant while one waits is a 409 naming it; a competing change (other changes, the other variant) is filed", async () => {
    await startedUnguarded("xr-levers");
    const pending = (key: string) => getDb().changeRequest.count({ where: { status: "pending", payload: { path: ["key"], equals: key } } });
    const half = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "xr-levers", experiment: definition("xr-levers", { coverage: 0.5 }) }, reason: "half" });
    await expect(as(bo).approvals.request({ change: { kind: "experiment_restart", key: "xr-levers", experiment: definition("xr-levers", { coverage: 0.5 }) }, reason: "half, from tab two" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: `experiment "xr-levers" already has a pending request to restart it with the same changes, filed by ana@xr.test at ${half.createdAt.toISOString()} (request ${half.id}): no request filed; another person with the permission decides it, or ana@xr.test withdraws it (Approvals page), before another is filed`,
    });
    // Other changes compete: filed (approving one refuses the other on its pins).
    const quarter = await as(bo).approvals.request({ change: { kind: "experiment_restart", key: "xr-levers", experiment: definition("xr-levers", { coverage: 0.25 }) }, reason: "a quarter" });
    expect(quarter.status).toBe("pending");
    const ship = await as(bo).approvals.request({ change: { kind: "experiment_ship", key: "xr-levers", variant: "treat" }, reason: "ship it" });
    // The same variant again, with an override or not: the same ship.
    const sameShip = `experiment "xr-levers" already has a pending request to ship variant treat, filed by bo@xr.test at ${ship.createdAt.toISOString()} (request ${ship.id})`;
    await expect(as(ana).approvals.request({ change: { kind: "experiment_ship", key: "xr-levers", variant: "treat", override: true }, reason: "ship it anyway" }))
      .rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining(sameShip) });
    const control = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "xr-levers", variant: "control" }, reason: "no, control" });
    expect(await pending("xr-levers")).toBe(4);
    // Another experiment's requests are its own (xr-levers stopped, so that xr-other gets traffic; its requests still wait).
    await as(ana).experiments.stop({ key: "xr-levers", reason: "test over" });
    await as(ana).experiments.create(definition("xr-other"));
    const other = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-other" }, reason: "ready" });
    expect(other).toMatchObject({ status: "pending" });
    for (const [p, r] of [[ana, half], [bo, quarter], [bo, ship], [ana, control], [ana, other]] as const) await as(p).approvals.cancel({ id: r.id });
  });

  it("competing requests: once one is approved, the list shows each other as stale with the 409 its approval would get, and Approve is refused so", async () => {
    await startedUnguarded("xr-comp");
    const half = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "xr-comp", experiment: definition("xr-comp", { coverage: 0.5 }) }, reason: "half" });
    const quarter = await as(bo).approvals.request({ change: { kind: "experiment_restart", key: "xr-comp", experiment: definition("xr-comp", { coverage: 0.25 }) }, reason: "a quarter" });
    const ship = await as(bo).approvals.request({ change: { kind: "experiment_ship", key: "xr-comp", variant: "treat" }, reason: "ship phase 1" });
    const listed = async () => new Map((await as(cy).approvals.list({ status: "pending", surface: "t-xr", limit: 100 })).map((r) => [r.id, r.stale]));
    // While all three wait, each would apply.
    const before = await listed();
    expect([before.get(half.id), before.get(quarter.id), before.get(ship.id)]).toEqual([null, null, null]);
    expect(await as(cy).approvals.decide({ id: half.id, approve: true, comment: "half it is" })).toMatchObject({ status: "applied" });
    const quarterStale = 'experiment "xr-comp" changed since the request was filed (phase 1 → 2, coverage): not restarted; file a new request for it as it is now';
    const shipStale = 'experiment "xr-comp" changed since the request was filed (it showed phase 1, it is now phase 2): not shipped; file a new request on phase 2\'s results';
    const after = await listed();
    expect([after.has(half.id), after.get(quarter.id), after.get(ship.id)]).toEqual([false, quarterStale, shipStale]);
    // The approval is refused in those words, and marked failed with them; nothing restarts again.
    await expect(as(ana).approvals.decide({ id: quarter.id, approve: true, comment: "a quarter" })).rejects.toMatchObject({ code: "CONFLICT", message: quarterStale });
    await expect(as(ana).approvals.decide({ id: ship.id, approve: true, comment: "ship" })).rejects.toMatchObject({ code: "CONFLICT", message: shipStale });
    const stored = (id: string) => getDb().changeRequest.findUniqueOrThrow({ where: { id }, select: { status: true, error: true } });
    expect([await stored(quarter.id), await stored(ship.id)]).toEqual([{ status: "failed", error: quarterStale }, { status: "failed", error: shipStale }]);
    expect(await getDb().experiment.findUniqueOrThrow({ where: { key: "xr-comp" } })).toMatchObject({ phase: 2, coverage: 0.5, status: "running" });
    // Decided requests carry no staleness.
    const all = await as(cy).approvals.list({ surface: "t-xr", limit: 100 });
    expect(all.filter((r) => [half.id, quarter.id, ship.id].includes(r.id)).map((r) => r.stale)).toEqual([null, null, null]);
    await as(ana).experiments.stop({ key: "xr-comp", reason: "test over" });
  });

  it("break test: the list sees what a competing approval broke beyond the phase: a ship shipped the experiment, a variant's alias moved, another start took the traffic", async () => {
    const staleOf = async (id: string) => (await as(cy).approvals.list({ status: "pending", limit: 100 })).find((r) => r.id === id)?.stale;
    /** The list's staleness is what the approval's 409 says, and the request is then failed with it. */
    const refusedAsListed = async (id: string, by: Principal) => {
      const stale = await staleOf(id);
      expect(stale).toEqual(expect.any(String));
      await expect(as(by).approvals.decide({ id, approve: true, comment: "approve anyway" })).rejects.toMatchObject({ code: "CONFLICT", message: stale });
      expect(await getDb().changeRequest.findUniqueOrThrow({ where: { id }, select: { status: true, error: true } })).toEqual({ status: "failed", error: stale });
      return stale!;
    };
    // A ship of one variant approved: the other variant's ship, and a start (resume), can no longer apply.
    await startedUnguarded("xr-ship2");
    await as(ana).experiments.stop({ key: "xr-ship2", reason: "decide" });
    const resume = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-ship2" }, reason: "resume" });
    const shipControl = await as(ana).approvals.request({ change: { kind: "experiment_ship", key: "xr-ship2", variant: "control", override: true }, reason: "keep control" });
    const shipTreat = await as(bo).approvals.request({ change: { kind: "experiment_ship", key: "xr-ship2", variant: "treat", override: true }, reason: "ship treat" });
    expect([await staleOf(resume.id), await staleOf(shipTreat.id)]).toEqual([null, null]);
    expect(await as(cy).approvals.decide({ id: shipControl.id, approve: true, comment: "control it is" })).toMatchObject({ status: "applied" });
    expect(await refusedAsListed(shipTreat.id, cy)).toBe('experiment "xr-ship2" is shipped: only a running or stopped experiment can ship');
    expect(await refusedAsListed(resume.id, cy)).toBe('experiment "xr-ship2" is shipped; start needs it draft or stopped');

    // The alias a draft's variant uses moved (an approved alias move): its start request names the variant and both versions.
    await as(ana).experiments.create(definition("xr-alias"));
    const start = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-alias" }, reason: "ready" });
    const model = await getDb().model.findUniqueOrThrow({ where: { name: "t-xr-model" }, include: { aliases: true } });
    const production = model.aliases.find((a) => a.name === "production")!.versionId;
    const [ml1, ml2] = [await person("ml1@xr.test", ["ml_engineer"]), await person("ml2@xr.test", ["ml_engineer"])];
    const move = await as(ml1).approvals.request({ change: { kind: "alias_move", versionId: production, alias: "fallback" }, reason: "fallback to production's version" });
    expect(await as(ml2).approvals.decide({ id: move.id, approve: true, comment: "checked it" })).toMatchObject({ status: "applied" });
    expect(await refusedAsListed(start.id, cy)).toMatch(/^variant "treat" of xr-alias changed since the request was filed \(it showed t-xr-model v\d+, it is now t-xr-model v\d+\): not started; /);

    // Two starts that each take all of the surface's traffic: once one runs, the other would get none.
    await as(ana).experiments.create(definition("xr-full-a"));
    await as(ana).experiments.create(definition("xr-full-b"));
    // A stopped one's restart too (second review).
    await startedUnguarded("xr-stopped");
    await as(ana).experiments.stop({ key: "xr-stopped", reason: "paused for now" });
    const restart = await as(ana).approvals.request({ change: { kind: "experiment_restart", key: "xr-stopped", experiment: definition("xr-stopped", { coverage: 0.9 }) }, reason: "back at 90 %" });
    const a = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-full-a" }, reason: "start a" });
    const b = await as(ana).approvals.request({ change: { kind: "experiment_start", key: "xr-full-b" }, reason: "start b" });
    expect([await staleOf(b.id), await staleOf(restart.id)]).toEqual([null, null]);
    expect(await as(cy).approvals.decide({ id: a.id, approve: true, comment: "a first" })).toMatchObject({ status: "applied" });
    // The words the direct lever gives (checkTrafficLeft), not only the list's own.
    const noTraffic = (key: string) => new RegExp(`^experiment "xr-full-a" is running on t-xr with all of its traffic .*: "${key}" would get no traffic\\. Stop "xr-full-a"`);
    expect(await refusedAsListed(b.id, cy)).toMatch(noTraffic("xr-full-b"));
    expect(await refusedAsListed(restart.id, cy)).toMatch(noTraffic("xr-stopped"));
    expect(await status("xr-full-b")).toBe("draft");
    await as(ana).experiments.stop({ key: "xr-full-a", reason: "test over" });
  });
});
