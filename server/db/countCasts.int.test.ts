import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "./client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { executiveOverview } from "../executive/service";
import { experimentResults } from "../experiments/results";
import { rerank } from "../rerank/pipeline";
import { listRollouts } from "../rollouts/service";
import { telemetry } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition, experimentLogRow, flushTelemetry, seedSurfacesOnDemoModel } from "../testing/experiments";
import { createTestSurface } from "../testing/models";

// The counts of the Executive page, the experiment results and the rollout judge are read as
// float8, not int: count() is bigint and `::int` fails with 22003 past 2,147,483,647 rows (break
// test 2026-12). A table that large is out of reach here; these run every changed query on real
// PostgreSQL and check each count comes back a JS number (not a bigint, not a string) with the
// value counted by hand. countCasts.test.ts keeps int casts of counts out of server/.

const isCount = (v: unknown, expected: number) => {
  expect(typeof v).toBe("number");
  expect(v).toBe(expected);
};

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-cc-exp", "t-cc-il"]);
  await createTestSurface(db, { key: "t-cc-roll", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("candidate")] });
}, 120_000);

describe("counts read as float8 come back as numbers", () => {
  it("the Executive page: requests, units, impressions and clicks", async () => {
    const db = getDb();
    const ts = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < 3; i++) {
      await db.$executeRaw`INSERT INTO rerank_requests (request_id, ts, surface, user_key, candidate_count, top_k, served, latency_ms)
        VALUES (${`cc-exec-${i}`}, ${ts}, 't-cc-roll', ${`u${i % 2}`}, 10, 5, '[]'::jsonb, 1.5)`;
      await db.$executeRaw`INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
        VALUES (${`cc-exec-imp-${i}`}, ${ts}, ${`cc-exec-${i}`}, ${ts}, 't-cc-roll', 'impression'::"OutcomeType", 'sku-00001', NULL)`;
    }
    await db.$executeRaw`INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
      VALUES ('cc-exec-click', ${ts}, 'cc-exec-0', ${ts}, 't-cc-roll', 'click'::"OutcomeType", 'sku-00001', NULL)`;
    await db.$executeRaw`INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, revenue)
      VALUES ('cc-exec-buy', ${ts}, 'cc-exec-0', ${ts}, 't-cc-roll', 'purchase'::"OutcomeType", 'sku-00001', 10)`;
    const s = (await executiveOverview(db, { days: 7 })).surfaces.find((x) => x.key === "t-cc-roll")!;
    isCount(s.current.requests, 3);
    isCount(s.current.units, 2);
    expect(s.current.ctr).toBeCloseTo(1 / 3, 12); // 1 click ÷ 3 impressions
    expect(s.current.conversion).toBe(0.5); // 1 converted unit of 2
  });

  it("experiment results: units, multiple exposures, conversions, served models' requests, and an interleaving experiment's requests", async () => {
    const pm = callerAs(["admin"], "pm@rerank.local");
    await pm.experiments.create(abDefinition("cc-ab", "t-cc-exp"));
    await getDb().experiment.update({ where: { key: "cc-ab" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    for (let u = 0; u < 6; u++) telemetry().requests.enqueue(experimentLogRow("cc-ab", "t-cc-exp", `cc-${u}`, u % 2 ? "treatment" : "control", 0));
    await flushTelemetry();
    const ab = await experimentResults(getDb(), "cc-ab");
    for (const v of ab.variants) isCount(v.units, 3);
    expect(ab.multipleExposure.units).toBe(0);
    for (const v of ab.variants) for (const s of v.served) expect(typeof s.requests).toBe("number");

    await pm.experiments.create({
      key: "cc-il", name: "interleaved", surface: "t-cc-il", kind: "interleaving", owner: "pm@rerank.local",
      variants: [{ key: "a", name: "A", weight: 0.5, isControl: true, modelAlias: "fallback" }, { key: "b", name: "B", weight: 0.5, modelAlias: "production" }],
    } as Parameters<typeof pm.experiments.create>[0]);
    await getDb().experiment.update({ where: { key: "cc-il" }, data: { status: "running", phase: 1, startedAt: new Date() } });
    for (let u = 0; u < 4; u++) telemetry().requests.enqueue(experimentLogRow("cc-il", "t-cc-il", `il-${u}`, "interleaved", 0));
    await flushTelemetry();
    const il = await experimentResults(getDb(), "cc-il");
    isCount(il.interleaving!.requests, 4);
    isCount(il.interleaving!.competitive, 0);
  });

  it("a rollout's live figures: requests, fallbacks, impressions and clicks per arm", async () => {
    await callerAs(["ml_engineer", "oncall"], "ml@rerank.local").rollouts.start({ surface: "t-cc-roll", version: 4, steps: [50], reason: "count types" });
    const items = await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 10, orderBy: { id: "asc" } });
    for (let u = 0; u < 12; u++) await rerank({ surface: "t-cc-roll", topK: 5, userKey: `cc-roll-${u}`, candidates: items });
    await telemetry().requests.flush();
    const live = (await listRollouts(getDb(), { surface: "t-cc-roll", limit: 1 }))[0]!.live!;
    for (const arm of [live.canary, live.baseline]) for (const v of Object.values(arm)) expect(typeof v).toBe("number");
    isCount(live.canary.requests + live.baseline.requests, 12);
    isCount(live.canary.fallbacks + live.baseline.fallbacks, 0);
  });
});
