import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedSurfacesOnDemoModel } from "../testing/experiments";
import { planSampleSize } from "../domain/stats";
import { planFromRecentTraffic } from "./plan";

// The experiment form's power calculator plans for the engine that will read the result.

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-plan"]);
  // 50 users × 4 requests × 5 impressions = 1,000 impressions; 100 of them clicked: CTR 10 %.
  const ts = new Date(Date.now() - 3_600_000);
  const data = [];
  for (let u = 0; u < 50; u++) {
    for (let q = 0; q < 4; q++) {
      for (let i = 0; i < 5; i++) {
        const base = { requestTs: ts, requestId: `plan-${u}-${q}`, ts, surface: "t-plan", itemId: `sku-${i}`, position: i + 1, userKey: `user-${u}` };
        data.push({ ...base, eventId: `plan-${u}-${q}-${i}-i`, type: "impression" as const });
        if (i === 0 && q < 2) data.push({ ...base, eventId: `plan-${u}-${q}-${i}-c`, type: "click" as const });
      }
    }
  }
  await db.outcomeEvent.createMany({ data });
});

describe("planFromRecentTraffic", () => {
  it("plans for the sequential engine by default, for the fixed-horizon test when the experiment reads it so", async () => {
    const input = { surface: "t-plan", minimumDetectableEffect: 0.1, weights: [0.5, 0.5] };
    const sequential = await planFromRecentTraffic(getDb(), input);
    const fixed = await planFromRecentTraffic(getDb(), { ...input, analysisMode: "fixed" });
    const bayesian = await planFromRecentTraffic(getDb(), { ...input, analysisMode: "bayesian" });
    if (!sequential.ready || !fixed.ready || !bayesian.ready) throw new Error("no plan");
    expect(sequential.baselineCtr).toBeCloseTo(0.1, 12);
    // CTR 10 %, +10 %: 14,749 units per arm read once by Welch; 28,242 under the mixture SPRT (power.test.ts).
    expect(fixed).toMatchObject({ analysis: "fixedHorizon", targetUnitsPerVariant: null, unitsPerVariant: [14749, 14749] });
    expect(bayesian).toMatchObject({ analysis: "fixedHorizon", unitsPerVariant: [14749, 14749] });
    expect(sequential).toMatchObject({ analysis: "sequential", targetUnitsPerVariant: 28242, unitsPerVariant: [28242, 28242] });
    expect(sequential.unitsPerVariant).toEqual(planSampleSize({ baseline: { proportion: 0.1 }, minimumDetectableEffect: 0.1 }).unitsPerVariant);
  });
});
