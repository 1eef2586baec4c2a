import { beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { rerank } from "../rerank/pipeline";
import { inputSampler } from "../features/inputSampler";
import { telemetry } from "../telemetry/streams";
import { createTestSurface } from "../testing/models";
import { callerAs } from "../testing/callers";
import { readServedList } from "../domain/ranking/servedList";
import { surfaceConfigs } from "../surfaces/configCache";

// Drift from this process's sample of the rows the model scored; freshness against hand
// computations over the served items of the logged requests and their stored feature values.

let ids: string[];
// Every scored row goes to the drift sample here (the sampler is created lazily, after this).
setEnv("DRIFT_ROW_RATE", "1");

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  await createTestSurface(db, { key: "t-health", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  ids = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 8, orderBy: { id: "desc" } })).map((c) => c.id);
  // (The catalog's last items: the serving tests use its first ones.)
  // One item's stored features are 30 days old: past the 7-day freshness limit.
  await db.$executeRaw`UPDATE item_features SET updated_at = now() - interval '30 days' WHERE item_id = ${ids[0]}`;
  for (let i = 0; i < 6; i++) await rerank({ surface: "t-health", topK: 8, candidates: ids.map((id, j) => ({ id, retrievalScore: 1 - j / 8 })) });
  await telemetry().requests.flush();
}, 120_000);

describe("feature health", () => {
  it("weights each served item by how often it was served, and counts stale values", async () => {
    const health = await callerAs(["admin"]).debug.featureHealth({ surface: "t-health", requests: 100 });
    expect(health).toMatchObject({ surface: "t-health", model: "t-health-model v1", requests: 6 });
    const logged = await getDb().rerankRequest.findMany({ where: { surface: "t-health" }, select: { served: true } });
    const servedIds = logged.flatMap((r) => readServedList(r.served).map((s) => s.id));
    expect(servedIds).toHaveLength(48);
    expect(health.items).toBe(new Set(servedIds).size);

    // Every row of the six requests, as the model saw it (the stale item's values replaced by their defaults).
    expect([health.sampledRows, health.offeredRows]).toEqual([48, 48]);
    const stored = await getDb().itemFeature.findMany({ where: { itemId: { in: ids.slice(1) } } });
    const seen = new Set([...stored.map((f) => Math.fround((f.values as Record<string, number>).popularity!)), Math.fround(0.4)]);
    const popularity = health.features.find((f) => f.feature === "popularity")!;
    expect(popularity.serving!.count).toBe(48);
    expect(popularity.training).toEqual({ mean: expect.any(Number), std: expect.any(Number) });
    // 48 rows are too few for a PSI.
    expect(popularity.serving).toMatchObject({ psi: null, level: "unknown" });
    const sample = inputSampler().sample("t-health", (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-health-model" } } })).id)!;
    for (const v of sample.columns.get("popularity")!) expect(seen.has(v)).toBe(true);
    const staleServed = servedIds.filter((id) => id === ids[0]).length;
    expect(staleServed).toBe(6);
    expect(popularity.staleShare).toBeCloseTo(staleServed / 48, 9);
    expect(health.ages!.max).toBeGreaterThan(29 * 86_400);
    // A candidate-sourced feature is sampled too, but has no stored value to be stale.
    expect(health.features.find((f) => f.feature === "retrieval_score")).toMatchObject({ source: "candidate", staleShare: null, serving: { count: 48 } });
  });

  it("gives a PSI once the sample is large enough", async () => {
    for (let i = 0; i < 30; i++) await rerank({ surface: "t-health", topK: 8, candidates: ids.map((id, j) => ({ id, retrievalScore: 1 - j / 8 })) });
    const health = await callerAs(["admin"]).debug.featureHealth({ surface: "t-health", requests: 100 });
    const popularity = health.features.find((f) => f.feature === "popularity")!;
    expect(popularity.serving!.count).toBe(288);
    expect(popularity.serving!.psi).toBeGreaterThanOrEqual(0);
    expect(popularity.serving!.level).not.toBe("unknown");
  });

  it("bins float32 serving values against the spec's double values: an unchanged discrete feature is stable (break test: psi 17.32, p 0, alert)", async () => {
    const db = getDb();
    const categories = { mean: 0.2, std: 0.0816, min: 0.1, max: 0.3, kind: "categories" as const, values: [0.1, 0.2, 0.3], shares: [0.3334, 0.3333, 0.3333] };
    const spec = demoFeatureSpec().map((f) => (f.name === "retrieval_score" ? { ...f, distribution: categories } : f));
    await createTestSurface(db, { key: "t-health-cat", bytes: demoModelBytes("linear"), featureSpec: spec });
    // 15 requests of 8 candidates, retrieval scores evenly from {0.1, 0.2, 0.3}: 120 rows, all sampled.
    for (let i = 0; i < 15; i++) await rerank({ surface: "t-health-cat", topK: 8, candidates: ids.map((id, j) => ({ id, retrievalScore: [0.1, 0.2, 0.3][(i + j) % 3]! })) });
    const health = await callerAs(["admin"]).debug.featureHealth({ surface: "t-health-cat", requests: 100 });
    const retrieval = health.features.find((f) => f.feature === "retrieval_score")!;
    expect(retrieval.serving!.count).toBe(120);
    expect(retrieval.serving!.psi!).toBeLessThan(0.01);
    expect(retrieval.serving!.level).toBe("stable");
  });

  it("reads the freshness of what the serving model served: fallback rows are not its requests (break test: a kill switch's retrieval-order rows filled the sample)", async () => {
    const db = getDb();
    const before = await callerAs(["admin"]).debug.featureHealth({ surface: "t-health", requests: 100 });
    // The kill switch on: 20 requests served in retrieval order (fallback), newer than every scored one.
    await db.surface.update({ where: { key: "t-health" }, data: { killSwitch: true } });
    await surfaceConfigs().refresh();
    try {
      // Each serves only the stale item: counted, they would raise its stale share.
      for (let i = 0; i < 20; i++) expect((await rerank({ surface: "t-health", topK: 1, candidates: [{ id: ids[0]!, retrievalScore: 1 }] })).fallback.used).toBe(true);
      await telemetry().requests.flush();
    } finally {
      await db.surface.update({ where: { key: "t-health" }, data: { killSwitch: false } });
      await surfaceConfigs().refresh();
    }
    // The 36 scored requests are still the sample, however many newer fallback rows there are.
    const after = await callerAs(["admin"]).debug.featureHealth({ surface: "t-health", requests: 100 });
    expect(before.requests).toBe(36);
    expect(after.requests).toBe(36);
    expect(after.items).toBe(before.items);
    expect(after.features.find((f) => f.feature === "popularity")!.staleShare).toBeCloseTo(before.features.find((f) => f.feature === "popularity")!.staleShare!, 12);
  });
});
