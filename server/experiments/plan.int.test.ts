import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedSurfacesOnDemoModel } from "../testing/experiments";
import { planSampleSize } from "../domain/stats";
import { planFromRecentTraffic } from "./plan";

// The experiment form's power calculator plans for the engine that will read the result.

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-plan"]);
  // 50 users × 4 requests × 5 impressions = 1,000 impressions; user u clicks the first item of
  // (u mod 3) + 1 requests: 99 clicked impressions, CTR 9.9 %, users differ (1, 2 or 3 clicks).
  const ts = new Date(Date.now() - 3_600_000);
  const data = [];
  for (let u = 0; u < 50; u++) {
    for (let q = 0; q < 4; q++) {
      for (let i = 0; i < 5; i++) {
        const base = { requestTs: ts, requestId: `plan-${u}-${q}`, ts, surface: "t-plan", itemId: `sku-${i}`, position: i + 1, userKey: `user-${u}` };
        data.push({ ...base, eventId: `plan-${u}-${q}-${i}-i`, type: "impression" as const });
        if (i === 0 && q < (u % 3) + 1) data.push({ ...base, eventId: `plan-${u}-${q}-${i}-c`, type: "click" as const });
      }
    }
  }
  await db.outcomeEvent.createMany({ data });
});

describe("planFromRecentTraffic", () => {
  it("plans CTR in users, with the delta method's per-user variance, for the engine that reads it", async () => {
    const input = { surface: "t-plan", minimumDetectableEffect: 0.1, weights: [0.5, 0.5] };
    const sequential = await planFromRecentTraffic(getDb(), input);
    const fixed = await planFromRecentTraffic(getDb(), { ...input, analysisMode: "fixed" });
    const bayesian = await planFromRecentTraffic(getDb(), { ...input, analysisMode: "bayesian" });
    if (!sequential.ready || !fixed.ready || !bayesian.ready) throw new Error("no plan");
    expect(sequential.baselineCtr).toBeCloseTo(0.099, 12);
    // Per user: 20 impressions, clicks 1, 2 or 3 (17, 17, 16 users): sample variance 0.67306, per-unit
    // variance of CTR 0.67306 / 20² = 0.00168265. Fixed horizon, MDE 10 % (0.0099):
    // (1.95996 + 0.84162)² · 2 · 0.00168265 / 0.0099² = 269.4 → 270 users per arm (python, statistics).
    // Read as 1,000 Bernoulli impressions it planned 14,749 "users" — impressions, in the wrong unit.
    expect(fixed.perUnitVariance).toBeCloseTo(0.0016826530612244898, 12);
    expect(fixed).toMatchObject({ analysis: "fixedHorizon", targetUnitsPerVariant: null, unitsPerVariant: [270, 270] });
    expect(bayesian).toMatchObject({ analysis: "fixedHorizon", unitsPerVariant: [270, 270] });
    const planned = planSampleSize({ baseline: { mean: 0.099, variance: 0.0016826530612244898 }, minimumDetectableEffect: 0.1 });
    expect(sequential).toMatchObject({ analysis: "sequential", unitsPerVariant: planned.unitsPerVariant });
    expect(sequential.unitsPerVariant[0]).toBeGreaterThan(270);
  });

  it("plans conversion and revenue from recent purchases per user; NDCG, MRR, fallback rate and latency on the results page", async () => {
    const input = { surface: "t-plan", minimumDetectableEffect: 0.2, weights: [0.5, 0.5], analysisMode: "fixed" as const };
    // No purchase on the surface: conversion has no baseline; the reason says so.
    const conversion = await planFromRecentTraffic(getDb(), { ...input, primaryMetric: "conversion" });
    expect(conversion).toMatchObject({ ready: false, reason: expect.stringMatching(/gives no Conversion to plan from/) });
    for (const metric of ["ndcg", "mrr", "fallback_rate", "latency_p95"]) {
      const plan = await planFromRecentTraffic(getDb(), { ...input, primaryMetric: metric });
      expect(plan).toMatchObject({ ready: false, reason: expect.stringMatching(/planned on the results page from the control's own data/) });
    }
  });
});
