import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createCaller } from "../routers/_app";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { createTestSurface } from "../testing/models";
import { createContext } from "../trpc";

// Drift and freshness against hand computations over the same rows: the served items of the
// logged requests, each counted as often as it was served, and their stored feature values.

let ids: string[];

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  await createTestSurface(db, { key: "t-health", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  ids = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 8, orderBy: { id: "asc" } })).map((c) => c.id);
  // One item's stored features are 30 days old: past the 7-day freshness limit.
  await db.$executeRaw`UPDATE item_features SET updated_at = now() - interval '30 days' WHERE item_id = ${ids[0]}`;
  for (let i = 0; i < 6; i++) await rerank({ surface: "t-health", topK: 8, candidates: ids.map((id, j) => ({ id, retrievalScore: 1 - j / 8 })) });
  await telemetry().requests.flush();
}, 120_000);

describe("feature health", () => {
  it("weights each served item by how often it was served, and counts stale values", async () => {
    const health = await createCaller(createContext()).debug.featureHealth({ surface: "t-health", requests: 100 });
    expect(health).toMatchObject({ surface: "t-health", model: "t-health-model v1", requests: 6 });
    const logged = await getDb().rerankRequest.findMany({ where: { surface: "t-health" }, select: { served: true } });
    const servedIds = logged.flatMap((r) => (r.served as Array<{ id: string }>).map((s) => s.id));
    expect(servedIds).toHaveLength(48);
    expect(health.items).toBe(new Set(servedIds).size);

    const stored = new Map((await getDb().itemFeature.findMany({ where: { itemId: { in: servedIds } } })).map((f) => [f.itemId, f.values as Record<string, number>]));
    const popularity = health.features.find((f) => f.feature === "popularity")!;
    const expectedMean = servedIds.reduce((s, id) => s + stored.get(id)!.popularity!, 0) / servedIds.length;
    expect(popularity.serving!.count).toBe(48);
    expect(popularity.serving!.mean).toBeCloseTo(expectedMean, 9);
    expect(popularity.training).toEqual({ mean: expect.any(Number), std: expect.any(Number) });
    expect(popularity.serving!.psi).toBeGreaterThanOrEqual(0);
    const staleServed = servedIds.filter((id) => id === ids[0]).length;
    expect(staleServed).toBe(6);
    expect(popularity.staleShare).toBeCloseTo(staleServed / 48, 9);
    expect(health.ages!.max).toBeGreaterThan(29 * 86_400);
    // A candidate-sourced feature has no stored values to compare.
    expect(health.features.find((f) => f.feature === "retrieval_score")).toMatchObject({ source: "candidate", serving: null });
  });
});
