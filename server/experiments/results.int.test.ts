import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { assignVariant } from "../domain/assignment/assign";
import { rerank } from "../rerank/pipeline";
import { surfaceConfigs } from "../surfaces/configCache";
import { telemetry } from "../telemetry/streams";
import { keyedHash } from "../redact";
import { callerAs } from "../testing/callers";
import { abDefinition as definition, experimentLogRow as logRow, flushTelemetry as flush, seedSurfacesOnDemoModel } from "../testing/experiments";
import { experimentLiftOverTime } from "./liftOverTime";
import { experimentResults } from "./results";

// Issue #13 on real PostgreSQL, through the serving path and the rollups the log writer maintains:
// point 1 (the unit is the randomisation unit; multiple exposures), point 2 (SRM with an empty arm)
// and point 3 (a guardrail on a zero baseline).

const caller = () => callerAs(["admin"], "pm@rerank.local");
let candidateIds: string[];




beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-res-session", "t-res-srm", "t-res-guard", "t-res-ctr"]);
  candidateIds = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 20, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
});

describe("CTR counts a unit's clicks up to its impressions", () => {
  it("clicks a client sends on items it never reported shown do not take CTR past 100 % (break test: the executive read 200 %; results counted every click)", async () => {
    await caller().experiments.create(definition("res-ctr", "t-res-ctr"));
    await caller().experiments.start({ key: "res-ctr" });
    await surfaceConfigs().refresh();
    const arms: Record<string, number> = {};
    for (let u = 0; u < 16; u++) {
      const r = await rerank({ surface: "t-res-ctr", topK: 5, userKey: `ctr-user-${u}`, candidates: candidateIds.map((id) => ({ id })) });
      const arm = r.variant!.key;
      arms[arm] = (arms[arm] ?? 0) + 1;
      const [first, second] = r.items;
      // Each unit: one impression; treatment clicks it twice and clicks an item never reported shown; control clicks only unshown items.
      const clicks = arm === "treatment" ? [first!, first!, second!] : [second!, second!];
      await caller().events.record({
        events: [
          { eventId: `${r.requestId}-i`, requestId: r.requestId, type: "impression", itemId: first!.id, position: 1 },
          ...clicks.map((item, i) => ({ eventId: `${r.requestId}-c${i}`, requestId: r.requestId, type: "click" as const, itemId: item.id, position: r.items.indexOf(item) + 1 })),
        ],
      });
    }
    await flush();
    expect(Object.keys(arms).sort()).toEqual(["control", "treatment"]);
    const results = await experimentResults(getDb(), "res-ctr");
    const ctr = results.metrics.find((m) => m.metric === "ctr")!;
    // Each unit's clicks count up to its one impression: treatment 1 (3 clicks), control 1 (2 clicks on an unshown item, as the rollup cannot tell items apart).
    expect(ctr.variants.map((v) => [v.key, v.value])).toEqual([["control", 1], ["treatment", 1]]);
    // Every unit at 100 %: no spread, no comparison in the table, and none on the lift over time, which counts CTR the same way and ends on the table's comparison.
    expect(ctr.comparisons[0]).toMatchObject({ available: false, reason: expect.stringMatching(/^no spread in the control nor in treatment/) });
    expect((await experimentLiftOverTime(getDb(), "res-ctr")).points.at(-1)).toEqual({ hour: expect.any(String) });
  });
});

describe("issue #13, point 1: a session-randomised experiment", () => {
  it("12 sessions of one user, 9 control and 3 treatment, clicks on every treatment request: 12 units, control CTR 0, treatment CTR 1", async () => {
    await caller().experiments.create(definition("res-session", "t-res-session", { hashAttribute: "sessionKey" }));
    await caller().experiments.start({ key: "res-session" });
    await surfaceConfigs().refresh();
    const stored = await getDb().experiment.findUniqueOrThrow({ where: { key: "res-session" }, include: { variants: { orderBy: { position: "asc" } } } });
    const def = {
      key: stored.key, seed: stored.seed, hashVersion: stored.hashVersion as 1 | 2, hashAttribute: "sessionKey" as const, coverage: stored.coverage,
      variants: stored.variants.map((v) => ({ key: v.key, weight: v.weight })), namespace: null, targeting: [], phase: stored.phase,
    };
    // Pick session keys the hash sends 9 to control and 3 to treatment.
    const sessions: Array<{ key: string; arm: string }> = [];
    const wanted: Record<string, number> = { control: 9, treatment: 3 };
    for (let s = 0; sessions.length < 12; s++) {
      const a = assignVariant(def, { sessionKey: `sess-${s}`, attributes: {} });
      if (a.inExperiment && wanted[a.variant]! > 0) {
        wanted[a.variant]!--;
        sessions.push({ key: `sess-${s}`, arm: a.variant });
      }
    }
    for (const s of sessions) {
      const r = await rerank({ surface: "t-res-session", topK: 5, userKey: "one-user", sessionKey: s.key, candidates: candidateIds.map((id) => ({ id })) });
      expect(r.variant?.key).toBe(s.arm);
      const first = r.items[0]!;
      await caller().events.record({
        events: [
          { eventId: `${r.requestId}-i`, requestId: r.requestId, type: "impression", itemId: first.id, position: 1 },
          ...(s.arm === "treatment" ? [{ eventId: `${r.requestId}-c`, requestId: r.requestId, type: "click" as const, itemId: first.id, position: 1 }] : []),
        ],
      });
    }
    await flush();

    const units = await getDb().experimentUnitStat.findMany({ where: { experimentId: stored.id } });
    expect(units).toHaveLength(12);
    // The unit is the session (the hash attribute), kept as its keyed hash like every key in the log.
    const sessionHashes = new Set(sessions.map((s) => keyedHash(s.key)));
    expect(units.every((u) => sessionHashes.has(u.unitKey) && u.requests === 1n && u.impressions === 1n && !u.multipleExposure)).toBe(true);
    const results = await experimentResults(getDb(), "res-session");
    expect(results.variants.map((v) => [v.key, v.units])).toEqual([["control", 9], ["treatment", 3]]);
    const ctr = results.metrics.find((m) => m.metric === "ctr")!;
    expect(ctr.variants.map((v) => [v.key, v.value])).toEqual([["control", 0], ["treatment", 1]]);
    expect(results.multipleExposure.units).toBe(0);
  });

  it("a unit seen in two arms is a multiple exposure: counted, shown, excluded from the metrics", async () => {
    await caller().experiments.create(definition("res-multi", "t-res-session"));
    const e = await getDb().experiment.update({ where: { key: "res-multi" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    for (let u = 0; u < 40; u++) telemetry().requests.enqueue(logRow("res-multi", "t-res-session", `m-${u}`, u % 2 ? "treatment" : "control", 0));
    await flush();
    // The same unit later served the other arm (its key changed arm): in a later batch, and within one batch.
    telemetry().requests.enqueue(logRow("res-multi", "t-res-session", "m-0", "treatment", 1));
    telemetry().requests.enqueue(logRow("res-multi", "t-res-session", "m-x", "control", 0));
    telemetry().requests.enqueue(logRow("res-multi", "t-res-session", "m-x", "treatment", 1));
    await flush();
    const flagged = await getDb().experimentUnitStat.findMany({ where: { experimentId: e.id, multipleExposure: true }, orderBy: { unitKey: "asc" } });
    expect(flagged.map((u) => u.unitKey)).toEqual(["m-0", "m-x"]);
    const results = await experimentResults(getDb(), "res-multi");
    expect(results.multipleExposure.units).toBe(2);
    expect(results.variants.map((v) => v.units)).toEqual([19, 20]);
    expect(results.multipleExposure.warning).toBe(true);
  });
});

describe("issue #13, point 2: the sample-ratio check with an empty arm", () => {
  it("40 vs 0 at 50/50: χ² 40, p 2.5e-10, the verdict blocked", async () => {
    await caller().experiments.create(definition("res-srm", "t-res-srm"));
    await getDb().experiment.update({ where: { key: "res-srm" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    for (let u = 0; u < 40; u++) telemetry().requests.enqueue(logRow("res-srm", "t-res-srm", `s-${u}`, "control", 0));
    await flush();
    const results = await experimentResults(getDb(), "res-srm");
    expect(results.variants.map((v) => v.units)).toEqual([40, 0]);
    expect(results.srm).toMatchObject({ available: true, chiSquare: 40, mismatch: true });
    expect(results.srm.available && results.srm.pValue).toBeCloseTo(2.5396285894708634e-10, 18);
    expect(results.verdict.decision).toBe("blocked");
    expect(results.warnings).toEqual([]);
  });

  it("warns that an experiment on all traffic leaves the surface's shadow nothing to compare (point 8)", async () => {
    await getDb().surface.update({ where: { key: "t-res-srm" }, data: { shadowAlias: "shadow", shadowSampleRate: 0.25 } });
    const results = await experimentResults(getDb(), "res-srm");
    expect(results.warnings).toHaveLength(1);
    expect(results.warnings[0]).toMatch(/the shadow of "shadow" compares nothing/);
  });

  it("blocks shipping while the SRM check fails; an override with a reason ships, and the audit names what was overridden (point 7)", async () => {
    const model = await getDb().model.findUniqueOrThrow({ where: { name: "search-ranker" } });
    const production = async () => (await getDb().modelAlias.findUniqueOrThrow({ where: { modelId_name: { modelId: model.id, name: "production" } } })).versionId;
    const before = await production();
    await expect(caller().experiments.ship({ reason: "test change", key: "res-srm", variant: "treatment" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "ship is blocked: sample-ratio mismatch: the split does not match the weights (χ² = 40.0, p = 2.5e-10). Ship anyway only by overriding the checks, with a reason",
    });
    await expect(caller().experiments.ship({ key: "res-srm", variant: "treatment", override: true } as never)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^reason: /) });
    expect(await production()).toBe(before);
    const shipped = await caller().experiments.ship({ key: "res-srm", variant: "control", override: true, reason: "logging bug on treatment, INC-12" });
    expect(shipped.status).toBe("shipped");
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "experiment.ship", subjectLabel: "res-srm" }, orderBy: { id: "desc" } });
    expect(entry.reason).toBe("override of sample-ratio mismatch: the split does not match the weights (χ² = 40.0, p = 2.5e-10): logging bug on treatment, INC-12");
    // Put production back for the other tests.
    await getDb().modelAlias.update({ where: { modelId_name: { modelId: model.id, name: "production" } }, data: { versionId: before } });
  });
});

describe("issue #13, point 3: a guardrail against a zero baseline", () => {
  it("fallback rate 0/17 vs 7/23 must not rise by 20 %: violated", async () => {
    await caller().experiments.create(definition("res-guard", "t-res-guard", { guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }] }));
    await getDb().experiment.update({ where: { key: "res-guard" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    for (let u = 0; u < 17; u++) telemetry().requests.enqueue(logRow("res-guard", "t-res-guard", `g-c-${u}`, "control", 0));
    for (let u = 0; u < 23; u++) telemetry().requests.enqueue(logRow("res-guard", "t-res-guard", `g-t-${u}`, "treatment", 0, u < 7 ? { fallbackUsed: true, fallbackReason: "timeout" } : {}));
    await flush();
    const results = await experimentResults(getDb(), "res-guard");
    const fallback = results.metrics.find((m) => m.metric === "fallback_rate")!;
    expect(fallback.variants.map((v) => v.value)).toEqual([0, 7 / 23]);
    expect(results.guardrails[0]).toMatchObject({ metric: "fallback_rate", status: "violated" });
    expect(results.guardrails[0]!.checks[0]!.rule).toBe("absolute (zero baseline)");
  });
});
